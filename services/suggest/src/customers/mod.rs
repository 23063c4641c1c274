//! ListCustomers: the customers of a filter with their RFM, churn risk and
//! model scores, sorted and filtered. The suggest service answers it because
//! it holds all three: the customer days, the churn rule and the fit.

mod order;
mod warm;

use std::sync::Arc;

use portrait_core::memory::{CustomerBook, CustomerState, Selection};
use portrait_core::{
    Calendar, CustomerAgg, Day, ResolvedFilter, Rfm, RfmParams, Segment, ThresholdRule,
    churn_warning, mask_customer_id, next_page_token, page_size, page_start, rfm_table,
};
use portrait_proto::v1::{
    Channel, CustomerListItem, CustomerOrder, ListCustomersRequest, ListCustomersResponse, Priority,
};
use portrait_service::exchange::Borrowed;
use portrait_service::{AnswerCache, CustomerProjection, QueryContext, Result};

use crate::exchange::LabelBook;
use crate::models::{Models, Score};
use order::{Ordered, Ranks, packed, primary, tier};

/// A list's order and selection: (filter, (order, ascending, depth tier),
/// (segment, at risk, cluster, main channel), id prefix, (the fit's time in
/// ms, the labels' generation)).
pub(crate) type OrderKey = (
    ResolvedFilter,
    (i32, bool, u32),
    (i32, bool, i32, i32),
    String,
    (i64, String),
);

/// One customer of a filter: the figures every order and selection needs.
/// A list caches one per customer of its filter (a million for the whole
/// chain), so it holds the aggregate and what RFM and the churn rule made of
/// it, not their full records: 48 bytes, where the records took 88.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) agg: CustomerAgg,
    /// Days from the last order to the filter's as-of day.
    recency: i32,
    /// R, F and M scores.
    pub(crate) scores: [u8; 3],
    pub(crate) segment: Segment,
    /// The churn rule's priority when it warns (`churn_warning`).
    pub(crate) risk: Option<Priority>,
}

impl Row {
    pub(crate) fn new(agg: CustomerAgg, rfm: &Rfm, as_of: Day) -> Self {
        Self {
            risk: churn_warning(&agg, as_of).map(|w| w.priority),
            recency: i32::try_from(rfm.recency_days).unwrap_or(i32::MAX),
            scores: [rfm.r_score, rfm.f_score, rfm.m_score],
            segment: rfm.segment,
            agg,
        }
    }

    pub(crate) fn recency_days(&self) -> i64 {
        self.recency.into()
    }

    /// The mean days between orders that the churn rule judged by, for a
    /// customer it warns about (0 for others).
    pub(crate) fn mean_gap_days(&self) -> f64 {
        let gaps = self.agg.orders - 1;
        match self.risk {
            Some(_) if gaps > 0 => {
                (i64::from(self.agg.last_day) - i64::from(self.agg.first_day)) as f64 / gaps as f64
            }
            _ => 0.0,
        }
    }
}

/// The customers with an order at the selected stores in `[from, to)`, by
/// dense id, with their RFM as of `as_of` and the churn rule.
pub(crate) fn rows_of(
    book: &CustomerBook,
    sel: &Selection,
    (from, to, as_of): (Option<Day>, Day, Day),
    thresholds: ThresholdRule,
) -> Vec<Row> {
    let aggs = book.aggs(sel, from, to);
    let table = rfm_table(&aggs, as_of, thresholds);
    (aggs.into_iter().zip(&table.customers))
        .map(|(agg, rfm)| Row::new(agg, rfm, as_of))
        .collect()
}

/// The customer lists of one service.
pub struct CustomerList {
    pub(crate) projection: Arc<CustomerProjection>,
    pub(crate) ctx: QueryContext,
    pub(crate) models: Arc<Models>,
    /// The profiler's clusters and main channels.
    pub(crate) labels: Arc<LabelBook>,
    pub(crate) rows: AnswerCache<ResolvedFilter, Vec<Row>>,
    /// A selection's positions in `rows`, as deep in its order as asked.
    pub(crate) orders: AnswerCache<OrderKey, Ordered>,
    pub(crate) ranks: Ranks,
    /// The lists kept computed in the background.
    pub(crate) recent: warm::Recent,
    /// `rfm.*` from the configuration (validated at start).
    pub(crate) rfm: RfmParams,
}

impl CustomerList {
    /// Every customer of the filter, by dense id, once per state version.
    pub(crate) fn rows(
        &self,
        state: &CustomerState,
        version: u64,
        f: &ResolvedFilter,
    ) -> Arc<Vec<Row>> {
        self.rows.get_or(f, version, || {
            let sel = state.stores.select(f);
            // The configured rfm.* window and thresholds, as ListRfm applies
            // them when a request names none: the same segments.
            let (from, to) = self.rfm.clip(f.from, f.to, f.as_of);
            rows_of(&state.book, &sel, (from, to, f.as_of), self.rfm.thresholds)
        })
    }

    pub fn list(&self, req: &ListCustomersRequest) -> Result<ListCustomersResponse> {
        let answer = self.answer(req)?;
        self.recent.asked(req);
        Ok(answer)
    }

    fn answer(&self, req: &ListCustomersRequest) -> Result<ListCustomersResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let order = CustomerOrder::try_from(req.order_by).map_err(|_| invalid("order_by"))?;
        let segment = match req.segment {
            0 => None,
            s => Some(
                (Segment::ALL.iter().copied())
                    .find(|x| *x as i32 == s)
                    .ok_or_else(|| invalid("segment"))?,
            ),
        };
        self.ctx.id_text("id_prefix", &req.id_prefix)?;
        let f = self.ctx.resolve(req.filter.as_ref())?;
        // One version throughout: the cached order indexes that version's rows.
        let (state, version) = self.projection.live.read();
        let labels = self.labels.current(self.projection.live.incarnation());
        let (cluster, channel) = selected_labels(req, &labels)?;
        let rows = self.rows(&state, version, &f);
        let served = self.models.served();
        let score = |c: u32| served.as_ref().and_then(|s| s.score(c));
        let names = state.book.customers();
        // The selection in order as deep as this page, once per state
        // version, fit and labels: a later page of the same depth is a slice.
        let fit = served
            .as_ref()
            .map_or(0, |s| s.fitted_at.timestamp_millis());
        let ascending = req.ascending && order != CustomerOrder::CustomerId;
        let key = (
            f.clone(),
            (
                normal(order) as i32,
                ascending,
                tier(start.saturating_add(size)),
            ),
            (req.segment, req.at_risk, req.cluster, req.main_channel),
            req.id_prefix.clone(),
            (fit, labels.generation.clone()),
        );
        let ordered = self.orders.get_or(&key, version, || {
            let rank = self.ranks.of(names);
            let keyed: Vec<(u128, u32)> = (rows.iter().enumerate())
                .filter(|(_, r)| segment.is_none_or(|s| r.segment == s))
                .filter(|(_, r)| !req.at_risk || r.risk.is_some())
                .filter(|(_, r)| {
                    let (c, m) = labels.of(r.agg.customer);
                    cluster.is_none_or(|x| x == c) && channel.is_none_or(|x| x == m)
                })
                .filter(|(_, r)| {
                    req.id_prefix.is_empty()
                        || names.name(r.agg.customer).starts_with(&req.id_prefix)
                })
                .map(|(i, r)| {
                    let first = primary(order, ascending, r, score(r.agg.customer));
                    (packed(first, rank[r.agg.customer as usize]), i as u32)
                })
                .collect();
            order::order(keyed, key.1.2)
        });
        let total = ordered.positions.len();
        let end = start.saturating_add(size).min(ordered.sorted);
        let picked: Vec<(&Row, Option<Score>)> = (ordered.positions.get(start..end))
            .unwrap_or_default()
            .iter()
            .map(|&i| {
                let r = &rows[i as usize];
                (r, score(r.agg.customer))
            })
            .collect();
        let customers: Vec<CustomerListItem> = (picked.iter())
            .map(|(r, s)| item(names.name(r.agg.customer), r, *s, &labels))
            .collect();
        let next = start + customers.len();
        Ok(ListCustomersResponse {
            customers,
            next_page_token: next_page_token(next, total),
            total: total as i64,
            filter: Some(f.applied()),
            labels_generation: labels.generation.clone(),
        })
    }
}

/// The cluster and main channel a request selects (`None`: any), refused
/// when unknown or before any labels arrived.
fn selected_labels(
    req: &ListCustomersRequest,
    labels: &Borrowed<(u8, u8)>,
) -> Result<(Option<u8>, Option<u8>)> {
    let cluster = match req.cluster {
        0 => None,
        c => Some(u8::try_from(c).map_err(|_| invalid("cluster"))?),
    };
    let channel = match Channel::try_from(req.main_channel) {
        Ok(Channel::Unspecified) => None,
        Ok(c) => Some(c as u8),
        Err(_) => return Err(invalid("main_channel")),
    };
    if (cluster.is_some() || channel.is_some()) && labels.generation.is_empty() {
        return Err(portrait_service::Error::NotReady(
            "no clusters or main channels have arrived from the profiler yet".into(),
        ));
    }
    Ok((cluster, channel))
}

pub(crate) fn item(
    id: &str,
    r: &Row,
    score: Option<Score>,
    labels: &Borrowed<(u8, u8)>,
) -> CustomerListItem {
    let (cluster, main_channel) = labels.of(r.agg.customer);
    CustomerListItem {
        cluster: cluster.into(),
        main_channel: main_channel.into(),
        customer_id: id.to_owned(),
        masked_customer_id: mask_customer_id(id),
        first_order_date: Calendar::format_day(r.agg.first_day),
        last_order_date: Calendar::format_day(r.agg.last_day),
        recency_days: r.recency_days(),
        orders: r.agg.orders,
        spend_fen: r.agg.revenue,
        segment: r.segment as i32,
        r_score: r.scores[0].into(),
        f_score: r.scores[1].into(),
        m_score: r.scores[2].into(),
        risk: r.risk.unwrap_or(Priority::Unspecified) as i32,
        scored: score.is_some(),
        alive_probability: score.map_or(0.0, |s| s.alive_probability),
        predicted_clv_fen: score.map_or(0.0, |s| f64::from(s.predicted_clv_fen)),
    }
}

fn invalid(field: &str) -> portrait_service::Error {
    portrait_core::Error::invalid(field, "unknown or out of range").into()
}

/// Unspecified is spend: one cache entry for both.
fn normal(order: CustomerOrder) -> CustomerOrder {
    match order {
        CustomerOrder::Unspecified => CustomerOrder::Spend,
        o => o,
    }
}

#[cfg(test)]
mod tests {
    /// A list caches a row per customer of its filter: a growing row costs
    /// a million times its growth at the whole chain.
    #[test]
    fn a_row_stays_small() {
        assert!(size_of::<super::Row>() <= 48, "{}", size_of::<super::Row>());
    }
}

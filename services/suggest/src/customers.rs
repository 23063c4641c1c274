//! ListCustomers: the customers of a filter with their RFM, churn risk and
//! model scores, sorted and filtered. The suggest service answers it because
//! it holds all three: the customer days, the churn rule and the fit.

use std::cmp::Ordering;
use std::sync::Arc;

use portrait_core::{
    Calendar, ChurnWarning, CustomerAgg, ResolvedFilter, Rfm, RfmParams, Segment, churn_warning,
    mask_customer_id, next_page_token, page_size, page_start, rfm_table,
};
use portrait_proto::v1::{
    Channel, CustomerListItem, CustomerOrder, ListCustomersRequest, ListCustomersResponse, Priority,
};
use portrait_service::{AnswerCache, CustomerProjection, QueryContext, Result};

use portrait_service::exchange::Borrowed;

use crate::exchange::LabelBook;
use crate::models::{Models, Score};

/// A list's order and selection: (filter, (order, ascending), (segment,
/// at risk, cluster, main channel), id prefix, (the fit's time in ms, the
/// labels' generation)).
pub(crate) type OrderKey = (
    ResolvedFilter,
    (i32, bool),
    (i32, bool, i32, i32),
    String,
    (i64, String),
);

/// Above this many customers a list's ties are broken by rank, not by text.
const RANKED_ABOVE: usize = 20_000;

/// One customer of a filter: the figures every order and selection needs.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    agg: CustomerAgg,
    rfm: Rfm,
    risk: Option<ChurnWarning>,
}

/// The customer lists of one service.
pub struct CustomerList {
    pub(crate) projection: Arc<CustomerProjection>,
    pub(crate) ctx: QueryContext,
    pub(crate) models: Arc<Models>,
    /// The profiler's clusters and main channels.
    pub(crate) labels: Arc<LabelBook>,
    pub(crate) rows: AnswerCache<ResolvedFilter, Vec<Row>>,
    /// A selection's positions in `rows`, in its order.
    pub(crate) orders: AnswerCache<OrderKey, Vec<u32>>,
    /// `rfm.*` from the configuration (validated at start).
    pub(crate) rfm: RfmParams,
}

impl CustomerList {
    /// Every customer of the filter, by dense id, once per state version.
    fn rows(&self, f: &ResolvedFilter) -> Arc<Vec<Row>> {
        let (state, version) = self.projection.live.read();
        self.rows.get_or(f, version, || {
            let sel = state.stores.select(f);
            // The configured rfm.* window and thresholds, as ListRfm applies
            // them when a request names none: the same segments.
            let (from, to) = self.rfm.clip(f.from, f.to, f.as_of);
            let aggs = state.book.aggs(&sel, from, to);
            let table = rfm_table(&aggs, f.as_of, self.rfm.thresholds);
            (aggs.into_iter().zip(table.customers))
                .map(|(agg, rfm)| Row {
                    risk: churn_warning(&agg, f.as_of),
                    agg,
                    rfm,
                })
                .collect()
        })
    }

    pub fn list(&self, req: &ListCustomersRequest) -> Result<ListCustomersResponse> {
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
        let labels = self.labels.current();
        let (cluster, channel) = selected_labels(req, &labels)?;
        let f = self.ctx.resolve(req.filter.as_ref())?;
        let rows = self.rows(&f);
        let served = self.models.served();
        let score = |c: u32| served.as_ref().and_then(|s| s.score(c));
        let (state, version) = self.projection.live.read();
        let names = state.book.customers();
        // The whole selection in order, once per state version and fit: a
        // page is then a slice.
        let fit = served
            .as_ref()
            .map_or(0, |s| s.fitted_at.timestamp_millis());
        let key = (
            f.clone(),
            (order as i32, req.ascending),
            (req.segment, req.at_risk, req.cluster, req.main_channel),
            req.id_prefix.clone(),
            (fit, labels.generation.clone()),
        );
        let positions = self.orders.get_or(&key, version, || {
            let mut picked: Vec<(u32, &Row, Option<Score>)> = (rows.iter().enumerate())
                .filter(|(_, r)| segment.is_none_or(|s| r.rfm.segment == s))
                .filter(|(_, r)| !req.at_risk || r.risk.is_some())
                .filter(|(_, r)| {
                    let (c, m) = labels.of(r.agg.customer);
                    cluster.is_none_or(|x| x == c) && channel.is_none_or(|x| x == m)
                })
                .filter(|(_, r)| {
                    req.id_prefix.is_empty()
                        || names.name(r.agg.customer).starts_with(&req.id_prefix)
                })
                .map(|(i, r)| (i as u32, r, score(r.agg.customer)))
                .collect();
            // Ties go by id text. For a large selection each customer's rank in
            // name order makes that an integer comparison (string ones cost
            // most of a sort); ranking every customer costs more than a small
            // selection's sort.
            let rank = if picked.len() > RANKED_ABOVE {
                name_ranks(names)
            } else {
                Vec::new()
            };
            let tie = |a: u32, b: u32| match rank.is_empty() {
                true => names.name(a).cmp(names.name(b)),
                false => rank[a as usize].cmp(&rank[b as usize]),
            };
            picked.sort_unstable_by(|(_, r, s), (_, q, t)| {
                let by = match order {
                    CustomerOrder::Unspecified | CustomerOrder::Spend => {
                        q.agg.revenue.cmp(&r.agg.revenue)
                    }
                    CustomerOrder::Recency => r.rfm.recency_days.cmp(&q.rfm.recency_days),
                    CustomerOrder::Frequency => q.agg.orders.cmp(&r.agg.orders),
                    CustomerOrder::PredictedClv => best_first(
                        s.map(|x| f64::from(x.predicted_clv_fen)),
                        t.map(|x| f64::from(x.predicted_clv_fen)),
                    ),
                    CustomerOrder::AliveProbability => best_first(
                        s.map(|x| x.alive_probability),
                        t.map(|x| x.alive_probability),
                    ),
                    CustomerOrder::CustomerId => Ordering::Equal,
                };
                let by = if req.ascending { by.reverse() } else { by };
                by.then_with(|| tie(r.agg.customer, q.agg.customer))
            });
            picked.into_iter().map(|(i, _, _)| i).collect()
        });
        let total = positions.len();
        let picked: Vec<(&Row, Option<Score>)> = (positions.iter().skip(start).take(size))
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

/// Each dense id's position in name (byte) order.
fn name_ranks(names: &portrait_core::memory::Interner) -> Vec<u32> {
    let mut rank = vec![0_u32; names.len()];
    for (i, (_, c)) in names.sorted().enumerate() {
        rank[c as usize] = i as u32;
    }
    rank
}

/// Larger first; a missing score after every present one.
fn best_first(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
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

fn item(id: &str, r: &Row, score: Option<Score>, labels: &Borrowed<(u8, u8)>) -> CustomerListItem {
    let (cluster, main_channel) = labels.of(r.agg.customer);
    CustomerListItem {
        cluster: cluster.into(),
        main_channel: main_channel.into(),
        customer_id: id.to_owned(),
        masked_customer_id: mask_customer_id(id),
        first_order_date: Calendar::format_day(r.agg.first_day),
        last_order_date: Calendar::format_day(r.agg.last_day),
        recency_days: r.rfm.recency_days,
        orders: r.agg.orders,
        spend_fen: r.agg.revenue,
        segment: r.rfm.segment as i32,
        r_score: r.rfm.r_score.into(),
        f_score: r.rfm.f_score.into(),
        m_score: r.rfm.m_score.into(),
        risk: r
            .risk
            .as_ref()
            .map_or(Priority::Unspecified, |w| w.priority) as i32,
        scored: score.is_some(),
        alive_probability: score.map_or(0.0, |s| s.alive_probability),
        predicted_clv_fen: score.map_or(0.0, |s| f64::from(s.predicted_clv_fen)),
    }
}

fn invalid(field: &str) -> portrait_service::Error {
    portrait_core::Error::invalid(field, "unknown or out of range").into()
}

#[cfg(test)]
mod tests {
    use portrait_core::memory::Interner;

    use super::name_ranks;

    #[test]
    fn ranks_follow_the_ids_byte_order() {
        let mut names = Interner::default();
        let ids = ["c-10", "c-2", "C-9", "c-1", "wx:中", "vip:5"];
        for id in ids {
            names.intern(id);
        }
        let rank = name_ranks(&names);
        let mut by_rank: Vec<&str> = ids.to_vec();
        by_rank.sort_by_key(|id| rank[names.get(id).unwrap_or(0) as usize]);
        let mut by_bytes = ids.to_vec();
        by_bytes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(by_rank, by_bytes);
    }
}

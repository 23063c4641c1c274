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
    CustomerListItem, CustomerOrder, ListCustomersRequest, ListCustomersResponse, Priority,
};
use portrait_service::{AnswerCache, CustomerProjection, QueryContext, Result};

use crate::models::{Models, Score};

/// A list's order and selection: (filter, (order, ascending), (segment,
/// at risk), id prefix, the fit's time in ms).
pub(crate) type OrderKey = (ResolvedFilter, (i32, bool), (i32, bool), String, i64);

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
        if req.id_prefix.len() > 128 {
            return Err(invalid("id_prefix"));
        }
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
            (req.segment, req.at_risk),
            req.id_prefix.clone(),
            fit,
        );
        let positions = self.orders.get_or(&key, version, || {
            // Ties go by id text; each customer's rank in name order makes
            // that an integer comparison (a string one cost most of a sort).
            let mut rank = vec![0_u32; names.len()];
            for (i, (_, c)) in names.sorted().enumerate() {
                rank[c as usize] = i as u32;
            }
            let mut picked: Vec<(u32, &Row, Option<Score>)> = (rows.iter().enumerate())
                .filter(|(_, r)| segment.is_none_or(|s| r.rfm.segment == s))
                .filter(|(_, r)| !req.at_risk || r.risk.is_some())
                .filter(|(_, r)| {
                    req.id_prefix.is_empty()
                        || names.name(r.agg.customer).starts_with(&req.id_prefix)
                })
                .map(|(i, r)| (i as u32, r, score(r.agg.customer)))
                .collect();
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
                by.then_with(|| rank[r.agg.customer as usize].cmp(&rank[q.agg.customer as usize]))
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
            .map(|(r, s)| item(names.name(r.agg.customer), r, *s))
            .collect();
        let next = start + customers.len();
        Ok(ListCustomersResponse {
            customers,
            next_page_token: next_page_token(next, total),
            total: total as i64,
            filter: Some(f.applied()),
        })
    }
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

fn item(id: &str, r: &Row, score: Option<Score>) -> CustomerListItem {
    CustomerListItem {
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

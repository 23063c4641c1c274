//! The portrait summary by city, store, RFM segment, cluster, channel or hour
//! band: one pass over the selected stores' customers
//! (`CustomerBook::group_figures`; channels and hour bands from the tags of
//! the book's rows). Cached per filter, dimension and version.

use std::collections::BTreeMap;

use portrait_core::memory::{GroupFigures, Selection};
use portrait_core::{Error as DomainError, ResolvedFilter, Segment, rfm_table};
use portrait_proto::v1::{
    PortraitSummary, PortraitSummaryRequest, RfmThresholds, SummaryDimension, SummaryGroup,
};
use portrait_service::Result;

use crate::patterns::by_order::{order_group, order_keys};
use crate::patterns::sql::Scope;
use crate::projection::State;
use crate::queries::Profiler;

/// Which of a row's owners names its group.
#[derive(Clone, Copy)]
enum By {
    Customer,
    Store,
    Order,
}

/// (key, label, city) of each group, and its index.
pub(crate) type Keys = BTreeMap<(String, String, String), usize>;

impl Profiler {
    pub async fn summary(&self, req: &PortraitSummaryRequest) -> Result<PortraitSummary> {
        let dimension = match SummaryDimension::try_from(req.dimension) {
            Ok(SummaryDimension::Unspecified) => SummaryDimension::City,
            Ok(d) => d,
            Err(_) => {
                let reason = format!("unknown dimension {}", req.dimension);
                return Err(DomainError::invalid("dimension", reason).into());
            }
        };
        self.with(req.filter.as_ref(), |s, f, sel, version| {
            let clusters = match dimension {
                SummaryDimension::Cluster => self.clusters.generation(),
                _ => 0,
            };
            let scores = self.scores.current(self.projection.live.incarnation());
            let key = (
                f.clone(),
                dimension as i32,
                clusters,
                scores.generation.clone(),
            );
            let answer = self.summaries.get_or(&key, version, || {
                let mut keys = Keys::new();
                // A customer's group (segments, clusters), a store's (cities,
                // stores) or an order's (channels, hour bands).
                let (by, of) = match dimension {
                    SummaryDimension::Segment => {
                        (By::Customer, self.segments_of(s, f, &mut keys).0)
                    }
                    SummaryDimension::Cluster => (By::Customer, self.clusters_of(&mut keys)),
                    SummaryDimension::Channel | SummaryDimension::HourBand => {
                        order_keys(dimension, &mut keys);
                        (By::Order, Vec::new())
                    }
                    _ => (By::Store, stores_of(s, sel, dimension, &mut keys)),
                };
                let group_of = |c: u32, store: u32, tag| match by {
                    By::Customer => of.get(c as usize).copied().flatten(),
                    By::Store => of.get(store as usize).copied().flatten(),
                    By::Order => order_group(dimension, tag),
                };
                let span = (f.from, f.to, f.as_of);
                let clv = |c: u32| Some(scores.of(c).0).filter(|v| v.is_finite());
                let (total, figures) =
                    (s.customers.book).group_figures(sel, span, keys.len(), group_of, clv);
                let all = total.customers;
                let groups: Vec<SummaryGroup> = (keys.into_iter())
                    .map(|((key, label, city), i)| group(key, label, city, figures[i], all))
                    .collect();
                answer(f, dimension, total, groups, &scores.generation)
            });
            (*answer).clone()
        })
    }

    /// Each customer's RFM segment in the filter (the configured rfm.*), by
    /// dense id; the 8 segments are the groups, in enum order.
    pub(crate) fn segments_of(
        &self,
        s: &State,
        f: &ResolvedFilter,
        keys: &mut Keys,
    ) -> (Vec<Option<usize>>, RfmThresholds) {
        for (i, seg) in Segment::ALL.iter().enumerate() {
            let name =
                portrait_proto::v1::Segment::try_from(*seg as i32).map_or("", |p| p.as_str_name());
            keys.insert((name.to_owned(), seg.label().to_owned(), String::new()), i);
        }
        let book = &s.customers.book;
        let sel = s.customers.stores.select(f);
        let (from, to) = self.rfm.clip(f.from, f.to, f.as_of);
        let table = rfm_table(&book.aggs(&sel, from, to), f.as_of, self.rfm.thresholds);
        let mut of = vec![None; book.customers().len()];
        for r in &table.customers {
            of[r.customer as usize] = Some(r.segment as usize - 1);
        }
        let th = &table.thresholds;
        let thresholds = RfmThresholds {
            kind: th.kind.proto() as i32,
            recency_days: th.recency_days.value(),
            frequency: th.frequency.value(),
            monetary_fen: th.monetary_fen.value(),
            window_days: self.rfm.window_days as i32,
        };
        (of, thresholds)
    }

    /// Each customer's cluster in service, by dense id.
    fn clusters_of(&self, keys: &mut Keys) -> Vec<Option<usize>> {
        let (answer, labels, _) = self.clusters.labels();
        cluster_groups(&answer, &labels, keys)
    }
}

/// The clusters of `answer` as groups (key = number, label = description),
/// and each customer's group from `labels` (by dense id, 0 = none).
pub(crate) fn cluster_groups(
    answer: &portrait_proto::v1::Clusters,
    labels: &[u8],
    keys: &mut Keys,
) -> Vec<Option<usize>> {
    for c in &answer.clusters {
        let key = (c.cluster.to_string(), c.description.clone(), String::new());
        keys.insert(key, c.cluster as usize - 1);
    }
    (labels.iter())
        .map(|l| (*l > 0).then(|| usize::from(*l) - 1))
        .collect()
}

/// Each selected store's group: its city, or itself.
fn stores_of(
    s: &State,
    sel: &Selection,
    dimension: SummaryDimension,
    keys: &mut Keys,
) -> Vec<Option<usize>> {
    let stores = &s.customers.stores;
    let mut of = vec![None; stores.len()];
    for (store, slot) in of.iter_mut().enumerate() {
        let store = store as u32;
        if !sel.contains(store) {
            continue;
        }
        let info = stores.info(store).cloned().unwrap_or_default();
        let key = match dimension {
            SummaryDimension::Store => (stores.name(store).to_owned(), info.name, info.city),
            _ => (info.city.clone(), info.city, String::new()),
        };
        let next = keys.len();
        *slot = Some(*keys.entry(key).or_insert(next));
    }
    of
}

/// The rows of the customer portrait's tables a filter selects.
pub(crate) fn scope_of(s: &State, f: &ResolvedFilter, sel: &Selection) -> Scope {
    let stores = &s.customers.stores;
    let names = sel.ids().map(|ids| {
        (ids.into_iter())
            .map(|i| stores.name(i).to_owned())
            .collect()
    });
    Scope {
        stores: names,
        from: f.from,
        to: f.to,
    }
}

/// The answer: the groups with a customer, most customers first, then key.
fn answer(
    f: &ResolvedFilter,
    dimension: SummaryDimension,
    total: GroupFigures,
    groups: Vec<SummaryGroup>,
    scores_generation: &str,
) -> PortraitSummary {
    let all = total.customers;
    let mut groups: Vec<SummaryGroup> = groups.into_iter().filter(|g| g.customers > 0).collect();
    groups.sort_by(|a, b| {
        b.customers
            .cmp(&a.customers)
            .then_with(|| a.key.cmp(&b.key))
    });
    let everyone = group(String::new(), "全部".into(), String::new(), total, all);
    PortraitSummary {
        filter: Some(f.applied()),
        dimension: dimension as i32,
        total: Some(everyone),
        groups,
        scores_generation: scores_generation.to_owned(),
    }
}

/// The cache key of a summary: the filter, the dimension, the clusters'
/// generation (0 for the other dimensions) and the scores'.
pub(crate) type SummaryKey = (ResolvedFilter, i32, u64, String);

fn group(key: String, label: String, city: String, g: GroupFigures, all: i64) -> SummaryGroup {
    let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    SummaryGroup {
        key,
        label,
        city,
        customers: g.customers,
        customer_share: ratio(g.customers, all),
        orders: g.orders,
        revenue_fen: g.revenue,
        average_order_value_fen: ratio(g.revenue, g.orders),
        orders_per_customer: ratio(g.orders, g.customers),
        mean_recency_days: ratio(g.recency_days, g.customers),
        mean_historical_clv_fen: ratio(g.spend_before_end, g.customers),
        scored_customers: g.scored,
        mean_predicted_clv_fen: if g.scored == 0 {
            0.0
        } else {
            g.predicted_clv / g.scored as f64
        },
    }
}

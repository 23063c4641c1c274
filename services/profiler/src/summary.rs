//! The portrait summary by city or store: one pass over the selected stores'
//! customers (`CustomerBook::group_figures`), cached per filter and version.

use std::collections::BTreeMap;

use portrait_core::memory::GroupFigures;
use portrait_core::{Error as DomainError, ResolvedFilter};
use portrait_proto::v1::{PortraitSummary, PortraitSummaryRequest, SummaryDimension, SummaryGroup};
use portrait_service::Result;

use crate::queries::Profiler;

impl Profiler {
    pub fn summary(&self, req: &PortraitSummaryRequest) -> Result<PortraitSummary> {
        let dimension = match SummaryDimension::try_from(req.dimension) {
            Ok(SummaryDimension::Unspecified) => SummaryDimension::City,
            Ok(d) => d,
            Err(_) => {
                let reason = format!("unknown dimension {}", req.dimension);
                return Err(DomainError::invalid("dimension", reason).into());
            }
        };
        self.with(req.filter.as_ref(), |s, f, sel, version| {
            let answer = self
                .summaries
                .get_or(&(f.clone(), dimension as i32), version, || {
                    let stores = &s.customers.stores;
                    // (key, label, city) per group, and each store's group.
                    let mut keys: BTreeMap<(String, String, String), usize> = BTreeMap::new();
                    let mut of_store = vec![None; stores.len()];
                    for (store, slot) in of_store.iter_mut().enumerate() {
                        let store = store as u32;
                        if !sel.contains(store) {
                            continue;
                        }
                        let info = stores.info(store).cloned().unwrap_or_default();
                        let key = match dimension {
                            SummaryDimension::Store => {
                                (stores.name(store).to_owned(), info.name, info.city)
                            }
                            _ => (info.city.clone(), info.city, String::new()),
                        };
                        let next = keys.len();
                        *slot = Some(*keys.entry(key).or_insert(next));
                    }
                    let (total, figures) = s.customers.book.group_figures(
                        sel,
                        (f.from, f.to, f.as_of),
                        keys.len(),
                        |store| of_store.get(store as usize).copied().flatten(),
                    );
                    let all = total.customers;
                    let mut groups: Vec<SummaryGroup> = (keys.into_iter())
                        .map(|((key, label, city), i)| group(key, label, city, figures[i], all))
                        .filter(|g| g.customers > 0)
                        .collect();
                    groups.sort_by(|a, b| {
                        b.customers
                            .cmp(&a.customers)
                            .then_with(|| a.key.cmp(&b.key))
                    });
                    PortraitSummary {
                        filter: Some(f.applied()),
                        dimension: dimension as i32,
                        total: Some(group(
                            String::new(),
                            "全部".into(),
                            String::new(),
                            total,
                            all,
                        )),
                        groups,
                    }
                });
            (*answer).clone()
        })
    }
}

/// The cache key of a summary.
pub(crate) type SummaryKey = (ResolvedFilter, i32);

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
    }
}

//! Time, channel and preference patterns per RFM segment or cluster
//! (`GetGroupPatterns`). Each customer's group comes from the serving state;
//! their orders, categories and products from three grouped statements over
//! the customer portrait's tables (no serving state holds them), streamed.
//! Cached per (filter, dimension, clusters' generation) and version; a
//! request's key and limit select from the cached answer.

pub(crate) mod by_order;
mod figures;
pub(crate) mod sql;

use std::sync::Arc;

use portrait_core::{Error as DomainError, ResolvedFilter};
use portrait_proto::v1::{Filter, GroupPatterns, GroupPatternsRequest, SummaryDimension};
use portrait_service::Result;
use portrait_store::Sql;
use sqlx::Row;

use crate::queries::Profiler;
use crate::summary::{Keys, cluster_groups, scope_of};
use figures::{Sums, pattern};
use sql::stream;

const DEFAULT_ITEMS: i32 = 10;
/// Items kept per group in the cache: the largest limit a request may ask.
const MAX_ITEMS: i32 = 50;

/// The cache key: the filter, the dimension and the clusters' generation (0
/// for segments).
pub(crate) type PatternsKey = (ResolvedFilter, i32, u64);

/// A cached answer with every group and its top `MAX_ITEMS` items, and the
/// keys a request may name.
pub(crate) struct Full {
    answer: GroupPatterns,
    keys: Vec<String>,
}

/// What the statements need from the serving state, taken under its lock.
struct Plan {
    f: ResolvedFilter,
    version: u64,
    scope: sql::Scope,
    /// Each customer's group by dense id.
    of: Vec<Option<usize>>,
    keys: Keys,
    head: GroupPatterns,
    generation: u64,
}

impl Profiler {
    pub async fn group_patterns(&self, req: &GroupPatternsRequest) -> Result<GroupPatterns> {
        let dimension = match SummaryDimension::try_from(req.dimension) {
            Ok(d @ (SummaryDimension::Segment | SummaryDimension::Cluster)) => d,
            _ => {
                let reason = format!(
                    "must be SUMMARY_DIMENSION_SEGMENT or SUMMARY_DIMENSION_CLUSTER, not {}",
                    req.dimension
                );
                return Err(DomainError::invalid("dimension", reason).into());
            }
        };
        let limit = match req.limit {
            0 => DEFAULT_ITEMS,
            n if (1..=MAX_ITEMS).contains(&n) => n,
            _ => {
                let reason = format!("must be 0 (= {DEFAULT_ITEMS}) to {MAX_ITEMS}");
                return Err(DomainError::invalid("limit", reason).into());
            }
        } as usize;
        let full = self.full_patterns(req.filter.as_ref(), dimension).await?;
        if !req.key.is_empty() && !full.keys.contains(&req.key) {
            let reason = format!("no group {:?} in this dimension", req.key);
            return Err(DomainError::invalid("key", reason).into());
        }
        let mut answer = full.answer.clone();
        answer
            .groups
            .retain(|g| req.key.is_empty() || g.key == req.key);
        for g in answer.total.iter_mut().chain(answer.groups.iter_mut()) {
            g.categories.truncate(limit);
            g.products.truncate(limit);
        }
        Ok(answer)
    }

    fn plan(&self, filter: Option<&Filter>, dimension: SummaryDimension) -> Result<Plan> {
        self.with(filter, |s, f, sel, version| {
            let mut keys = Keys::new();
            let mut head = GroupPatterns {
                filter: Some(f.applied()),
                dimension: dimension as i32,
                ..GroupPatterns::default()
            };
            let (of, generation) = if dimension == SummaryDimension::Segment {
                let (of, thresholds) = self.segments_of(s, f, &mut keys);
                head.thresholds = Some(thresholds);
                (of, 0)
            } else {
                let (clusters, labels, generation) = self.clusters.labels();
                head.cluster_generation = generation;
                head.clusters_computed_at.clone_from(&clusters.computed_at);
                head.clusters_as_of_date.clone_from(&clusters.as_of_date);
                (cluster_groups(&clusters, &labels, &mut keys), generation)
            };
            Plan {
                f: f.clone(),
                version,
                scope: scope_of(s, f, sel),
                of,
                keys,
                head,
                generation,
            }
        })
    }

    async fn full_patterns(
        &self,
        filter: Option<&Filter>,
        dimension: SummaryDimension,
    ) -> Result<Arc<Full>> {
        // The cache first: the segments alone cost a pass over every customer.
        let (f, version) = self.with(filter, |_, f, _, version| (f.clone(), version))?;
        let generation = match dimension {
            SummaryDimension::Cluster => self.clusters.generation(),
            _ => 0,
        };
        if let Some(full) = (self.patterns).get(&(f, dimension as i32, generation), version) {
            return Ok(full);
        }
        let _scan = self.scans.lock().await;
        let plan = self.plan(filter, dimension)?;
        let cache_key = (plan.f.clone(), dimension as i32, plan.generation);
        // A call that waited for the permit may find its answer made meanwhile.
        if let Some(full) = self.patterns.get(&cache_key, plan.version) {
            return Ok(full);
        }
        let groups = plan.keys.len();
        // One more slot, the last, for every selected customer together.
        let mut sums: Vec<Sums> = (0..=groups).map(|_| Sums::default()).collect();
        if !plan.scope.is_empty() {
            self.read_sums(&plan, &mut sums).await?;
        }
        let (state, _) = self.projection.live.read();
        let days = &state.days;
        let product_name = |id: &str| {
            (days.product_id(id))
                .map(|p| days.product(p).1.name.clone())
                .unwrap_or_default()
        };
        let category_name = |id: &str| {
            (days.category_id(id))
                .map(|c| days.category(c).1.to_owned())
                .unwrap_or_default()
        };
        let names: figures::Names = (&product_name, &category_name);
        let total = &sums[groups];
        let mut answer = plan.head;
        let mut list: Vec<_> = (plan.keys.iter())
            .filter(|(_, i)| sums[**i].customers > 0)
            .map(|((key, label, _), i)| pattern(key, label, &sums[*i], total, MAX_ITEMS, names))
            .collect();
        list.sort_by(|a, b| (b.customers.cmp(&a.customers)).then_with(|| a.key.cmp(&b.key)));
        answer.groups = list;
        answer.total = Some(pattern("", "全部", total, total, MAX_ITEMS, names));
        let keys = plan.keys.into_keys().map(|(key, _, _)| key).collect();
        Ok(self
            .patterns
            .put(&cache_key, plan.version, Full { answer, keys }))
    }

    /// The three statements: orders by (customer, weekday, hour, channel),
    /// then categories and products by (customer, item), each row added to
    /// its customer's group and to the total.
    async fn read_sums(&self, plan: &Plan, sums: &mut [Sums]) -> Result<()> {
        let total = sums.len() - 1;
        let store = self.ctx.store();
        let live = &self.projection.live;
        // Dense ids of the customers counted so far: each counts once.
        let mut seen: Vec<bool> = Vec::new();
        let orders = |conn: &sqlx::AnyConnection| {
            let mut sql = Sql::for_conn(
                conn,
                "SELECT customer_id, (day + 3) % 7, hour, channel, CAST(SUM(orders) AS BIGINT), \
                 CAST(SUM(revenue) AS BIGINT) FROM customer_orders",
            );
            plan.scope.push_where(&mut sql, true);
            sql.push(" GROUP BY customer_id, (day + 3) % 7, hour, channel");
            sql
        };
        let parse = |r: &sqlx::any::AnyRow| {
            let n = |i: usize| r.try_get::<i64, _>(i);
            Ok((
                r.try_get::<String, _>(0)?,
                [n(1)?, n(2)?, n(3)?, n(4)?, n(5)?],
            ))
        };
        stream(store, orders, parse, |rows| {
            let (state, _) = live.read();
            let ids = state.customers.book.customers();
            for (customer, [weekday, hour, channel, n, revenue]) in rows.iter() {
                let Some(c) = ids.get(customer) else {
                    continue;
                };
                let group = plan.of.get(c as usize).copied().flatten();
                let c = c as usize;
                if seen.len() <= c {
                    seen.resize(c + 1, false);
                }
                let first = !std::mem::replace(&mut seen[c], true);
                for g in [group, Some(total)].into_iter().flatten() {
                    let s = &mut sums[g];
                    s.customers += i64::from(first);
                    s.add_order(*weekday, *hour, *channel, *n, *revenue);
                }
            }
        })
        .await?;
        for (table, products) in [("customer_categories", false), ("customer_products", true)] {
            let column = if products {
                "product_id"
            } else {
                "category_id"
            };
            let items = |conn: &sqlx::AnyConnection| {
                let mut sql = Sql::for_conn(
                    conn,
                    &format!(
                        "SELECT customer_id, {column}, CAST(SUM(orders) AS BIGINT), \
                         CAST(SUM(quantity) AS BIGINT), CAST(SUM(revenue) AS BIGINT) FROM {table}"
                    ),
                );
                plan.scope.push_where(&mut sql, true);
                sql.push(&format!(" GROUP BY customer_id, {column}"));
                sql
            };
            let parse = |r: &sqlx::any::AnyRow| {
                let n = |i: usize| r.try_get::<i64, _>(i);
                let (customer, item) = (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?);
                Ok((customer, item, [n(2)?, n(3)?, n(4)?]))
            };
            stream(store, items, parse, |rows| {
                let (state, _) = live.read();
                let ids = state.customers.book.customers();
                for (customer, item, figures) in rows.iter() {
                    let Some(c) = ids.get(customer) else {
                        continue;
                    };
                    let group = plan.of.get(c as usize).copied().flatten();
                    for g in [group, Some(total)].into_iter().flatten() {
                        sums[g].add_item(products, item, *figures);
                    }
                }
            })
            .await?;
        }
        Ok(())
    }
}

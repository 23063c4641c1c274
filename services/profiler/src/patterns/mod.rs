//! Time, channel and preference patterns per RFM segment or cluster
//! (`GetGroupPatterns`). Each customer's group, each group's customers and
//! their orders by weekday, hour and channel come from the serving state (the
//! customer book's rows are tagged with their hour and channel); their
//! categories and products from two statements over the customer portrait's
//! tables (no serving state holds them), grouped by the customers' groups in
//! the database (a table of them lives inside the call's transaction and is
//! joined) so that what crosses is a row per (group, item), not one per
//! customer.
//! Asked `without_items`, the answer is the serving state's part alone (no
//! statement, no wait for another call's scan).
//! Cached per (filter, dimension, clusters' generation, items) and version; a
//! request's key and limit select from the cached answer.

pub(crate) mod by_order;
mod figures;
pub(crate) mod sql;

use std::sync::Arc;

use portrait_core::memory::{CustomerBook, Selection};
use portrait_core::{Error as DomainError, ResolvedFilter};
use portrait_proto::v1::{Filter, GroupPatterns, GroupPatternsRequest, SummaryDimension};
use portrait_service::Result;
use portrait_store::Sql;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Row};

use crate::projection::order_tags::hour_channel;
use crate::queries::Profiler;
use crate::summary::{Keys, cluster_groups, scope_of};
use figures::{Sums, pattern};
use sql::{GroupTable, Scope, stream};

const DEFAULT_ITEMS: i32 = 10;
/// Items kept per group in the cache: the largest limit a request may ask.
const MAX_ITEMS: i32 = 50;

/// The cache key: the filter, the dimension, the clusters' generation (0
/// for segments) and whether the items were read.
pub(crate) type PatternsKey = (ResolvedFilter, i32, u64, bool);

/// A cached answer with every group and its top `MAX_ITEMS` items, and the
/// keys a request may name.
pub(crate) struct Full {
    answer: GroupPatterns,
    keys: Vec<String>,
}

impl Full {
    /// The same answer as one asked without items.
    fn without_items(&self) -> Full {
        let mut answer = self.answer.clone();
        for g in answer.total.iter_mut().chain(answer.groups.iter_mut()) {
            g.categories.clear();
            g.products.clear();
            g.line_spend_fen = 0;
        }
        answer.items_omitted = true;
        Full {
            answer,
            keys: self.keys.clone(),
        }
    }
}

/// What the statements need from the serving state, taken under its lock.
struct Plan {
    f: ResolvedFilter,
    version: u64,
    scope: sql::Scope,
    /// Each grouped customer's group, for the database.
    groups: GroupTable,
    /// Per group and (last) for all selected customers: the customers with an
    /// order inside the filter, and their orders.
    sums: Vec<Sums>,
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
        let limit = crate::queries::items_limit(req.limit, DEFAULT_ITEMS, MAX_ITEMS)?;
        let full = self
            .full_patterns(req.filter.as_ref(), dimension, !req.without_items)
            .await?;
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

    fn plan(
        &self,
        filter: Option<&Filter>,
        dimension: SummaryDimension,
        items: bool,
    ) -> Result<Plan> {
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
            let book = &s.customers.book;
            let mut groups = GroupTable::default();
            // Every customer the state knows at the selected stores, −1 for
            // those in no group: a customer whose rows are committed but not
            // yet applied is left out, as the state leaves them out.
            let candidates = if items {
                book.candidates(sel)
            } else {
                Vec::new()
            };
            for c in candidates {
                let g = of.get(c as usize).copied().flatten();
                groups.push(book.customers().name(c), g.map_or(-1, |g| g as i64));
            }
            let group_of = |c: u32, _, _| of.get(c as usize).copied().flatten();
            let span = (f.from, f.to, f.as_of);
            let (total, figures) = book.group_figures(sel, span, keys.len(), group_of, |_| None);
            let mut sums: Vec<Sums> = (figures.iter().chain([&total]))
                .map(|g| {
                    let mut sums = Sums::default();
                    sums.customers = g.customers;
                    sums
                })
                .collect();
            add_orders(
                book,
                sel,
                f,
                |c| of.get(c as usize).copied().flatten(),
                &mut sums,
            );
            Plan {
                f: f.clone(),
                version,
                scope: scope_of(s, f, sel),
                groups,
                sums,
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
        items: bool,
    ) -> Result<Arc<Full>> {
        // The cache first: the segments alone cost a pass over every customer.
        let (f, version) = self.with(filter, |_, f, _, version| (f.clone(), version))?;
        let generation = match dimension {
            SummaryDimension::Cluster => self.clusters.generation(),
            _ => 0,
        };
        let key = |items| (f.clone(), dimension as i32, generation, items);
        if let Some(full) = (self.patterns).get(&key(items), version) {
            return Ok(full);
        }
        if !items {
            // The answer with items holds everything one without them does.
            if let Some(full) = (self.patterns).get(&key(true), version) {
                return Ok(self
                    .patterns
                    .put(&key(false), version, full.without_items()));
            }
        }
        // Only the item statements scan the tables, one call at a time.
        let _scan = match items {
            true => Some(self.scans.lock().await),
            false => None,
        };
        let plan = self.plan(filter, dimension, items)?;
        let cache_key = (plan.f.clone(), dimension as i32, plan.generation, items);
        // A call that waited for the permit may find its answer made meanwhile.
        if let Some(full) = self.patterns.get(&cache_key, plan.version) {
            return Ok(full);
        }
        let groups = plan.keys.len();
        // One more slot, the last, for every selected customer together.
        let mut sums = plan.sums;
        if items && !plan.scope.is_empty() {
            let (scope, groups) = (&plan.scope, plan.groups);
            let mut conn = self.ctx.store().acquire().await?;
            let mut tx = conn.begin().await?;
            let table = groups.load(&mut tx).await?;
            read_items(&mut tx, scope, &table, &mut sums).await?;
            // The groups' table goes with the transaction.
            tx.rollback().await?;
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
        answer.items_omitted = !items;
        let keys = plan.keys.into_keys().map(|(key, _, _)| key).collect();
        Ok(self
            .patterns
            .put(&cache_key, plan.version, Full { answer, keys }))
    }
}

/// Each selected customer's orders inside the filter by weekday, hour and
/// channel, added to their group's sums (`group_of`) and to the total (the
/// last of `sums`).
fn add_orders(
    book: &CustomerBook,
    sel: &Selection,
    f: &ResolvedFilter,
    group_of: impl Fn(u32) -> Option<usize>,
    sums: &mut [Sums],
) {
    let total = sums.len() - 1;
    for c in book.candidates(sel) {
        let slots = [group_of(c).filter(|g| *g < total), Some(total)];
        book.tagged_rows(c, f.from, |day, store, tag, acc| {
            let inside = day < f.to && f.from.is_none_or(|from| day >= from);
            if acc.orders <= 0 || !inside || !sel.contains(store) {
                return;
            }
            let (hour, channel) = hour_channel(tag).map_or((-1, -1), |(h, c)| (h.into(), c.into()));
            // Day 0, 1970-01-01, was a Thursday: slot 3 from Monday.
            let weekday = (i64::from(day) + 3).rem_euclid(7);
            for s in slots.into_iter().flatten() {
                sums[s].add_order(weekday, hour, channel, acc.orders, acc.revenue);
            }
        });
    }
}

/// The two statements: categories and products by (group, item), each row
/// added to its group and to the total (the last of `sums`). A customer in no
/// group has group −1; one the state does not know yet is left out (the join).
async fn read_items(
    conn: &mut AnyConnection,
    scope: &Scope,
    groups: &str,
    sums: &mut [Sums],
) -> Result<()> {
    let total = sums.len() - 1;
    let slots = |g: i64| [usize::try_from(g).ok().filter(|g| *g < total), Some(total)];
    let join = format!(" JOIN {groups} g ON g.customer_id = t.customer_id");
    for (items_table, column, products) in [
        ("customer_categories", "category_id", false),
        ("customer_products", "product_id", true),
    ] {
        let items = |conn: &AnyConnection| {
            let mut sql = Sql::for_conn(
                conn,
                &format!(
                    "SELECT g.grp, {column}, CAST(SUM(orders) AS BIGINT), \
                     CAST(SUM(quantity) AS BIGINT), CAST(SUM(revenue) AS BIGINT) \
                     FROM {items_table} t{join}"
                ),
            );
            scope.push_where(&mut sql, items_table, portrait_store::is_sqlite(conn));
            sql.push(" GROUP BY 1, 2");
            sql
        };
        let parse = |r: &AnyRow| {
            let n = |i: usize| r.try_get::<i64, _>(i);
            Ok((n(0)?, r.try_get::<String, _>(1)?, [n(2)?, n(3)?, n(4)?]))
        };
        stream(conn, items, parse, |rows| {
            for (g, item, figures) in rows.iter() {
                for s in slots(*g).into_iter().flatten() {
                    sums[s].add_item(products, item, *figures);
                }
            }
        })
        .await?;
    }
    Ok(())
}

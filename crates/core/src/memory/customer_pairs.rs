use crate::memory::heap::{HeapSize, nested_bytes, vec_bytes};
use std::collections::HashMap;

use crate::memory::Selection;
use crate::memory::baskets::{BasketCounts, Counts, sum};

mod entry;

use crate::memory::sets::Sets;
use entry::{Entry, WideCounts};

/// Association counts over customers, over all history: per store and for
/// the chain, the customers who bought there, who bought each product, and
/// who bought both products of each pair. Kept incrementally: a pair moves
/// only when a product enters or leaves a customer's set (its count of
/// orders goes from none to some, or back). A selection of several stores is
/// not a sum of stores (a customer may buy one product at each), so it is
/// counted from the customers' sets when asked.
#[derive(Debug, Default, Clone)]
pub struct CustomerPairs {
    /// Per customer (the customer book's ids): each item and the orders
    /// that contained it. Counts may dip below zero while an order's
    /// revisions arrive out of order; a product is in the set while its
    /// count is positive.
    sets: Sets<Entry>,
    wide: WideCounts,
    items: Items,
    /// Per store, the customers who have (or had) a row there, so a query
    /// about a few stores visits only their customers. May repeat a customer.
    visitors: Vec<Vec<u32>>,
    stores: Vec<Counts>,
    chain: Counts,
    scratch: Vec<u32>,
}

/// Dense ids for the (store, product)s bought: an entry names its item in 4
/// bytes instead of 8, and a chain has far fewer items (stores × products)
/// than entries (customers × their products).
#[derive(Debug, Default, Clone)]
struct Items {
    ids: HashMap<(u32, u32), u32>,
    keys: Vec<(u32, u32)>,
}

impl Items {
    fn id(&mut self, store: u32, product: u32) -> u32 {
        let next = self.keys.len() as u32;
        let id = *self.ids.entry((store, product)).or_insert(next);
        if id == next {
            self.keys.push((store, product));
        }
        id
    }

    /// Entries as (store, product, in the set).
    fn rows<'a>(
        &'a self,
        entries: impl Iterator<Item = Entry> + 'a,
    ) -> impl Iterator<Item = (u32, u32, bool)> + 'a {
        entries.map(|e| {
            let (s, p) = self.keys[e.item as usize];
            (s, p, e.held())
        })
    }

    fn heap_bytes(&self) -> usize {
        // A hash map's table holds about 8/7 of its capacity, a control byte each.
        self.ids.capacity() * (size_of::<((u32, u32), u32)>() + 1) * 8 / 7 + vec_bytes(&self.keys)
    }
}

/// Into `out`, the distinct products of `rows` in the set, other than
/// `except`; `out` is reused so the consumer's hot path allocates nothing.
fn others(rows: impl Iterator<Item = (u32, bool)>, except: u32, out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        rows.filter(|&(p, held)| p != except && held)
            .map(|(p, _)| p),
    );
    out.sort_unstable();
    out.dedup();
}

/// A product entering (`by` = 1) or leaving (-1) one customer's set in `c`:
/// `others` are the customer's other products there (none: the customer
/// enters or leaves the population too).
fn move_product(c: &mut Counts, product: u32, others: &[u32], by: i64) {
    if others.is_empty() {
        c.baskets += by;
    }
    c.add_product(product, by);
    for q in others {
        c.add_pair(product, *q, by);
    }
}

/// Pair counts of one query: a dense square for a catalogue of up to
/// `DENSE` products (4 MiB at most), else a hash map.
enum PairTally {
    Dense { products: usize, counts: Vec<u32> },
    Sparse(HashMap<(u32, u32), i64>),
}

const DENSE: usize = 1024;

impl PairTally {
    fn new(products: usize) -> Self {
        if products <= DENSE {
            PairTally::Dense {
                products,
                counts: vec![0; products * products],
            }
        } else {
            PairTally::Sparse(HashMap::new())
        }
    }

    /// One customer with both `a` < `b`.
    fn add(&mut self, a: u32, b: u32) {
        match self {
            PairTally::Dense { products, counts } => {
                if let Some(n) = counts.get_mut(a as usize * *products + b as usize) {
                    *n += 1;
                }
            }
            PairTally::Sparse(map) => *map.entry((a, b)).or_default() += 1,
        }
    }

    fn into_sorted(self) -> Vec<(u32, u32, i64)> {
        let mut out: Vec<(u32, u32, i64)> = match self {
            PairTally::Dense { products, counts } => (counts.iter().enumerate())
                .filter(|(_, n)| **n != 0)
                .map(|(i, n)| ((i / products) as u32, (i % products) as u32, i64::from(*n)))
                .collect(),
            PairTally::Sparse(map) => map.into_iter().map(|((a, b), n)| (a, b, n)).collect(),
        };
        out.sort_unstable();
        out
    }
}

/// Association counts from whole product sets, one per customer (or basket):
/// how many sets there are, hold each product, hold each pair.
pub struct SetCounts {
    out: BasketCounts,
    pairs: PairTally,
}

impl SetCounts {
    pub fn new(products: usize) -> Self {
        Self {
            out: BasketCounts {
                baskets: 0,
                products: vec![0; products],
                pairs: Vec::new(),
            },
            pairs: PairTally::new(products),
        }
    }

    /// Counts one set (its products in any order, repeats allowed); an empty
    /// one is no set. Leaves `set` sorted and deduplicated.
    pub fn add(&mut self, set: &mut Vec<u32>) {
        set.sort_unstable();
        set.dedup();
        if set.is_empty() {
            return;
        }
        self.out.baskets += 1;
        for (i, a) in set.iter().enumerate() {
            if let Some(slot) = self.out.products.get_mut(*a as usize) {
                *slot += 1;
            }
            for b in &set[i + 1..] {
                self.pairs.add(*a, *b);
            }
        }
    }

    pub fn finish(self) -> BasketCounts {
        BasketCounts {
            pairs: self.pairs.into_sorted(),
            ..self.out
        }
    }
}

impl CustomerPairs {
    /// The customers' product sets, and the counts kept from them.
    pub fn heap_parts(&self) -> [(&'static str, usize); 2] {
        let stores: usize = self.stores.iter().map(HeapSize::heap_bytes).sum();
        let sets = self.sets.heap_bytes() + nested_bytes(&self.visitors);
        let counts = vec_bytes(&self.stores) + stores + self.chain.heap_bytes();
        [
            (
                "customer_pair_sets",
                sets + vec_bytes(&self.scratch) + self.items.heap_bytes() + self.wide.heap_bytes(),
            ),
            ("customer_pair_counts", counts),
        ]
    }
}

impl CustomerPairs {
    /// Adds `n` orders containing `product` at `store` to `customer`'s counts.
    pub fn add(&mut self, customer: u32, store: u32, product: u32, n: i64) {
        let s = store as usize;
        if s >= self.stores.len() {
            self.stores.resize_with(s + 1, Counts::default);
            self.visitors.resize_with(s + 1, Vec::new);
        }
        let item = self.items.id(store, product);
        let (sets, items) = (&mut self.sets, &self.items);
        // In the chain's set while positive at some store, as for a selection.
        let anywhere = |sets: &Sets<Entry>| {
            (items.rows(sets.entries(customer))).any(|r| r.1 == product && r.2)
        };
        let chain_before = anywhere(sets);
        let slot = match sets.find(customer, item) {
            Some(slot) => slot,
            None => {
                let first_here = !(items.rows(sets.entries(customer))).any(|r| r.0 == store);
                if first_here {
                    self.visitors[s].push(customer);
                }
                sets.push(customer, Entry::new(item))
            }
        };
        let entry = sets.get_mut(slot);
        let before = entry.held();
        self.wide.add(customer, entry, n);
        let (after, chain_after) = (entry.held(), anywhere(sets));
        let scratch = &mut self.scratch;
        if before != after {
            let at_store = (items.rows(sets.entries(customer)))
                .filter(|r| r.0 == store)
                .map(|r| (r.1, r.2));
            others(at_store, product, scratch);
            let by = if after { 1 } else { -1 };
            move_product(&mut self.stores[s], product, scratch, by);
        }
        if chain_before != chain_after {
            let all = items.rows(sets.entries(customer));
            others(all.map(|r| (r.1, r.2)), product, scratch);
            let by = if chain_after { 1 } else { -1 };
            move_product(&mut self.chain, product, scratch, by);
        }
        self.sets.settle();
    }

    /// Adds to a customer's counts of orders only, leaving every other count
    /// stale: a load adds its rows so, then calls [`recount`](Self::recount)
    /// once, instead of moving pairs row by row.
    pub fn add_loaded(&mut self, customer: u32, store: u32, product: u32, n: i64) {
        let item = self.items.id(store, product);
        let slot = match self.sets.find(customer, item) {
            Some(slot) => slot,
            None => self.sets.push(customer, Entry::new(item)),
        };
        self.wide.add(customer, self.sets.get_mut(slot), n);
        self.sets.settle();
    }

    /// Every count and store list computed again from the customers' rows,
    /// in one pass with a tally per pair; after a load.
    pub fn recount(&mut self, products: usize) {
        let stores = (self.items.keys.iter()).map(|k| k.0 as usize + 1).max();
        let stores = stores.unwrap_or(0).max(self.stores.len());
        self.stores = vec![Counts::default(); stores];
        self.visitors = vec![Vec::new(); stores];
        self.chain = Counts::default();
        let mut chain_pairs = PairTally::new(products);
        let mut store_pairs: HashMap<(u32, u32, u32), i64> = HashMap::new();
        let (mut here, mut all, mut by_store) = (Vec::new(), Vec::new(), Vec::new());
        let mut product_totals: Vec<i64> = vec![0; products];
        self.sets.compact();
        for c in 0..self.sets.keys() {
            all.clear();
            by_store.clear();
            by_store.extend(self.items.rows(self.sets.entries(c)));
            by_store.sort_unstable();
            for group in by_store.chunk_by(|x, y| x.0 == y.0) {
                let s = group[0].0;
                self.visitors[s as usize].push(c);
                here.clear();
                here.extend(group.iter().filter(|r| r.2).map(|r| r.1));
                if here.is_empty() {
                    continue;
                }
                let counts = &mut self.stores[s as usize];
                counts.baskets += 1;
                for (i, a) in here.iter().enumerate() {
                    counts.add_product(*a, 1);
                    for b in &here[i + 1..] {
                        *store_pairs.entry((s, *a, *b)).or_default() += 1;
                    }
                }
                all.extend_from_slice(&here);
            }
            all.sort_unstable();
            all.dedup();
            if all.is_empty() {
                continue;
            }
            self.chain.baskets += 1;
            for (i, a) in all.iter().enumerate() {
                if let Some(t) = product_totals.get_mut(*a as usize) {
                    *t += 1;
                }
                for b in &all[i + 1..] {
                    chain_pairs.add(*a, *b);
                }
            }
        }
        for (p, n) in product_totals.into_iter().enumerate() {
            if n != 0 {
                self.chain.add_product(p as u32, n);
            }
        }
        for (a, b, n) in chain_pairs.into_sorted() {
            self.chain.add_pair(a, b, n);
        }
        let mut store_pairs: Vec<_> = store_pairs.into_iter().collect();
        store_pairs.sort_unstable();
        for ((s, a, b), n) in store_pairs {
            self.stores[s as usize].add_pair(a, b, n);
        }
    }

    /// The counts for the selected stores: customers who bought there, who
    /// bought each product there, and who bought both of a pair there.
    pub fn counts(&self, sel: &Selection, products: usize) -> BasketCounts {
        let chosen: Vec<u32> = match sel {
            Selection::All => return sum([&self.chain], products),
            Selection::Only(mask) => (0..mask.len() as u32)
                .filter(|s| sel.contains(*s))
                .collect(),
        };
        if let [one] = chosen[..] {
            return sum(self.stores.get(one as usize), products);
        }
        // Every store anyone bought at is chosen: that is the chain.
        let bought_at = |s: usize| self.stores.get(s).is_some_and(|c| c.baskets != 0);
        if (0..self.stores.len()).all(|s| !bought_at(s) || sel.contains(s as u32)) {
            return sum([&self.chain], products);
        }
        let mut visited: Vec<u32> = (chosen.iter())
            .filter_map(|s| self.visitors.get(*s as usize))
            .flatten()
            .copied()
            .collect();
        visited.sort_unstable();
        visited.dedup();
        let mut counts = SetCounts::new(products);
        let mut bought: Vec<u32> = Vec::new();
        for c in visited {
            bought.clear();
            bought.extend(
                (self.items.rows(self.sets.entries(c)))
                    .filter(|r| r.2 && sel.contains(r.0))
                    .map(|r| r.1),
            );
            counts.add(&mut bought);
        }
        counts.finish()
    }

    /// The customers whose set at the selected stores holds `a` and not `b`,
    /// ascending: the audience of the recommendation "a → b".
    pub fn holding_not(&self, sel: &Selection, a: u32, b: u32) -> Vec<u32> {
        let holds = |c: u32, p: u32| {
            (self.items.rows(self.sets.entries(c))).any(|r| r.1 == p && r.2 && sel.contains(r.0))
        };
        let candidates: Vec<u32> = match sel {
            Selection::All => (0..self.sets.keys()).collect(),
            Selection::Only(_) => {
                let mut v: Vec<u32> = (self.visitors.iter().enumerate())
                    .filter(|(s, _)| sel.contains(*s as u32))
                    .flat_map(|(_, c)| c.iter().copied())
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        (candidates.into_iter())
            .filter(|&c| holds(c, a) && !holds(c, b))
            .collect()
    }

    /// Gives back the room the sets and store lists grew into; after a load.
    pub fn compact(&mut self) {
        self.sets.compact();
        self.visitors.iter_mut().for_each(Vec::shrink_to_fit);
    }

    /// (customer, store, product) entries with a count, for memory estimates.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    /// The counts recomputed from scratch from final per-row totals.
    fn brute(
        rows: &BTreeMap<(u32, u32, u32), i64>,
        sel: &Selection,
        products: usize,
    ) -> BasketCounts {
        let mut sets: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for (&(c, s, p), &n) in rows {
            if n > 0 && sel.contains(s) {
                sets.entry(c).or_default().insert(p);
            }
        }
        let mut out = BasketCounts {
            baskets: sets.len() as i64,
            products: vec![0; products],
            pairs: Vec::new(),
        };
        let mut pairs: BTreeMap<(u32, u32), i64> = BTreeMap::new();
        for set in sets.values() {
            for a in set {
                out.products[*a as usize] += 1;
                for b in set.range(a + 1..) {
                    *pairs.entry((*a, *b)).or_default() += 1;
                }
            }
        }
        out.pairs = pairs.into_iter().map(|((a, b), n)| (a, b, n)).collect();
        out
    }

    proptest! {
        /// Any sequence of additions and retractions, in any order (counts may
        /// dip below zero), leaves the counts of a fresh recompute, for the
        /// chain, one store and several stores; with counts too large for
        /// their entry's byte too.
        #[test]
        fn incremental_equals_recompute(
            ops in prop::collection::vec(
                (0u32..6, 0u32..3, 0u32..5, prop_oneof![Just(1i64), Just(-1i64), -300i64..300]),
                0..120,
            ),
        ) {
            let mut pairs = CustomerPairs::default();
            let mut rows: BTreeMap<(u32, u32, u32), i64> = BTreeMap::new();
            for (c, s, p, n) in ops {
                pairs.add(c, s, p, n);
                *rows.entry((c, s, p)).or_default() += n;
            }
            for sel in [
                Selection::All,
                Selection::Only(vec![false, true]),
                Selection::Only(vec![true, false, true]),
                Selection::Only(vec![true, true, true]),
            ] {
                prop_assert_eq!(pairs.counts(&sel, 5), brute(&rows, &sel, 5));
            }
        }
    }

    proptest! {
        /// A load's rows added raw and counted once give the counts of
        /// adding the same rows one by one; counts too large for their
        /// entry's byte included.
        #[test]
        fn recount_equals_adding_row_by_row(
            ops in prop::collection::vec((0u32..6, 0u32..3, 0u32..5, prop_oneof![-1i64..3, -300i64..300]), 0..80),
        ) {
            let (mut live, mut loaded) = (CustomerPairs::default(), CustomerPairs::default());
            for &(c, s, p, n) in &ops {
                live.add(c, s, p, n);
                loaded.add_loaded(c, s, p, n);
            }
            loaded.recount(5);
            for sel in [
                Selection::All,
                Selection::Only(vec![false, true]),
                Selection::Only(vec![true, false, true]),
            ] {
                prop_assert_eq!(loaded.counts(&sel, 5), live.counts(&sel, 5));
            }
            // And it keeps counting live from there.
            live.add(1, 2, 3, 1);
            loaded.add(1, 2, 3, 1);
            prop_assert_eq!(loaded.counts(&Selection::All, 5), live.counts(&Selection::All, 5));
        }
    }

    proptest! {
        /// The customers holding a and not b are those of a fresh recompute
        /// from the final per-row totals, for the chain and some stores.
        #[test]
        fn holding_not_equals_recompute(
            ops in prop::collection::vec((0u32..6, 0u32..3, 0u32..4, prop::bool::ANY), 0..80),
        ) {
            let mut pairs = CustomerPairs::default();
            let mut rows: BTreeMap<(u32, u32, u32), i64> = BTreeMap::new();
            for (c, s, p, up) in ops {
                let n = if up { 1 } else { -1 };
                pairs.add(c, s, p, n);
                *rows.entry((c, s, p)).or_default() += n;
            }
            for sel in [Selection::All, Selection::Only(vec![false, true, true])] {
                let holds = |c: u32, p: u32| {
                    rows.iter().any(|(&(rc, s, rp), &n)| rc == c && rp == p && n > 0 && sel.contains(s))
                };
                let want: Vec<u32> = (0..6).filter(|&c| holds(c, 1) && !holds(c, 2)).collect();
                prop_assert_eq!(pairs.holding_not(&sel, 1, 2), want);
            }
        }
    }

    #[test]
    fn sparse_and_dense_tallies_agree() {
        let (mut dense, mut sparse) = (PairTally::new(40), PairTally::new(DENSE + 1));
        for (a, b) in [(1, 2), (0, 39), (1, 2), (5, 7)] {
            dense.add(a, b);
            sparse.add(a, b);
        }
        let got = sparse.into_sorted();
        assert_eq!(got, [(0, 39, 1), (1, 2, 2), (5, 7, 1)]);
        assert_eq!(dense.into_sorted(), got);
    }

    #[test]
    fn a_customer_counts_once_however_many_orders_and_stores() {
        let mut pairs = CustomerPairs::default();
        pairs.add(0, 0, 1, 2);
        pairs.add(0, 1, 1, 1);
        pairs.add(0, 1, 2, 1);
        let all = pairs.counts(&Selection::All, 3);
        assert_eq!((all.baskets, all.product(1), all.product(2)), (1, 1, 1));
        assert_eq!(all.pairs, [(1, 2, 1)]);
        // Store 0 alone: product 1 only, no pair.
        let first = pairs.counts(&Selection::Only(vec![true]), 3);
        assert_eq!(
            (first.baskets, first.product(1), first.pairs.len()),
            (1, 1, 0)
        );
        pairs.add(0, 1, 2, -1);
        assert!(pairs.counts(&Selection::All, 3).pairs.is_empty());
        assert_eq!(pairs.len(), 2);
    }
}

use crate::memory::heap::{HeapSize, insert_snug, vec_bytes};
use std::collections::HashMap;

use crate::memory::Selection;

/// One store's (or the chain's) basket counts over all history.
#[derive(Debug, Default, Clone)]
pub(super) struct Counts {
    pub(super) baskets: i64,
    /// Sorted by product id.
    products: Vec<(u32, i64)>,
    /// Sorted by the packed pair (smaller id high, larger id low).
    pairs: Vec<(u64, i64)>,
}

fn add_to<K: Ord + Copy>(rows: &mut Vec<(K, i64)>, key: K, n: i64) {
    match rows.binary_search_by_key(&key, |(k, _)| *k) {
        Ok(i) => {
            rows[i].1 += n;
            // A count back at zero is dropped, so the state equals a fresh load.
            if rows[i].1 == 0 {
                rows.remove(i);
            }
        }
        Err(i) => insert_snug(rows, i, (key, n)),
    }
}

fn pack(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

fn unpack(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// Basket counts for a store selection: what the association figures need.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BasketCounts {
    pub baskets: i64,
    /// Baskets holding each product, indexed by product id (0 for none).
    pub products: Vec<i64>,
    /// (a, b, baskets holding both) with a < b by dense id, non-zero only.
    pub pairs: Vec<(u32, u32, i64)>,
}

impl HeapSize for Counts {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.products) + vec_bytes(&self.pairs)
    }
}

impl Counts {
    pub(super) fn add_product(&mut self, product: u32, n: i64) {
        add_to(&mut self.products, product, n);
    }

    pub(super) fn add_pair(&mut self, a: u32, b: u32, n: i64) {
        add_to(&mut self.pairs, pack(a, b), n);
    }

    pub(super) fn len(&self) -> usize {
        self.products.len() + self.pairs.len()
    }
}

/// Sums `runs` of counts into one answer over `products` ids.
pub(super) fn sum<'a>(runs: impl IntoIterator<Item = &'a Counts>, products: usize) -> BasketCounts {
    let mut out = BasketCounts {
        baskets: 0,
        products: vec![0; products],
        pairs: Vec::new(),
    };
    let mut pairs: HashMap<u64, i64> = HashMap::new();
    for c in runs {
        out.baskets += c.baskets;
        for (p, n) in &c.products {
            if let Some(slot) = out.products.get_mut(*p as usize) {
                *slot += n;
            }
        }
        for (key, n) in &c.pairs {
            *pairs.entry(*key).or_default() += n;
        }
    }
    out.pairs = pairs
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(key, n)| {
            let (a, b) = unpack(key);
            (a, b, n)
        })
        .collect();
    out.pairs.sort_unstable();
    out
}

impl BasketCounts {
    pub fn product(&self, id: u32) -> i64 {
        self.products.get(id as usize).copied().unwrap_or(0)
    }
}

/// Per store, over all history: baskets, baskets per product and per pair of
/// products, by dense product ids (the caller's catalogue). Pairs are packed
/// into one `u64` in sorted `Vec`s: a store sells a few hundred pairs.
#[derive(Debug, Default, Clone)]
pub struct BasketBook {
    stores: Vec<Counts>,
    /// The same summed over all stores, for the unfiltered question.
    chain: Counts,
}

impl HeapSize for BasketBook {
    fn heap_bytes(&self) -> usize {
        let stores: usize = self.stores.iter().map(HeapSize::heap_bytes).sum();
        vec_bytes(&self.stores) + stores + self.chain.heap_bytes()
    }
}

impl BasketBook {
    fn both(&mut self, store: u32) -> [&mut Counts; 2] {
        let s = store as usize;
        if s >= self.stores.len() {
            self.stores.resize_with(s + 1, Counts::default);
        }
        [&mut self.stores[s], &mut self.chain]
    }

    pub fn add_baskets(&mut self, store: u32, n: i64) {
        for c in self.both(store) {
            c.baskets += n;
        }
    }

    pub fn add_product(&mut self, store: u32, product: u32, n: i64) {
        for c in self.both(store) {
            c.add_product(product, n);
        }
    }

    pub fn add_pair(&mut self, store: u32, a: u32, b: u32, n: i64) {
        for c in self.both(store) {
            c.add_pair(a, b, n);
        }
    }

    /// The counts summed over the selected stores.
    pub fn counts(&self, sel: &Selection, products: usize) -> BasketCounts {
        match sel {
            Selection::All => sum([&self.chain], products),
            Selection::Only(_) => sum(
                (self.stores.iter().enumerate())
                    .filter(|(s, _)| sel.contains(*s as u32))
                    .map(|(_, c)| c),
                products,
            ),
        }
    }

    /// Entries held (store and chain rows), for memory estimates.
    pub fn len(&self) -> usize {
        (self.stores.iter().chain([&self.chain]))
            .map(Counts::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_the_selected_stores_and_drop_cancelled_pairs() {
        let mut b = BasketBook::default();
        b.add_baskets(0, 3);
        b.add_baskets(1, 2);
        b.add_product(0, 5, 2);
        b.add_product(1, 5, 1);
        b.add_product(1, 2, 1);
        b.add_pair(0, 5, 2, 1);
        b.add_pair(1, 2, 5, 1);
        b.add_pair(1, 2, 7, 1);
        b.add_pair(1, 7, 2, -1);
        let all = b.counts(&Selection::All, 8);
        assert_eq!(all.baskets, 5);
        assert_eq!((all.product(5), all.product(2), all.product(9)), (3, 1, 0));
        assert_eq!(all.pairs, [(2, 5, 2)]);
        let second = b.counts(&Selection::Only(vec![false, true]), 8);
        assert_eq!((second.baskets, second.product(5)), (2, 1));
        assert_eq!(second.pairs, [(2, 5, 1)]);
        let none = b.counts(&Selection::Only(vec![false, false, true]), 8);
        assert_eq!(
            none,
            BasketCounts {
                products: vec![0; 8],
                ..Default::default()
            }
        );
        // (products, pairs): store 0 (1, 1), store 1 (2, 1), the chain (2, 1).
        assert_eq!(b.len(), 8);
    }
}

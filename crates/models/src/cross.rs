//! Cross-purchase: support, confidence and lift of item pairs from co-occurrence counts that are
//! updated one basket at a time (and can be retracted when an order is cancelled).
//!
//! The same structure serves product pairs and category pairs: the caller decides what an
//! "item" of a basket is. An item counts once per basket however many lines carry it.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

use crate::{Error, Result};

/// Co-occurrence counts over a set of baskets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoOccurrence<K: Eq + Hash> {
    baskets: u64,
    items: HashMap<K, u64>,
    /// Baskets with both items, stored under each of the two items so that one item's
    /// partners are found without scanning every pair.
    partners: HashMap<K, HashMap<K, u64>>,
}

impl<K: Eq + Hash> Default for CoOccurrence<K> {
    fn default() -> Self {
        CoOccurrence {
            baskets: 0,
            items: HashMap::new(),
            partners: HashMap::new(),
        }
    }
}

/// The figures of the rule "who buys `antecedent` also buys `consequent`".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule<K> {
    pub antecedent: K,
    pub consequent: K,
    /// Baskets with both.
    pub count: u64,
    /// count / baskets.
    pub support: f64,
    /// count / baskets with the antecedent.
    pub confidence: f64,
    /// confidence / share of baskets with the consequent.
    pub lift: f64,
}

/// Support, confidence and lift of antecedent → consequent from the counts: `count` baskets
/// with both, `baskets` in all, `antecedent` and `consequent` baskets with each. The one place
/// these formulas live; the profiler's association answers use it too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleFigures {
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

impl RuleFigures {
    pub fn new(count: u64, baskets: u64, antecedent: u64, consequent: u64) -> Self {
        // Integer products first and one division each, so the figures are bit-for-bit those
        // of the same arithmetic in SQL while the products stay below 2^53 (10^7 baskets
        // make 10^14). Products are taken in u128 so no count can overflow them.
        let ratio = |a: u128, b: u128| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (count, baskets) = (u128::from(count), u128::from(baskets));
        let (n_a, n_b) = (u128::from(antecedent), u128::from(consequent));
        RuleFigures {
            support: ratio(count, baskets),
            confidence: ratio(count, n_a),
            lift: ratio(count * baskets, n_a * n_b),
        }
    }
}

fn distinct<K: Ord + Clone>(items: &[K]) -> Vec<K> {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v
}

impl<K: Eq + Hash + Ord + Clone> CoOccurrence<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of baskets counted.
    pub fn baskets(&self) -> u64 {
        self.baskets
    }

    /// Baskets containing `item`.
    pub fn item_count(&self, item: &K) -> u64 {
        self.items.get(item).copied().unwrap_or(0)
    }

    /// Baskets containing both items (0 for an item with itself).
    pub fn pair_count(&self, a: &K, b: &K) -> u64 {
        self.partners
            .get(a)
            .and_then(|p| p.get(b))
            .copied()
            .unwrap_or(0)
    }

    /// Count one basket. An empty basket still counts as a basket (it lowers every support).
    pub fn add_basket(&mut self, items: &[K]) {
        let items = distinct(items);
        self.baskets += 1;
        for (i, a) in items.iter().enumerate() {
            *self.items.entry(a.clone()).or_insert(0) += 1;
            for b in &items[i + 1..] {
                *self
                    .partners
                    .entry(a.clone())
                    .or_default()
                    .entry(b.clone())
                    .or_insert(0) += 1;
                *self
                    .partners
                    .entry(b.clone())
                    .or_default()
                    .entry(a.clone())
                    .or_insert(0) += 1;
            }
        }
    }

    /// Undo [`add_basket`](Self::add_basket) for a basket with these items. Fails, changing
    /// nothing, if the counts show the basket was never added.
    pub fn remove_basket(&mut self, items: &[K]) -> Result<()> {
        let items = distinct(items);
        let missing = || Error::Argument {
            name: "basket",
            reason: "removing a basket that was not added".into(),
        };
        if self.baskets == 0 {
            return Err(missing());
        }
        for (i, a) in items.iter().enumerate() {
            if self.item_count(a) == 0 {
                return Err(missing());
            }
            for b in &items[i + 1..] {
                if self.pair_count(a, b) == 0 {
                    return Err(missing());
                }
            }
        }
        self.baskets -= 1;
        // Entries that reach zero are dropped so that the state equals a from-scratch count.
        for (i, a) in items.iter().enumerate() {
            decrement(&mut self.items, a.clone());
            for b in &items[i + 1..] {
                self.decrement_pair(a, b);
                self.decrement_pair(b, a);
            }
        }
        Ok(())
    }

    /// The rule antecedent → consequent, if both items occur together at least once.
    pub fn rule(&self, antecedent: &K, consequent: &K) -> Option<Rule<K>> {
        let count = self.pair_count(antecedent, consequent);
        if count == 0 {
            return None;
        }
        Some(self.make_rule(antecedent.clone(), consequent.clone(), count))
    }

    fn make_rule(&self, antecedent: K, consequent: K, count: u64) -> Rule<K> {
        let n_a = self.item_count(&antecedent);
        let n_b = self.item_count(&consequent);
        let f = RuleFigures::new(count, self.baskets, n_a, n_b);
        Rule {
            support: f.support,
            confidence: f.confidence,
            lift: f.lift,
            antecedent,
            consequent,
            count,
        }
    }

    /// Every pair seen together at least `min_count` times, once per unordered pair (the
    /// smaller item as antecedent), sorted by the pair.
    pub fn pairs(&self, min_count: u64) -> Vec<Rule<K>> {
        let mut v: Vec<Rule<K>> = self
            .partners
            .iter()
            .flat_map(|(a, p)| p.iter().map(move |(b, &c)| (a, b, c)))
            .filter(|&(a, b, c)| a < b && c >= min_count.max(1))
            .map(|(a, b, c)| self.make_rule(a.clone(), b.clone(), c))
            .collect();
        v.sort_by(|x, y| (&x.antecedent, &x.consequent).cmp(&(&y.antecedent, &y.consequent)));
        v
    }

    /// The `n` best cross-sell partners of `item`: rules item → partner seen together at least
    /// `min_count` times, by lift, then confidence, then count (ties by partner).
    pub fn top_partners(&self, item: &K, n: usize, min_count: u64) -> Vec<Rule<K>> {
        let Some(partners) = self.partners.get(item) else {
            return Vec::new();
        };
        let mut v: Vec<Rule<K>> = partners
            .iter()
            .filter(|&(_, &c)| c >= min_count.max(1))
            .map(|(b, &c)| self.make_rule(item.clone(), b.clone(), c))
            .collect();
        v.sort_by(|x, y| {
            y.lift
                .total_cmp(&x.lift)
                .then(y.confidence.total_cmp(&x.confidence))
                .then(y.count.cmp(&x.count))
                .then(x.consequent.cmp(&y.consequent))
        });
        v.truncate(n);
        v
    }

    fn decrement_pair(&mut self, a: &K, b: &K) {
        if let Some(p) = self.partners.get_mut(a) {
            decrement(p, b.clone());
            if p.is_empty() {
                self.partners.remove(a);
            }
        }
    }
}

fn decrement<Q: Eq + Hash>(map: &mut HashMap<Q, u64>, key: Q) {
    if let Some(c) = map.get_mut(&key) {
        *c -= 1;
        if *c == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_figures_by_hand() {
        let mut co = CoOccurrence::new();
        co.add_basket(&["tea", "bun", "tea"]);
        co.add_basket(&["tea", "rice"]);
        co.add_basket(&["bun"]);
        co.add_basket(&["tea", "bun"]);
        assert_eq!(co.baskets(), 4);
        assert_eq!(co.item_count(&"tea"), 3);
        assert_eq!(co.pair_count(&"bun", &"tea"), 2);
        let r = co.rule(&"tea", &"bun").unwrap();
        assert_eq!((r.count, r.support, r.confidence), (2, 0.5, 2.0 / 3.0));
        assert_eq!(r.lift, 8.0 / 9.0);
        assert_eq!(co.top_partners(&"tea", 5, 1)[0].consequent, "rice");
        assert!(co.rule(&"bun", &"rice").is_none());
    }

    #[test]
    fn remove_restores_the_previous_state() {
        let mut co = CoOccurrence::new();
        co.add_basket(&[1, 2, 3]);
        let before = co.clone();
        co.add_basket(&[2, 3, 4]);
        co.remove_basket(&[4, 3, 2, 2]).unwrap();
        assert_eq!(co, before);
        // A basket never added: error, nothing changed.
        assert!(co.remove_basket(&[1, 5]).is_err());
        assert!(co.remove_basket(&[1, 4]).is_err());
        assert_eq!(co, before);
        co.remove_basket(&[1, 2, 3]).unwrap();
        assert_eq!(co, CoOccurrence::new());
        assert!(co.remove_basket(&[]).is_err());
    }

    proptest::proptest! {
        /// Adding baskets and retracting some of them, in any interleaving, leaves exactly the
        /// counts of a from-scratch pass over the baskets that remain.
        #[test]
        fn incremental_equals_recompute(
            baskets in proptest::collection::vec(proptest::collection::vec(0u8..12, 0..6), 0..40),
            retract in proptest::collection::vec(proptest::bool::ANY, 40),
        ) {
            let mut co = CoOccurrence::new();
            let mut kept = Vec::new();
            for (i, b) in baskets.iter().enumerate() {
                co.add_basket(b);
                if retract[i] {
                    // Retract an earlier basket when there is one, else this one.
                    let j = kept.len().saturating_sub(1);
                    if kept.is_empty() {
                        co.remove_basket(b).unwrap();
                    } else {
                        let old: Vec<u8> = kept.remove(j);
                        co.remove_basket(&old).unwrap();
                        kept.push(b.clone());
                    }
                } else {
                    kept.push(b.clone());
                }
            }
            let mut fresh = CoOccurrence::new();
            kept.iter().for_each(|b| fresh.add_basket(b));
            proptest::prop_assert_eq!(co, fresh);
        }
    }
}

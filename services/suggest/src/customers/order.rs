//! A customer list's order: each selected customer's sort key packed into one
//! integer (the order's figure, then the customer's rank in id order), and
//! only as deep a prefix put in order as the pages asked for need: the first
//! page of a million customers is a selection, not a sort.

use std::sync::{Arc, Mutex, PoisonError};

use portrait_core::memory::Interner;
use portrait_proto::v1::CustomerOrder;

use super::Row;
use crate::models::Score;

/// The depth of the first tier; each next one is 8 times deeper.
const FIRST_TIER: usize = 1_000;

/// The tier whose depth covers a page ending at `end`.
pub(crate) fn tier(end: usize) -> u32 {
    let (mut t, mut depth) = (0, FIRST_TIER);
    while depth < end {
        depth = depth.saturating_mul(8);
        t += 1;
    }
    t
}

fn depth(tier: u32) -> usize {
    FIRST_TIER.saturating_mul(8_usize.saturating_pow(tier))
}

/// A selection's positions in the rows; the first `sorted` in the list's order.
#[derive(Debug)]
pub(crate) struct Ordered {
    pub(crate) positions: Vec<u32>,
    pub(crate) sorted: usize,
}

/// Larger first, as an ascending integer.
fn larger_first(v: i64) -> u64 {
    !((v as u64) ^ (1 << 63))
}

fn smaller_first(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// Larger first; a missing score after every present one.
fn best_first(v: Option<f64>) -> u64 {
    match v {
        None => u64::MAX,
        Some(x) => {
            let bits = x.to_bits();
            let ascending = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            // Never u64::MAX: that would be a missing score.
            (!ascending).min(u64::MAX - 1)
        }
    }
}

/// The order's figure of one customer as an ascending key; `ascending`
/// reverses it (ties stay in id order).
pub(crate) fn primary(order: CustomerOrder, ascending: bool, r: &Row, s: Option<Score>) -> u64 {
    let key = match order {
        CustomerOrder::Unspecified | CustomerOrder::Spend => larger_first(r.agg.revenue),
        CustomerOrder::Recency => smaller_first(r.recency_days()),
        CustomerOrder::Frequency => larger_first(r.agg.orders),
        CustomerOrder::PredictedClv => best_first(s.map(|x| f64::from(x.predicted_clv_fen))),
        CustomerOrder::AliveProbability => best_first(s.map(|x| x.alive_probability)),
        CustomerOrder::CustomerId => 0,
    };
    if ascending { !key } else { key }
}

/// `(primary, rank)` as one integer key.
pub(crate) fn packed(primary: u64, rank: u32) -> u128 {
    (u128::from(primary) << 32) | u128::from(rank)
}

/// Orders the `depth(tier)` smallest keys of `keyed` (key, position).
pub(crate) fn order(mut keyed: Vec<(u128, u32)>, tier: u32) -> Ordered {
    let k = depth(tier).min(keyed.len());
    if k > 0 && k < keyed.len() {
        keyed.select_nth_unstable_by_key(k - 1, |e| e.0);
    }
    keyed[..k].sort_unstable_by_key(|e| e.0);
    Ordered {
        positions: keyed.into_iter().map(|(_, p)| p).collect(),
        sorted: k,
    }
}

/// Each dense id's position in id (byte) order, kept while no customer is
/// added (the interner only grows, so its length names its content).
#[derive(Debug, Default)]
pub(crate) struct Ranks(Mutex<Arc<Vec<u32>>>);

impl Ranks {
    pub(crate) fn of(&self, names: &Interner) -> Arc<Vec<u32>> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() != names.len() {
            let mut rank = vec![0_u32; names.len()];
            for (i, (_, c)) in names.sorted().enumerate() {
                rank[c as usize] = i as u32;
            }
            *held = Arc::new(rank);
        }
        held.clone()
    }
}

#[cfg(test)]
mod tests {
    use portrait_core::memory::Interner;

    use super::*;

    #[test]
    fn ranks_follow_the_ids_byte_order() {
        let mut names = Interner::default();
        let ids = ["c-10", "c-2", "C-9", "c-1", "wx:中", "vip:5"];
        for id in ids {
            names.intern(id);
        }
        let rank = Ranks::default().of(&names);
        let mut by_rank: Vec<&str> = ids.to_vec();
        by_rank.sort_by_key(|id| rank[names.get(id).unwrap_or(0) as usize]);
        let mut by_bytes = ids.to_vec();
        by_bytes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(by_rank, by_bytes);
    }

    #[test]
    fn keys_order_as_the_figures_do() {
        let values = [i64::MIN, -5, 0, 3, 3, i64::MAX];
        for w in values.windows(2) {
            assert!(larger_first(w[0]) >= larger_first(w[1]), "{w:?}");
            assert!(smaller_first(w[0]) <= smaller_first(w[1]), "{w:?}");
        }
        let scores = [None, Some(-1.0), Some(0.0), Some(0.5), Some(1e9)];
        for w in scores.windows(2) {
            assert!(best_first(w[0]) > best_first(w[1]), "{w:?}");
        }
        assert!(packed(1, 0) > packed(0, u32::MAX));
    }

    #[test]
    fn a_prefix_is_the_full_sort_s_prefix() {
        let mut x: u64 = 7;
        let keyed: Vec<(u128, u32)> = (0..5_000_u32)
            .map(|p| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (packed(x % 50, p), p)
            })
            .collect();
        let mut full = keyed.clone();
        full.sort_unstable();
        let full: Vec<u32> = full.into_iter().map(|(_, p)| p).collect();
        for tier in [0, 1] {
            let got = order(keyed.clone(), tier);
            assert_eq!(got.sorted, depth(tier).min(5_000));
            assert_eq!(got.positions[..got.sorted], full[..got.sorted]);
            let mut rest = got.positions.clone();
            rest.sort_unstable();
            assert_eq!(
                rest,
                (0..5_000).collect::<Vec<u32>>(),
                "every position once"
            );
        }
        assert_eq!(
            (tier(1), tier(1_000), tier(1_001), tier(8_001)),
            (0, 0, 1, 2)
        );
    }
}

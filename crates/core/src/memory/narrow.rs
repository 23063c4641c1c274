//! Two figures in 8 bytes instead of 16, exactly.
//!
//! Every row of the serving state holds two sums (orders and revenue, or
//! quantity and revenue) that almost always fit 32 bits: a customer's orders
//! at one store on one day, a store's revenue in one hour. Held as `i64`s they
//! were half the state. A pair that does not fit (a chain's hour past ¥21M,
//! a bulk buyer) is kept whole in a side list, and its place holds a marker
//! and the index there, so no figure is ever rounded or wrapped.

use crate::{Acc, ProductAcc};

/// A pair of figures, narrow or the index of a wide one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Narrow {
    a: i32,
    b: i32,
}

/// `a` of a pair kept in [`WidePairs`]; `b` is then its index there.
const WIDE: i32 = i32::MIN;

/// The sums a [`Narrow`] holds.
pub(crate) trait Pair: Copy {
    fn pair(self) -> (i64, i64);
    fn from_pair(p: (i64, i64)) -> Self;
}

impl Pair for Acc {
    fn pair(self) -> (i64, i64) {
        (self.orders, self.revenue)
    }
    fn from_pair((orders, revenue): (i64, i64)) -> Self {
        Acc { orders, revenue }
    }
}

impl Pair for ProductAcc {
    fn pair(self) -> (i64, i64) {
        (self.quantity, self.revenue)
    }
    fn from_pair((quantity, revenue): (i64, i64)) -> Self {
        ProductAcc { quantity, revenue }
    }
}

impl Narrow {
    fn is_wide(self) -> bool {
        self.a == WIDE
    }
}

/// The pairs too wide for a [`Narrow`], with a free list so a pair that
/// narrows again gives its slot back. A book owns one, and its `Narrow`s
/// move freely inside it (the index travels with them); a `Narrow` is only
/// ever read and written through the book's own list.
#[derive(Debug, Default, Clone)]
pub(crate) struct WidePairs {
    pairs: Vec<(i64, i64)>,
    free: Vec<u32>,
}

impl WidePairs {
    pub(crate) fn get<T: Pair>(&self, n: Narrow) -> T {
        if !n.is_wide() {
            return T::from_pair((i64::from(n.a), i64::from(n.b)));
        }
        // The index's bits are in `b`.
        let pair = self.pairs.get(n.b as u32 as usize).copied();
        T::from_pair(pair.unwrap_or_default())
    }

    /// A new place holding `value`.
    pub(crate) fn narrow<T: Pair>(&mut self, value: T) -> Narrow {
        let mut n = Narrow::default();
        self.set(&mut n, value);
        n
    }

    /// Stores `value` in `n`, narrow when it fits.
    pub(crate) fn set<T: Pair>(&mut self, n: &mut Narrow, value: T) {
        let (a, b) = value.pair();
        let fits = (i32::try_from(a).ok().filter(|a| *a != WIDE)).zip(i32::try_from(b).ok());
        match (fits, n.is_wide()) {
            (Some((a, b)), was_wide) => {
                if was_wide {
                    self.free.push(n.b as u32);
                }
                *n = Narrow { a, b };
            }
            (None, true) => {
                if let Some(p) = self.pairs.get_mut(n.b as u32 as usize) {
                    *p = (a, b);
                }
            }
            (None, false) => {
                let at = match self.free.pop() {
                    Some(at) => {
                        self.pairs[at as usize] = (a, b);
                        at
                    }
                    None => {
                        // 2^32 wide pairs would take 64 GiB first.
                        self.pairs.push((a, b));
                        (self.pairs.len() - 1) as u32
                    }
                };
                *n = Narrow {
                    a: WIDE,
                    b: at as i32,
                };
            }
        }
    }

    /// Adds `by` to the pair in `n`.
    pub(crate) fn add<T: Pair>(&mut self, n: &mut Narrow, by: T) {
        let ((a, b), (x, y)) = (self.get::<(i64, i64)>(*n), by.pair());
        self.set(n, (a + x, b + y));
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.pairs.capacity() * size_of::<(i64, i64)>() + self.free.capacity() * 4
    }
}

impl Pair for (i64, i64) {
    fn pair(self) -> (i64, i64) {
        self
    }
    fn from_pair(p: (i64, i64)) -> Self {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_exactly_whatever_their_width() {
        let mut w = WidePairs::default();
        let values = [
            (0, 0),
            (1, -5),
            (i64::from(i32::MAX), i64::from(i32::MIN)),
            (i64::from(i32::MIN), 0),
            (1, i64::from(i32::MAX) + 1),
            (i64::MAX, i64::MIN),
            (-1, 3_000_000_000),
        ];
        let mut held: Vec<Narrow> = values.iter().map(|v| w.narrow(*v)).collect();
        for (n, v) in held.iter().zip(&values) {
            assert_eq!(w.get::<(i64, i64)>(*n), *v);
        }
        assert_eq!(w.pairs.len(), 4, "the four that do not fit are wide");
        // Narrowing gives the slot back; widening again reuses it.
        w.set(&mut held[4], (2, 2));
        assert_eq!((w.get::<(i64, i64)>(held[4]), w.free.len()), ((2, 2), 1));
        w.add(&mut held[1], (0, 5_000_000_000));
        assert_eq!(w.get::<(i64, i64)>(held[1]), (1, 4_999_999_995));
        assert_eq!((w.pairs.len(), w.free.len()), (4, 0));
        // A wide pair updated in place, then back to narrow.
        w.add(&mut held[6], (1, -3_000_000_000));
        assert_eq!((w.get::<Acc>(held[6]), w.free.len()), (Acc::default(), 1));
        for (n, v) in held.iter().zip(&values).skip(2).take(2) {
            assert_eq!(w.get::<(i64, i64)>(*n), *v);
        }
        assert_eq!(w.get::<(i64, i64)>(held[5]), (i64::MAX, i64::MIN));
    }
}

//! A byte on each row of the customer book saying what its orders share (the
//! profiler: their hour and channel), so that figures by hour band or channel
//! are a pass over the rows in memory instead of a scan of one table row per
//! order. Nearly every (customer, day, store) row is one order, or orders of
//! one hour and channel; a row whose orders differ is marked, and its share
//! per tag kept beside the rows, exactly.

use std::collections::HashMap;

use crate::memory::heap::vec_bytes;
use crate::{Acc, Day};

/// What a row's orders share, as its owner encodes it in a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u8);

/// The held byte of a row whose orders carry more than one tag.
pub(super) const MIXED: u8 = u8::MAX - 1;

impl Tag {
    /// Rows added without a tag, and every row of an untagged book.
    pub const UNKNOWN: Tag = Tag(u8::MAX);

    /// A tag of `value`; the two highest bytes are the book's own.
    pub fn new(value: u8) -> Option<Tag> {
        (value < MIXED).then_some(Tag(value))
    }

    /// The value it was made of; `None` for [`Tag::UNKNOWN`].
    pub fn value(self) -> Option<u8> {
        (self != Self::UNKNOWN).then_some(self.0)
    }

    pub(super) fn byte(self) -> u8 {
        self.0
    }

    /// A held byte as a single tag: the caller has ruled out `MIXED`.
    pub(super) fn held(byte: u8) -> Tag {
        Tag(byte)
    }
}

/// The rows marked `MIXED`, by (customer, day, store): each tag's part of the
/// row's sums, none at zero, together the row's sums.
#[derive(Debug, Default, Clone)]
pub(super) struct Mixed(HashMap<(u32, Day, u32), Vec<(Tag, Acc)>>);

impl Mixed {
    /// Adds `acc` under `tag` to the row `key`, which held `before` under its
    /// byte `held`. Only a row whose orders come to differ is marked; one
    /// whose parts come back to a single tag is unmarked again.
    pub(super) fn add(
        &mut self,
        key: (u32, Day, u32),
        held: &mut u8,
        before: Acc,
        tag: Tag,
        acc: Acc,
    ) {
        if *held != MIXED && (*held == tag.0 || before.is_zero()) {
            // A row at zero is no tag's: it takes the new one.
            *held = tag.0;
            return;
        }
        if *held != MIXED && acc.is_zero() {
            return;
        }
        let mut parts = if *held == MIXED {
            self.0.remove(&key).unwrap_or_default()
        } else {
            vec![(Tag(*held), before)]
        };
        match parts.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, a)) => a.add(acc),
            None => parts.push((tag, acc)),
        }
        parts.retain(|(_, a)| !a.is_zero());
        match parts.as_slice() {
            [] => *held = tag.0,
            [(only, _)] => *held = only.0,
            _ => {
                *held = MIXED;
                parts.shrink_to_fit();
                self.0.insert(key, parts);
            }
        }
    }

    pub(super) fn parts(&self, key: &(u32, Day, u32)) -> &[(Tag, Acc)] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        // The table's slots (key, vector and a control byte) and each vector.
        let slots = self.0.capacity() * (size_of::<((u32, Day, u32), Vec<(Tag, Acc)>)>() + 1);
        slots + self.0.values().map(vec_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::memory::{BookLoader, CustomerBook};

    /// (customer, store, day, tag) → sums: the plain recompute.
    type Parts = BTreeMap<(u32, u32, Day, Tag), Acc>;

    fn parts_of(book: &CustomerBook) -> Parts {
        let mut got = Parts::new();
        for c in 0..book.customers().len() as u32 {
            let name: u32 = book.customers().name(c).parse().unwrap_or(u32::MAX);
            book.tagged_rows(c, None, |day, store, tag, acc| {
                got.entry((name, store, day, tag)).or_default().add(acc);
            });
        }
        got.retain(|_, a| !a.is_zero());
        got
    }

    /// Orders of three tags (and untagged) on a few rows, some taken back.
    fn order() -> impl Strategy<Value = (u32, u32, Day, u8, i64, i64)> {
        let tag = prop_oneof![Just(0_u8), Just(7), Just(189), Just(u8::MAX)];
        // Some revenue past 32 bits: merged rows free their wide places.
        let revenue = prop_oneof![4 => -5_i64..50, 1 => Just(3_000_000_000_i64)];
        (0_u32..3, 0_u32..2, 0..3, tag, -1_i64..=1, revenue)
    }

    fn tag_of(t: u8) -> Tag {
        Tag::new(t).unwrap_or(Tag::UNKNOWN)
    }

    proptest! {
        /// Added one by one with rebuilds between, or loaded from a row per
        /// order in any order, the book's parts per tag are the plain sums,
        /// and its rows sum them.
        #[test]
        fn each_tags_part_is_the_plain_sum(
            ops in prop::collection::vec((order(), prop::bool::weighted(0.1)), 0..60),
        ) {
            let mut want = Parts::new();
            let mut book = CustomerBook::tagged();
            let mut loader = BookLoader::tagged();
            for &((c, s, d, t, n, r), rebuild) in &ops {
                let acc = Acc { orders: n, revenue: r };
                book.add_tagged(&c.to_string(), s, d, acc, tag_of(t));
                want.entry((c, s, d, tag_of(t))).or_default().add(acc);
                if rebuild {
                    book.compact();
                }
            }
            // Not in the order they were added: the loader sorts.
            let mut loaded: Vec<_> = ops.iter().map(|(o, _)| *o).collect();
            loaded.sort_by_key(|&(c, s, d, t, _, _)| (d, s, c, t));
            loaded.reverse();
            for (c, s, d, t, n, r) in loaded {
                loader.push_tagged(&c.to_string(), s, d, Acc { orders: n, revenue: r }, tag_of(t));
            }
            let loaded = loader.finish();
            want.retain(|_, a| !a.is_zero());
            for b in [&book, &loaded] {
                prop_assert_eq!(parts_of(b), want.clone());
                for c in 0..b.customers().len() as u32 {
                    let (mut rows, mut tagged) = (BTreeMap::new(), BTreeMap::new());
                    let mut twice = 0;
                    b.rows(c, |d, s, a| twice += usize::from(rows.insert((d, s), a).is_some()));
                    prop_assert_eq!(twice, 0, "a (day, store) held twice");
                    b.tagged_rows(c, None, |d, s, _, a| {
                        tagged.entry((d, s)).or_insert_with(Acc::default).add(a);
                    });
                    for (k, a) in &rows {
                        prop_assert_eq!(tagged.get(k).copied().unwrap_or_default(), *a);
                    }
                }
            }
            prop_assert_eq!(book.mixed_rows(), loaded.mixed_rows());
        }
    }

    #[test]
    fn a_row_is_marked_only_while_its_orders_differ() {
        let mut b = CustomerBook::tagged();
        let (one, two) = (tag_of(1), tag_of(2));
        let acc = |orders, revenue| Acc { orders, revenue };
        b.add_tagged("a", 0, 5, acc(1, 10), one);
        b.add_tagged("a", 0, 5, acc(1, 20), one);
        assert_eq!(b.mixed_rows(), 0, "one tag, twice");
        b.add_tagged("a", 0, 5, acc(1, 30), two);
        assert_eq!(b.mixed_rows(), 1);
        // The second tag's order taken back: one tag again.
        b.add_tagged("a", 0, 5, acc(-1, -30), two);
        assert_eq!(b.mixed_rows(), 0);
        // Every order taken back: the row at zero takes the next one's tag.
        b.add_tagged("a", 0, 5, acc(-2, -30), one);
        b.add_tagged("a", 0, 5, acc(1, 7), two);
        assert_eq!(b.mixed_rows(), 0);
        let mut got = Vec::new();
        b.tagged_rows(0, None, |d, s, t, a| got.push((d, s, t, a)));
        assert_eq!(got, [(5, 0, two, acc(1, 7))]);
        assert_eq!(Tag::new(MIXED), None);
        assert_eq!(Tag::UNKNOWN.value(), None);
        assert_eq!(two.value(), Some(2));
    }
}

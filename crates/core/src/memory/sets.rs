//! Every key's entries in one block instead of a vector each. A million
//! small vectors cost a 24-byte header each plus the allocator's rounding,
//! and growing them an entry at a time while orders arrive left their
//! outgrown blocks as holes in pages that stay resident. One block ordered by
//! key (as the customer book keeps its rows) has none of that. The customer
//! pairs key it by customer, the store book by store-day.

use std::ops::Range;

use crate::memory::chunked::Chunked;
use crate::memory::heap::vec_bytes;

/// What a set holds: an entry names its item, and says whether a rebuild
/// may drop it.
pub(crate) trait Member: Copy + Default {
    fn item(&self) -> u32;
    /// Dropped at the next rebuild: it no longer says anything.
    fn spent(&self) -> bool;
}

const NONE: u32 = u32::MAX;

/// The block holds each key's entries sorted by item; entries made since it
/// was last rebuilt wait in an overflow, threaded per key, until it grows
/// past a sixteenth of the block. A rebuild grows the block by the overflow
/// (in chunks: nothing moves to grow it) and moves every key right to its
/// new place, so it never holds the block twice. A spent entry stays until
/// the next rebuild drops it.
#[derive(Debug, Clone)]
pub(crate) struct Sets<E> {
    /// Key k's block entries are `offsets[k]..offsets[k + 1]`; keys newer
    /// than the block have none.
    offsets: Vec<u32>,
    block: Chunked<E>,
    /// Per key, its newest overflow entry (`NONE`: none).
    heads: Vec<u32>,
    extra: Vec<E>,
    /// Per overflow entry, the same key's next older one.
    next: Vec<u32>,
}

impl<E> Default for Sets<E> {
    fn default() -> Self {
        Self {
            offsets: Vec::new(),
            block: Chunked::default(),
            heads: Vec::new(),
            extra: Vec::new(),
            next: Vec::new(),
        }
    }
}

/// Where an entry is; valid until the next rebuild.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    Block(usize),
    Extra(usize),
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<E: Member> Sets<E> {
    /// Keys with a place, entries or not: one past the highest key seen.
    pub(crate) fn keys(&self) -> u32 {
        to_u32(self.heads.len())
    }

    fn block_range(&self, c: usize) -> Range<usize> {
        match (self.offsets.get(c), self.offsets.get(c + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Key c's overflow entries by index in `extra`, newest first.
    fn overflow(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        let first = self.heads.get(c).copied().unwrap_or(NONE);
        let linked = |at: u32| (at != NONE).then_some(at);
        std::iter::successors(linked(first), move |&at| linked(self.next[at as usize]))
            .map(|at| at as usize)
    }

    /// Key c's entries, block first then overflow: sorted by item
    /// only within each part.
    pub(crate) fn entries(&self, c: u32) -> impl Iterator<Item = E> + '_ {
        let c = c as usize;
        (self.block.iter(self.block_range(c))).chain(self.overflow(c).map(|at| self.extra[at]))
    }

    pub(crate) fn find(&self, c: u32, item: u32) -> Option<Slot> {
        let range = self.block_range(c as usize);
        let i = self
            .block
            .partition_point(range.clone(), |e| e.item() < item);
        if i < range.end && self.block.get(i).item() == item {
            return Some(Slot::Block(i));
        }
        (self.overflow(c as usize))
            .find(|&at| self.extra[at].item() == item)
            .map(Slot::Extra)
    }

    /// A new entry for key c, which holds none for its item.
    pub(crate) fn push(&mut self, c: u32, entry: E) -> Slot {
        let c = c as usize;
        if c >= self.heads.len() {
            self.heads.resize(c + 1, NONE);
        }
        let at = self.extra.len();
        self.extra.push(entry);
        self.next.push(self.heads[c]);
        self.heads[c] = to_u32(at);
        Slot::Extra(at)
    }

    pub(crate) fn get_mut(&mut self, slot: Slot) -> &mut E {
        match slot {
            Slot::Block(i) => self.block.get_mut(i),
            Slot::Extra(i) => &mut self.extra[i],
        }
    }

    /// Rebuilds once the overflow outgrows a sixteenth of the block; call
    /// between operations (a rebuild moves every slot).
    pub(crate) fn settle(&mut self) {
        if self.extra.len() > 50_000 + self.block.len() / 16 {
            self.rebuild();
        }
    }

    /// Every entry in the block, spent ones dropped, and nothing to spare; after a load.
    pub(crate) fn compact(&mut self) {
        self.rebuild();
        self.extra = Vec::new();
        self.next = Vec::new();
    }

    /// Drops the block's spent entries, then folds the overflow in, in place:
    /// the first pass only moves entries left and the second, from the last
    /// key to the first, only right, so neither overwrites an entry
    /// before reading it.
    fn rebuild(&mut self) {
        let blocked = self.offsets.len().saturating_sub(1);
        let mut kept = 0;
        for c in 0..blocked {
            let range = self.block_range(c);
            self.offsets[c] = to_u32(kept);
            for i in range {
                let e = self.block.get(i);
                if !e.spent() {
                    self.block.set(kept, e);
                    kept += 1;
                }
            }
        }
        if let Some(end) = self.offsets.last_mut() {
            *end = to_u32(kept);
        }
        self.block.resize(kept);

        let n = self.heads.len();
        let old_len = self.block.len();
        let start_of = |offsets: &[u32], c: usize| offsets.get(c).map_or(old_len, |&o| o as usize);
        let mut offsets = Vec::with_capacity(n + 1);
        let mut shift = 0;
        for c in 0..n {
            offsets.push(to_u32(start_of(&self.offsets, c) + shift));
            shift += (self.overflow(c))
                .filter(|&at| !self.extra[at].spent())
                .count();
        }
        let total = old_len + shift;
        offsets.push(to_u32(total));
        self.block.resize(total);
        let mut fresh: Vec<E> = Vec::new();
        for c in (0..n).rev() {
            let (from, to) = (start_of(&self.offsets, c), start_of(&self.offsets, c + 1));
            let start = offsets[c] as usize;
            fresh.clear();
            fresh.extend(self.overflow(c).map(|at| self.extra[at]));
            fresh.retain(|e| !e.spent());
            fresh.sort_unstable_by_key(E::item);
            // Merge from the back: the larger of the last unplaced block
            // entry and the last unplaced overflow entry takes the last place.
            let (mut read, mut write) = (to, start + (to - from) + fresh.len());
            while let Some(&e) = fresh.last() {
                write -= 1;
                if read > from && self.block.get(read - 1).item() > e.item() {
                    read -= 1;
                    self.block.set(write, self.block.get(read));
                } else {
                    fresh.pop();
                    self.block.set(write, e);
                }
            }
            if start != from {
                self.block.copy_within(from..read, start);
            }
        }
        self.offsets = offsets;
        self.heads.fill(NONE);
        self.extra.clear();
        self.next.clear();
    }

    /// Entries not spent, wherever they are.
    pub(crate) fn len(&self) -> usize {
        (self.block.iter(0..self.block.len()))
            .chain(self.extra.iter().copied())
            .filter(|e| !e.spent())
            .count()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        vec_bytes(&self.offsets)
            + self.block.heap_bytes()
            + vec_bytes(&self.heads)
            + vec_bytes(&self.extra)
            + vec_bytes(&self.next)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// A count per item, spent at zero.
    #[derive(Debug, Default, Clone, Copy)]
    struct Tally {
        item: u32,
        count: i64,
    }

    impl Member for Tally {
        fn item(&self) -> u32 {
            self.item
        }
        fn spent(&self) -> bool {
            self.count == 0
        }
    }

    /// Every (key, item) listed with a count other than zero, and its
    /// count; an entry listed twice fails.
    fn counts(sets: &Sets<Tally>) -> BTreeMap<(u32, u32), i64> {
        let mut out = BTreeMap::new();
        for k in 0..sets.keys() {
            for e in sets.entries(k) {
                let twice = out.insert((k, e.item), e.count).is_some();
                assert!(!twice, "key {k} lists item {} twice", e.item);
            }
        }
        out.retain(|_, n| *n != 0);
        out
    }

    proptest! {
        /// Entries made, spent and made again, with rebuilds between, are
        /// found where they are and listed once each with their count, as a
        /// map of them says.
        #[test]
        fn entries_survive_rebuilds_as_a_map_says(
            ops in prop::collection::vec(
                (0u32..7, 0u32..9, -2i64..=2, prop::bool::weighted(0.1)),
                0..200,
            ),
        ) {
            let mut sets = Sets::default();
            let mut want: BTreeMap<(u32, u32), i64> = BTreeMap::new();
            for (k, item, by, rebuild) in ops {
                let slot = match sets.find(k, item) {
                    Some(slot) => slot,
                    None => sets.push(k, Tally { item, count: 0 }),
                };
                sets.get_mut(slot).count += by;
                *want.entry((k, item)).or_default() += by;
                if rebuild {
                    sets.rebuild();
                }
            }
            want.retain(|_, n| *n != 0);
            prop_assert_eq!(counts(&sets), want.clone());
            prop_assert_eq!(sets.len(), want.len());
            sets.compact();
            prop_assert_eq!(counts(&sets), want.clone());
            prop_assert_eq!(sets.block.len(), want.len(), "compact drops spent entries");
        }
    }
}

//! A customer's entries, 5 bytes each: at a million customers with a dozen
//! (store, product)s each, the pair sets were the profiler's largest part.

use std::collections::HashMap;

use crate::memory::sets::Member;

/// An item (a (store, product), by dense id) and how many of one customer's
/// orders contained it. The count is held in a byte; one outside −127..=126
/// is kept whole in [`WideCounts`] and the byte holds its sign's marker, so
/// whether the product is in the customer's set reads without a lookup.
#[derive(Debug, Default, Clone, Copy)]
#[repr(C, packed)]
pub(super) struct Entry {
    pub(super) item: u32,
    count: i8,
}

impl Member for Entry {
    fn item(&self) -> u32 {
        self.item
    }

    /// A count back at zero: the customer no longer holds the item.
    fn spent(&self) -> bool {
        self.is_zero()
    }
}

const ABOVE: i8 = i8::MAX;
const BELOW: i8 = i8::MIN;

impl Entry {
    pub(super) fn new(item: u32) -> Self {
        Self { item, count: 0 }
    }

    /// In the customer's set: its count is positive.
    pub(super) fn held(self) -> bool {
        self.count > 0
    }

    pub(super) fn is_zero(self) -> bool {
        self.count == 0
    }

    fn is_wide(self) -> bool {
        let count = self.count;
        count == ABOVE || count == BELOW
    }
}

/// The counts too large for their entry's byte, by (customer, item).
#[derive(Debug, Default, Clone)]
pub(super) struct WideCounts(HashMap<(u32, u32), i64>);

impl WideCounts {
    pub(super) fn get(&self, customer: u32, e: Entry) -> i64 {
        if e.is_wide() {
            let item = e.item;
            return self.0.get(&(customer, item)).copied().unwrap_or_default();
        }
        i64::from(e.count)
    }

    /// Adds `by` to the customer's count in `e`.
    pub(super) fn add(&mut self, customer: u32, e: &mut Entry, by: i64) {
        let (item, was_wide) = (e.item, e.is_wide());
        let n = self.get(customer, *e).saturating_add(by);
        match i8::try_from(n).ok().filter(|n| *n != ABOVE && *n != BELOW) {
            Some(n) => {
                if was_wide {
                    self.0.remove(&(customer, item));
                }
                e.count = n;
            }
            None => {
                self.0.insert((customer, item), n);
                e.count = if n > 0 { ABOVE } else { BELOW };
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.0.capacity() * (size_of::<((u32, u32), i64)>() + 1) * 8 / 7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_any_size_are_exact_and_their_sign_reads_from_the_byte() {
        assert_eq!(size_of::<Entry>(), 5);
        let mut w = WideCounts::default();
        let mut e = Entry::new(7);
        let mut total = 0_i64;
        for by in [1, 125, 1, 1, 1_000_000, -1_000_126, -2, -300, 300, 1] {
            w.add(3, &mut e, by);
            total += by;
            assert_eq!(w.get(3, e), total);
            assert_eq!((e.held(), e.is_zero()), (total > 0, total == 0));
        }
        assert_eq!(w.0.len(), 0, "a count back in range leaves the map");
        w.add(3, &mut e, -200);
        assert_eq!((w.get(3, e), e.held(), w.0.len()), (-199, false, 1));
        let other = Entry::new(7);
        assert_eq!(w.get(4, other), 0, "another customer's entry is its own");
    }
}

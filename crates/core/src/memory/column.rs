//! A column of `u32`s in 2 bytes a value instead of 4, exactly.
//!
//! The customer book's days (1970 to 2149 fit) and store ids (a chain has
//! hundreds) nearly always fit 16 bits; held as `u32`s they took 8 of a
//! row's 16 bytes. A value that does not fit widens the whole column once,
//! in place, to 32 bits: no value is ever clamped or wrapped.

use std::ops::Range;

/// `u32` values held in 16 bits while every one fits, in 32 bits after the
/// first that does not.
#[derive(Debug, Clone)]
pub(super) enum Column {
    Short(Vec<u16>),
    Long(Vec<u32>),
}

impl Default for Column {
    fn default() -> Self {
        Column::Short(Vec::new())
    }
}

impl Column {
    pub(super) fn len(&self) -> usize {
        match self {
            Column::Short(v) => v.len(),
            Column::Long(v) => v.len(),
        }
    }

    pub(super) fn get(&self, i: usize) -> u32 {
        match self {
            Column::Short(v) => u32::from(v[i]),
            Column::Long(v) => v[i],
        }
    }

    pub(super) fn set(&mut self, i: usize, value: u32) {
        match self.fitting(value) {
            Column::Short(v) => v[i] = value as u16,
            Column::Long(v) => v[i] = value,
        }
    }

    pub(super) fn push(&mut self, value: u32) {
        match self.fitting(value) {
            Column::Short(v) => v.push(value as u16),
            Column::Long(v) => v.push(value),
        }
    }

    /// The column, widened first if `value` does not fit it: after this a
    /// short column holds `value` exactly as `value as u16`.
    fn fitting(&mut self, value: u32) -> &mut Self {
        if let Column::Short(v) = self
            && u16::try_from(value).is_err()
        {
            // Exact capacity: a widened block stays as snug as the short one.
            let mut long = Vec::with_capacity(v.len());
            long.extend(v.iter().map(|&x| u32::from(x)));
            *self = Column::Long(long);
        }
        self
    }

    /// See [`grow`].
    pub(super) fn grow(&mut self, len: usize) {
        match self {
            Column::Short(v) => grow(v, len),
            Column::Long(v) => grow(v, len),
        }
    }

    pub(super) fn copy_within(&mut self, src: Range<usize>, dest: usize) {
        match self {
            Column::Short(v) => v.copy_within(src, dest),
            Column::Long(v) => v.copy_within(src, dest),
        }
    }

    /// See [`place`].
    pub(super) fn place(&mut self, places: &[u32]) {
        match self {
            Column::Short(v) => place(v, places),
            Column::Long(v) => place(v, places),
        }
    }

    /// The absolute index of the first value in `range` for which `pred`
    /// is false, the range being partitioned by it.
    pub(super) fn partition_point(
        &self,
        range: Range<usize>,
        mut pred: impl FnMut(u32) -> bool,
    ) -> usize {
        let start = range.start;
        start
            + match self {
                Column::Short(v) => v[range].partition_point(|&x| pred(u32::from(x))),
                Column::Long(v) => v[range].partition_point(|&x| pred(x)),
            }
    }

    /// The values in `range`, without a width check per value.
    pub(super) fn iter(&self, range: Range<usize>) -> impl Iterator<Item = u32> + '_ {
        let (short, long): (&[u16], &[u32]) = match self {
            Column::Short(v) => (&v[range], &[]),
            Column::Long(v) => (&[], &v[range]),
        };
        (short.iter().map(|&x| u32::from(x))).chain(long.iter().copied())
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Column::Short(v) => super::vec_bytes(v),
            Column::Long(v) => super::vec_bytes(v),
        }
    }
}

/// Moves every value of a column to its place; the new column is allocated
/// exactly and the old one freed, so one column is held twice at a time.
pub(super) fn place<T: Copy + Default>(column: &mut Vec<T>, places: &[u32]) {
    let mut placed = vec![T::default(); column.len()];
    for (value, at) in column.iter().zip(places) {
        placed[*at as usize] = *value;
    }
    *column = placed;
}

/// Lengthens a column to `len` with room for exactly that: growth by
/// doubling would leave up to half of it unused until the next rebuild.
pub(super) fn grow<T: Copy + Default>(column: &mut Vec<T>, len: usize) {
    column.reserve_exact(len.saturating_sub(column.len()));
    column.resize(len, T::default());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn values(c: &Column) -> Vec<u32> {
        c.iter(0..c.len()).collect()
    }

    #[test]
    fn values_that_fit_stay_short_and_the_first_that_does_not_widens_exactly() {
        let mut c = Column::default();
        c.grow(1_000);
        c.set(1, 65_535);
        c.set(999, 7);
        assert!(matches!(c, Column::Short(_)));
        assert_eq!(c.heap_bytes(), 2_000, "2 bytes a value");
        c.set(500, 65_536);
        assert!(matches!(c, Column::Long(_)));
        assert_eq!(c.heap_bytes(), 4_000, "widened to its exact length");
        let mut want = vec![0; 1_000];
        (want[1], want[500], want[999]) = (65_535, 65_536, 7);
        assert_eq!(values(&c), want);
        let mut c = Column::default();
        c.push(1);
        c.push(u32::MAX);
        assert_eq!(values(&c), [1, u32::MAX]);
        // Once wide, a column stays wide: it widens once, not back and forth.
        c.set(1, 3);
        assert!(matches!(c, Column::Long(_)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Set(usize, u32),
        Grow(usize),
        CopyWithin(usize, usize, usize),
        Place(u32),
    }

    /// Mostly values that fit, now and then one that does not.
    fn value() -> impl Strategy<Value = u32> {
        prop_oneof![8 => 0u32..=65_535, 1 => 65_536u32..70_000, 1 => any::<u32>()]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => value().prop_map(Op::Push),
            3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (0usize..8).prop_map(Op::Grow),
            1 => (any::<usize>(), any::<usize>(), any::<usize>())
                .prop_map(|(a, b, d)| Op::CopyWithin(a, b, d)),
            1 => any::<u32>().prop_map(Op::Place),
        ]
    }

    proptest! {
        /// Any sequence of operations leaves the values of a plain `Vec<u32>`,
        /// and the column is short exactly while no value has been too wide.
        #[test]
        fn agrees_with_a_vec_of_u32(ops in prop::collection::vec(op(), 0..60)) {
            let (mut c, mut want, mut wide) = (Column::default(), Vec::<u32>::new(), false);
            for op in ops {
                let n = want.len();
                match op {
                    Op::Push(v) => {
                        c.push(v);
                        want.push(v);
                        wide |= v > 65_535;
                    }
                    Op::Set(i, v) if n > 0 => {
                        c.set(i % n, v);
                        want[i % n] = v;
                        wide |= v > 65_535;
                    }
                    Op::Set(..) => {}
                    Op::Grow(by) => {
                        c.grow(n + by);
                        grow(&mut want, n + by);
                    }
                    Op::CopyWithin(a, b, d) if n > 0 => {
                        let (a, b) = (a % (n + 1), b % (n + 1));
                        let src = a.min(b)..a.max(b);
                        let dest = d % (n - src.len() + 1);
                        c.copy_within(src.clone(), dest);
                        want.copy_within(src, dest);
                    }
                    Op::CopyWithin(..) => {}
                    Op::Place(seed) => {
                        let mut places: Vec<u32> = (0..n as u32).collect();
                        places.sort_by_key(|&i| (u64::from(i) * u64::from(seed | 1)) % 1_009);
                        c.place(&places);
                        place(&mut want, &places);
                    }
                }
                prop_assert_eq!(values(&c), want.clone());
                prop_assert_eq!(c.len(), want.len());
                prop_assert_eq!(matches!(c, Column::Long(_)), wide);
            }
            for (i, v) in want.iter().enumerate() {
                prop_assert_eq!(c.get(i), *v);
            }
        }

        /// A binary search over a sorted sub-range finds what the slice's does.
        #[test]
        fn partition_point_agrees_with_the_slices(
            mut vs in prop::collection::vec(value(), 0..40),
            a in any::<usize>(),
            b in any::<usize>(),
            pivot in value(),
        ) {
            let n = vs.len();
            let (a, b) = (a % (n + 1), b % (n + 1));
            let range = a.min(b)..a.max(b);
            vs[range.clone()].sort_unstable();
            let mut c = Column::default();
            vs.iter().for_each(|v| c.push(*v));
            let want = range.start + vs[range.clone()].partition_point(|v| *v < pivot);
            prop_assert_eq!(c.partition_point(range, |v| v < pivot), want);
        }
    }
}

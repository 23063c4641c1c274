//! A column of `u32`s in 2 bytes a value instead of 4, exactly.
//!
//! The customer book's days (1970 to 2149 fit) and store ids (a chain has
//! hundreds) nearly always fit 16 bits; held as `u32`s they took 8 of a
//! row's 16 bytes. A value that does not fit widens the whole column once,
//! in place, to 32 bits: no value is ever clamped or wrapped.

use std::ops::Range;

use super::chunked::Chunked;

/// `u32` values held in 16 bits while every one fits, in 32 bits after the
/// first that does not; in chunks (see [`Chunked`]).
#[derive(Debug, Clone)]
pub(super) enum Column {
    Short(Chunked<u16>),
    Long(Chunked<u32>),
}

impl Default for Column {
    fn default() -> Self {
        Column::Short(Chunked::default())
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
            Column::Short(v) => u32::from(v.get(i)),
            Column::Long(v) => v.get(i),
        }
    }

    pub(super) fn set(&mut self, i: usize, value: u32) {
        match self.fitting(value) {
            Column::Short(v) => v.set(i, value as u16),
            Column::Long(v) => v.set(i, value),
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
            let mut long = Chunked::default();
            long.resize(v.len());
            for (i, x) in v.iter(0..v.len()).enumerate() {
                long.set(i, u32::from(x));
            }
            *self = Column::Long(long);
        }
        self
    }

    /// Lengthens the column with zeros to `len`.
    pub(super) fn grow(&mut self, len: usize) {
        match self {
            Column::Short(v) => v.resize(len.max(v.len())),
            Column::Long(v) => v.resize(len.max(v.len())),
        }
    }

    /// Shortens the column to `len`.
    pub(super) fn truncate(&mut self, len: usize) {
        match self {
            Column::Short(v) => v.resize(len.min(v.len())),
            Column::Long(v) => v.resize(len.min(v.len())),
        }
    }

    pub(super) fn copy_within(&mut self, src: Range<usize>, dest: usize) {
        match self {
            Column::Short(v) => v.copy_within(src, dest),
            Column::Long(v) => v.copy_within(src, dest),
        }
    }

    /// The absolute index of the first value in `range` for which `pred`
    /// is false, the range being partitioned by it.
    pub(super) fn partition_point(&self, range: Range<usize>, pred: impl Fn(u32) -> bool) -> usize {
        match self {
            Column::Short(v) => v.partition_point(range, |x| pred(u32::from(x))),
            Column::Long(v) => v.partition_point(range, pred),
        }
    }

    /// The values in `range`, without a width check per value.
    pub(super) fn iter(&self, range: Range<usize>) -> impl Iterator<Item = u32> + '_ {
        let (short, long) = match self {
            Column::Short(v) => (Some(v.iter(range)), None),
            Column::Long(v) => (None, Some(v.iter(range))),
        };
        (short.into_iter().flatten().map(u32::from)).chain(long.into_iter().flatten())
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Column::Short(v) => v.heap_bytes(),
            Column::Long(v) => v.heap_bytes(),
        }
    }
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
        let short = c.heap_bytes();
        c.set(500, 65_536);
        assert!(matches!(c, Column::Long(_)));
        assert!(c.heap_bytes() > 2 * short - 100, "2 bytes a value, then 4");
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
                        want.resize(n + by, 0);
                    }
                    Op::CopyWithin(a, b, d) if n > 0 => {
                        let (a, b) = (a % (n + 1), b % (n + 1));
                        let src = a.min(b)..a.max(b);
                        let dest = d % (n - src.len() + 1);
                        c.copy_within(src.clone(), dest);
                        want.copy_within(src, dest);
                    }
                    Op::CopyWithin(..) => {}
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

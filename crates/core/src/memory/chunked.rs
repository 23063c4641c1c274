//! A vector held in fixed-size chunks, for the state's largest columns.
//!
//! A `Vec` grows by moving: the allocator maps a larger block, copies, then
//! frees the old one, so growing a 76 MB column holds 152 MB for a moment.
//! The customer book and the customer pairs grow their block at every
//! rebuild, and those moments were the consumers' peaks, above the 512 MiB a
//! pod may use. Chunks are added, never moved: growing costs one chunk.

use std::ops::Range;

/// Values in chunks of `1 << SHIFT` (by default 4 Mi: 8 to 32 MiB a chunk
/// for the state's columns). Large chunks, because the allocator keeps each
/// in few pages of its own, given back whole when freed; 64 Ki-value chunks
/// left holes among other blocks and raised the profiler's idle RSS by
/// ~25 MiB. A chunk's room past its values is never written, so it costs
/// address space, not memory.
#[derive(Debug, Clone)]
pub(super) struct Chunked<T, const SHIFT: u32 = 22> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T, const SHIFT: u32> Default for Chunked<T, SHIFT> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy + Default, const SHIFT: u32> Chunked<T, SHIFT> {
    const CHUNK: usize = 1 << SHIFT;
    const MASK: usize = Self::CHUNK - 1;

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, i: usize) -> T {
        self.chunks[i >> SHIFT][i & Self::MASK]
    }

    pub(super) fn get_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> SHIFT][i & Self::MASK]
    }

    pub(super) fn set(&mut self, i: usize, value: T) {
        *self.get_mut(i) = value;
    }

    pub(super) fn push(&mut self, value: T) {
        if self.len == self.chunks.len() << SHIFT {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        if let Some(last) = self.chunks.last_mut() {
            last.push(value);
        }
        self.len += 1;
    }

    /// Lengthens with default values or shortens, giving back whole chunks.
    pub(super) fn resize(&mut self, len: usize) {
        let chunks = len.div_ceil(Self::CHUNK);
        self.chunks.truncate(chunks);
        while self.chunks.len() < chunks {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        for (c, chunk) in self.chunks.iter_mut().enumerate() {
            let want = (len - (c << SHIFT)).min(Self::CHUNK);
            if chunk.len() != want {
                chunk.resize(want, T::default());
            }
        }
        self.len = len;
    }

    pub(super) fn iter(&self, range: Range<usize>) -> impl Iterator<Item = T> + '_ {
        range.map(|i| self.get(i))
    }

    /// The first index in `range` where `pred` is false, `pred` being true
    /// then false along the range (as `slice::partition_point`).
    pub(super) fn partition_point(&self, range: Range<usize>, pred: impl Fn(T) -> bool) -> usize {
        let (mut lo, mut hi) = (range.start, range.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.get(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// `slice::copy_within`: the ranges may overlap.
    pub(super) fn copy_within(&mut self, src: Range<usize>, dest: usize) {
        let n = src.len();
        assert!(
            src.end <= self.len && dest + n <= self.len,
            "copy past the length"
        );
        // Runs that stay inside one chunk at both ends, front first when
        // moving left and back first when moving right, so that no value is
        // overwritten before it is read.
        let mut done = 0;
        while done < n {
            let run = if dest <= src.start {
                let (s, d) = (src.start + done, dest + done);
                let run = (n - done)
                    .min(Self::CHUNK - (s & Self::MASK))
                    .min(Self::CHUNK - (d & Self::MASK));
                self.copy_run(s, d, run);
                run
            } else {
                let (s_end, d_end) = (src.end - done, dest + n - done);
                let run = (n - done)
                    .min(((s_end - 1) & Self::MASK) + 1)
                    .min(((d_end - 1) & Self::MASK) + 1);
                self.copy_run(s_end - run, d_end - run, run);
                run
            };
            done += run;
        }
    }

    /// Copies `run` values from `s` to `d`, each run inside one chunk.
    fn copy_run(&mut self, s: usize, d: usize, run: usize) {
        let (sc, so, dc, d_at) = (s >> SHIFT, s & Self::MASK, d >> SHIFT, d & Self::MASK);
        if sc == dc {
            self.chunks[sc].copy_within(so..so + run, d_at);
            return;
        }
        let (low, high) = self.chunks.split_at_mut(sc.max(dc));
        let (from, to) = if sc < dc {
            (&low[sc], &mut high[0])
        } else {
            (&high[0], &mut low[dc])
        };
        to[d_at..d_at + run].copy_from_slice(&from[so..so + run]);
    }

    /// The values' bytes: a chunk's room past them is never touched.
    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * size_of::<Vec<T>>() + self.len * size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Set(usize, u32),
        Resize(usize),
        /// Source start, length and destination, reduced to fit.
        Copy(usize, usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Lengths of a few chunks, so runs cross chunk boundaries.
        let at = 0..3 * 16 + 5_usize;
        prop_oneof![
            any::<u32>().prop_map(Op::Push),
            (at.clone(), any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
            at.clone().prop_map(Op::Resize),
            (at.clone(), at.clone(), at).prop_map(|(a, n, d)| Op::Copy(a, n, d)),
        ]
    }

    proptest! {
        /// Any sequence of pushes, sets, resizes and overlapping copies
        /// leaves the values a `Vec` would hold, and a binary search over a
        /// sorted part finds what the slice's finds.
        #[test]
        fn agrees_with_a_vec(ops in prop::collection::vec(op(), 1..40), cut in any::<u32>()) {
            // Chunks of 16 values, so that copies cross them often.
            let (mut c, mut v) = (Chunked::<u32, 4>::default(), Vec::<u32>::new());
            for op in ops {
                match op {
                    Op::Push(x) => {
                        c.push(x);
                        v.push(x);
                    }
                    Op::Set(i, x) if i < v.len() => {
                        c.set(i, x);
                        v[i] = x;
                    }
                    Op::Resize(n) => {
                        // New values all different, so a copy that reads a
                        // value after overwriting it shows.
                        let old = v.len();
                        c.resize(n);
                        v.resize(n, 0);
                        for (i, x) in v.iter_mut().enumerate().skip(old) {
                            *x = i as u32 + 1;
                            c.set(i, *x);
                        }
                    }
                    Op::Copy(a, n, d) if !v.is_empty() => {
                        let a = a % v.len();
                        let n = n.min(v.len() - a);
                        let d = d % (v.len() - n + 1);
                        c.copy_within(a..a + n, d);
                        v.copy_within(a..a + n, d);
                    }
                    _ => {}
                }
                prop_assert_eq!(c.len(), v.len());
            }
            prop_assert!(c.iter(0..c.len()).eq(v.iter().copied()));
            let from = v.len() / 2;
            v[from..].sort_unstable();
            for (i, x) in v.iter().enumerate().skip(from) {
                c.set(i, *x);
            }
            let want = from + v[from..].partition_point(|x| *x < cut);
            prop_assert_eq!(c.partition_point(from..v.len(), |x| x < cut), want);
        }
    }
}

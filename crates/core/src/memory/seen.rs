//! A set of names that answers "maybe" or a certain "no" (a Bloom filter), in
//! about a byte a name. A consumer keeps the orders its `applied` table holds
//! in one, so a batch looks up only the orders it may have seen: the lookup
//! of a batch's every order was a sixth of PostgreSQL's time.

use std::hash::{BuildHasher, RandomState};

/// Bits per name a layer is sized for: with 4 probes, about 2.4 % of the
/// names never added answer "maybe" once the layer is full.
const BITS_PER_NAME: usize = 8;
const PROBES: u64 = 4;
/// The smallest layer: 128 KiB.
const MIN_CAPACITY: usize = 1 << 17;

/// Grows without ever forgetting: a full layer stays and a new one twice its
/// size takes the next names, so no name has to be read again to grow.
#[derive(Debug)]
pub struct Seen {
    layers: Vec<Layer>,
    hasher: RandomState,
}

#[derive(Debug)]
struct Layer {
    words: Vec<u64>,
    bits: u64,
    capacity: usize,
    len: usize,
}

impl Layer {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_CAPACITY);
        let words = (capacity * BITS_PER_NAME).div_ceil(64);
        Self {
            words: vec![0; words],
            bits: words as u64 * 64,
            capacity,
            len: 0,
        }
    }

    /// The probes' bit positions: double hashing, each mapped onto the
    /// layer's bits by a multiply-shift, so a layer need not be a power of two.
    fn probes(bits: u64, hash: u64) -> impl Iterator<Item = usize> {
        let step = hash.rotate_left(32) | 1;
        (0..PROBES).map(move |i| {
            let h = hash.wrapping_add(i.wrapping_mul(step));
            ((u128::from(h) * u128::from(bits)) >> 64) as usize
        })
    }

    fn insert(&mut self, hash: u64) {
        for bit in Self::probes(self.bits, hash) {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
        self.len += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        Self::probes(self.bits, hash).all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

impl Default for Seen {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl Seen {
    /// A filter sized for `capacity` names before it first grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            layers: vec![Layer::new(capacity)],
            hasher: RandomState::new(),
        }
    }

    pub fn insert(&mut self, name: &str) {
        let hash = self.hasher.hash_one(name);
        let last = self.layers.len() - 1;
        if self.layers[last].len >= self.layers[last].capacity {
            let capacity = self.layers[last].capacity * 2;
            self.layers.push(Layer::new(capacity));
        }
        let last = self.layers.len() - 1;
        self.layers[last].insert(hash);
    }

    /// False only for a name never inserted.
    pub fn may_contain(&self, name: &str) -> bool {
        let hash = self.hasher.hash_one(name);
        self.layers.iter().any(|l| l.may_contain(hash))
    }

    /// Names inserted (a name inserted twice counts twice).
    pub fn len(&self) -> usize {
        self.layers.iter().map(|l| l.len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.words.capacity() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_name_is_found_across_growth() {
        let mut seen = Seen::with_capacity(0);
        let names: Vec<String> = (0..600_000).map(|i| format!("o-{i:08}")).collect();
        for n in &names {
            seen.insert(n);
        }
        assert!(seen.layers.len() > 2, "the test must make the filter grow");
        assert!(names.iter().all(|n| seen.may_contain(n)));
        assert_eq!(seen.len(), names.len());
    }

    #[test]
    fn few_names_never_inserted_answer_maybe() {
        let full = MIN_CAPACITY;
        let mut seen = Seen::with_capacity(full);
        for i in 0..full {
            seen.insert(&format!("o-{i:08}"));
        }
        assert_eq!(seen.layers.len(), 1);
        let maybe = (full..full + 100_000)
            .filter(|i| seen.may_contain(&format!("o-{i:08}")))
            .count();
        // 2.4 % in theory for a full layer.
        assert!(maybe < 3_000, "{maybe} of 100,000 answered maybe");
        assert!(!Seen::default().may_contain("o-1"));
    }
}

use crate::memory::heap::{HeapSize, vec_bytes};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::iter::Peekable;
use std::ops::Bound;

use hashbrown::HashTable;

/// Names interned since the last merge that `ordered` may lag behind by,
/// besides an eighth of its length: merges stay geometric (a bulk load of n
/// names merges O(log n) times), and the tail stays small.
const TAIL: usize = 4_096;

/// Dense `u32` ids for string ids (customers, stores, products), so the
/// serving state is arrays indexed by id. Every name is stored once, in one
/// arena. A million 10-character customer ids take 43 MiB, against 140 MiB
/// for the earlier hash map and ordered map of shared strings (measured once,
/// release build, VmRSS before and after). A
/// hash table of ids answers lookups (the consumer's hot path); the name
/// order, which lists page in, is a sorted array of ids plus a small ordered
/// tail of the names interned since it was last merged.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    /// Every name back to back, in id order.
    arena: String,
    /// Where each name ends in `arena`; it starts where the one before ends.
    ends: Vec<usize>,
    /// Ids, found by their name's hash.
    lookup: HashTable<u32>,
    hasher: RandomState,
    /// Ids in name order, as of the last merge.
    ordered: Vec<u32>,
    /// The names interned since, in name order.
    tail: BTreeMap<Box<str>, u32>,
}

impl HeapSize for Interner {
    fn heap_bytes(&self) -> usize {
        // A hash table bucket is the id and one control byte.
        let tail: usize = (self.tail.keys())
            .map(|k| k.len() + size_of::<(Box<str>, u32)>())
            .sum();
        self.arena.capacity()
            + vec_bytes(&self.ends)
            + self.lookup.capacity() * (size_of::<u32>() + 1)
            + vec_bytes(&self.ordered)
            + tail
    }
}

impl Interner {
    /// The id of `name`, allocated on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        // One hash serves the lookup and, for a new name, the insert.
        let hash = self.hasher.hash_one(name);
        if let Some(id) = self.find(hash, name) {
            return id;
        }
        let id = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        self.arena.push_str(name);
        self.ends.push(self.arena.len());
        let Self {
            arena,
            ends,
            lookup,
            hasher,
            ..
        } = self;
        lookup.insert_unique(hash, id, |&other| {
            hasher.hash_one(name_in(arena, ends, other))
        });
        self.tail.insert(name.into(), id);
        if self.tail.len() > TAIL + self.ordered.len() / 8 {
            self.merge();
        }
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.find(self.hasher.hash_one(name), name)
    }

    fn find(&self, hash: u64, name: &str) -> Option<u32> {
        (self.lookup)
            .find(hash, |&id| self.name(id) == name)
            .copied()
    }

    pub fn name(&self, id: u32) -> &str {
        name_in(&self.arena, &self.ends, id)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every (name, id) in name order.
    pub fn sorted(&self) -> impl Iterator<Item = (&str, u32)> {
        let tail = self.tail.iter().map(|(n, &id)| (&**n, id));
        Merge::new(self.named(&self.ordered), tail)
    }

    /// Ids in name order starting after `name` (exclusive), for page tokens.
    pub fn sorted_after<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, u32)> {
        let start = (self.ordered).partition_point(|&id| self.name(id) <= name);
        let tail = (self.tail)
            .range::<str, _>((Bound::Excluded(name), Bound::Unbounded))
            .map(|(n, &id)| (&**n, id));
        Merge::new(self.named(&self.ordered[start..]), tail)
    }

    fn named<'a>(&'a self, ids: &'a [u32]) -> impl Iterator<Item = (&'a str, u32)> {
        ids.iter().map(|&id| (self.name(id), id))
    }

    /// Folds the tail into the ordered ids.
    fn merge(&mut self) {
        let tail = std::mem::take(&mut self.tail);
        let tail = tail.iter().map(|(n, &id)| (&**n, id));
        let merged: Vec<u32> = Merge::new(self.named(&self.ordered), tail)
            .map(|(_, id)| id)
            .collect();
        self.ordered = merged;
    }
}

fn name_in<'a>(arena: &'a str, ends: &[usize], id: u32) -> &'a str {
    let i = id as usize;
    let Some(&end) = ends.get(i) else {
        return "";
    };
    let start = if i == 0 { 0 } else { ends[i - 1] };
    arena.get(start..end).unwrap_or("")
}

/// Two name-ordered sequences of distinct names as one.
struct Merge<'a, A: Iterator<Item = (&'a str, u32)>, B: Iterator<Item = (&'a str, u32)>> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<'a, A, B> Merge<'a, A, B>
where
    A: Iterator<Item = (&'a str, u32)>,
    B: Iterator<Item = (&'a str, u32)>,
{
    fn new(a: A, b: B) -> Self {
        Self {
            a: a.peekable(),
            b: b.peekable(),
        }
    }
}

impl<'a, A, B> Iterator for Merge<'a, A, B>
where
    A: Iterator<Item = (&'a str, u32)>,
    B: Iterator<Item = (&'a str, u32)>,
{
    type Item = (&'a str, u32);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.0 < x.0 => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable_and_order_is_by_name() {
        let mut i = Interner::default();
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern("a"), 1);
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.name(1), "a");
        assert_eq!(i.sorted().map(|(n, _)| n).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            i.sorted_after("a").map(|(_, id)| id).collect::<Vec<_>>(),
            [0]
        );
        assert_eq!(i.get("c"), None);
        assert_eq!(i.name(7), "");
    }

    /// Past several merges, against a plain ordered map of the same names:
    /// lookups, names, the order, and every page start (present or not).
    #[test]
    fn merged_and_tail_names_keep_the_order_of_a_plain_map() {
        let mut i = Interner::default();
        let mut want: BTreeMap<String, u32> = BTreeMap::new();
        // A scrambled order, with an empty name and multi-byte ones.
        for k in 0..30_000u32 {
            let n = (k * 7_919) % 30_000;
            let name = match n % 3 {
                0 => format!("c{n}"),
                1 => format!("顾客{n}"),
                _ => format!("C-{n:05}"),
            };
            let id = i.intern(&name);
            assert_eq!(*want.entry(name).or_insert(id), id);
        }
        let id = i.intern("");
        want.insert(String::new(), id);
        assert!(
            !i.ordered.is_empty() && !i.tail.is_empty(),
            "both parts used"
        );
        assert_eq!(i.len(), want.len());
        for (name, &id) in &want {
            assert_eq!(i.get(name), Some(id));
            assert_eq!(i.name(id), name);
        }
        let got: Vec<(&str, u32)> = i.sorted().collect();
        let all: Vec<(&str, u32)> = want.iter().map(|(n, &id)| (n.as_str(), id)).collect();
        assert_eq!(got, all);
        for from in ["", "c1", "c15", "zz", "顾客29999", "C-0", "d"] {
            let got: Vec<u32> = i.sorted_after(from).map(|(_, id)| id).collect();
            let want: Vec<u32> = (want.range::<str, _>((Bound::Excluded(from), Bound::Unbounded)))
                .map(|(_, &id)| id)
                .collect();
            assert_eq!(got, want, "after {from:?}");
        }
    }
}

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Dense `u32` ids for string ids (customers, stores, products), so the
/// serving state is arrays indexed by id. A hash map answers lookups (the
/// consumer's hot path); an ordered map keeps name order, because lists page
/// in id order.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    lookup: HashMap<Arc<str>, u32>,
    by_name: BTreeMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    /// The id of `name`, allocated on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.lookup.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.by_name.insert(name.clone(), id);
        self.lookup.insert(name, id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.lookup.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every (name, id) in name order.
    pub fn sorted(&self) -> impl Iterator<Item = (&str, u32)> {
        self.by_name.iter().map(|(n, &id)| (&**n, id))
    }

    /// Ids in name order starting after `name` (exclusive), for page tokens.
    pub fn sorted_after<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, u32)> {
        use std::ops::Bound;
        self.by_name
            .range::<str, _>((Bound::Excluded(name), Bound::Unbounded))
            .map(|(n, &id)| (&**n, id))
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
    }
}

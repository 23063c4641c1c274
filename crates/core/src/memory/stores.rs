use crate::memory::Interner;
use crate::memory::heap::{HeapSize, vec_bytes};
use crate::{ResolvedFilter, StoreInfo};

/// The stores a projection has seen, with their latest name and city.
#[derive(Debug, Default, Clone)]
pub struct Stores {
    ids: Interner,
    info: Vec<StoreInfo>,
}

/// The stores a filter selects, as a mask over store ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Only(Vec<bool>),
}

impl Selection {
    pub fn contains(&self, store: u32) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(mask) => mask.get(store as usize).copied().unwrap_or(false),
        }
    }

    /// The selected ids, or `None` for all stores.
    pub fn ids(&self) -> Option<Vec<u32>> {
        match self {
            Selection::All => None,
            Selection::Only(mask) => Some(
                mask.iter()
                    .enumerate()
                    .filter(|(_, on)| **on)
                    .map(|(i, _)| i as u32)
                    .collect(),
            ),
        }
    }
}

impl HeapSize for Stores {
    fn heap_bytes(&self) -> usize {
        let names: usize = (self.info.iter())
            .map(|i| i.name.capacity() + i.city.capacity())
            .sum();
        self.ids.heap_bytes() + vec_bytes(&self.info) + names
    }
}

impl Stores {
    /// The id of a store, allocated on first sight.
    pub fn id(&mut self, store_id: &str) -> u32 {
        let id = self.ids.intern(store_id);
        if id as usize >= self.info.len() {
            self.info.resize(id as usize + 1, StoreInfo::default());
        }
        id
    }

    /// The id of a store seen before.
    pub fn get(&self, store_id: &str) -> Option<u32> {
        self.ids.get(store_id)
    }

    /// Records a store's latest name and city.
    pub fn describe(&mut self, store_id: &str, info: &StoreInfo) -> u32 {
        let id = self.id(store_id);
        self.info[id as usize].clone_from(info);
        id
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn name(&self, id: u32) -> &str {
        self.ids.name(id)
    }

    /// Every store with its latest name and city, in store-id order.
    pub fn sorted(&self) -> impl Iterator<Item = (&str, &StoreInfo)> {
        self.ids
            .sorted()
            .filter_map(|(id, i)| Some((id, self.info.get(i as usize)?)))
    }

    /// Stores named by id, or whose current city is one of the filter's cities.
    /// A store's latest name and city.
    pub fn info(&self, id: u32) -> Option<&StoreInfo> {
        self.info.get(id as usize)
    }

    pub fn select(&self, f: &ResolvedFilter) -> Selection {
        if f.all_stores() {
            return Selection::All;
        }
        let mut mask = vec![false; self.len()];
        for id in &f.store_ids {
            if let Some(i) = self.ids.get(id) {
                mask[i as usize] = true;
            }
        }
        if !f.cities.is_empty() {
            for (i, info) in self.info.iter().enumerate() {
                if f.cities.contains(&info.city) {
                    mask[i] = true;
                }
            }
        }
        Selection::Only(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_cities_select_the_union_by_latest_city() {
        let mut s = Stores::default();
        let info = |city: &str| StoreInfo {
            name: "n".into(),
            city: city.into(),
        };
        s.describe("a", &info("上海"));
        s.describe("b", &info("北京"));
        s.describe("c", &info("上海"));
        s.describe("c", &info("杭州"));
        let f = ResolvedFilter {
            store_ids: vec!["b".into(), "zz".into()],
            cities: vec!["上海".into()],
            from: None,
            to: 10,
            as_of: 9,
        };
        assert_eq!(s.select(&f).ids(), Some(vec![0, 1]));
        let all = ResolvedFilter {
            store_ids: vec![],
            cities: vec![],
            ..f
        };
        assert_eq!(s.select(&all), Selection::All);
        let listed: Vec<(&str, &str)> = s.sorted().map(|(id, i)| (id, i.city.as_str())).collect();
        assert_eq!(listed, [("a", "上海"), ("b", "北京"), ("c", "杭州")]);
    }
}

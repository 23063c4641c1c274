use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

/// A projection's serving state with a version that moves on every change,
/// so answers can be cached per (question, version), and an incarnation that
/// moves when the state is replaced whole (a load, a rebuild): dense ids are
/// handed out anew then, so anything kept by dense id beside the state (a
/// fit, clusters, borrowed figures) belongs to one incarnation only.
#[derive(Debug, Default)]
pub struct Live<S> {
    state: RwLock<S>,
    version: AtomicU64,
    incarnation: AtomicU64,
}

impl<S> Live<S> {
    /// The state and the version it is at; readers block the writer only
    /// while they compute.
    pub fn read(&self) -> (RwLockReadGuard<'_, S>, u64) {
        let guard = self.state.read().unwrap_or_else(PoisonError::into_inner);
        // Read under the lock: writers bump it while holding the write lock.
        let version = self.version.load(Ordering::Acquire);
        (guard, version)
    }

    pub fn update(&self, change: impl FnOnce(&mut S)) {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        change(&mut guard);
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    pub fn replace(&self, state: S) {
        self.update(|s| {
            *s = state;
            // Under the write lock: a reader holding the state sees its own.
            self.incarnation.fetch_add(1, Ordering::AcqRel);
        });
    }

    /// Read while holding the state (`read`) to get that state's.
    pub fn incarnation(&self) -> u64 {
        self.incarnation.load(Ordering::Acquire)
    }
}

/// Answers keyed by question, valid while the state's version is unchanged.
#[derive(Debug)]
pub struct AnswerCache<K, V> {
    entries: Mutex<HashMap<K, (u64, Arc<V>)>>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> AnswerCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The cached answer at `version`, or `compute`'s, remembered.
    pub fn get_or(&self, key: &K, version: u64, compute: impl FnOnce() -> V) -> Arc<V> {
        match self.get(key, version) {
            Some(answer) => answer,
            None => self.put(key, version, compute()),
        }
    }

    /// The cached answer at `version`, if any (for answers computed
    /// asynchronously, then `put`).
    pub fn get(&self, key: &K, version: u64) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        (entries.get(key))
            .filter(|(v, _)| *v == version)
            .map(|(_, answer)| answer.clone())
    }

    /// Remembers `answer` at `version`.
    pub fn put(&self, key: &K, version: u64, answer: V) -> Arc<V> {
        let answer = Arc::new(answer);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Answers of older versions can never be served again: drop them, so
        // large answers do not pile up while the state keeps moving.
        entries.retain(|_, (v, _)| *v == version);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key.clone(), (version, answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_replaced_state_is_a_new_incarnation() {
        let live = Live::<i32>::default();
        let before = live.incarnation();
        live.update(|s| *s += 1);
        assert_eq!(live.incarnation(), before);
        live.replace(9);
        assert_eq!(live.incarnation(), before + 1);
        assert_eq!(*live.read().0, 9);
    }

    #[test]
    fn cache_answers_only_at_the_same_version() {
        let live = Live::<i32>::default();
        let cache = AnswerCache::new(2);
        let ask = |live: &Live<i32>| {
            let (s, v) = live.read();
            *cache.get_or(&"q", v, || *s * 10)
        };
        assert_eq!(ask(&live), 0);
        live.replace(4);
        assert_eq!(ask(&live), 40);
        live.update(|s| *s += 1);
        assert_eq!(ask(&live), 50);
    }

    #[test]
    fn put_answers_get_at_its_version_only() {
        let cache = AnswerCache::new(2);
        assert!(cache.get(&"q", 1).is_none());
        assert_eq!(*cache.put(&"q", 1, 7), 7);
        assert_eq!(cache.get(&"q", 1).as_deref(), Some(&7));
        assert!(cache.get(&"q", 2).is_none());
        assert!(cache.get(&"other", 1).is_none());
    }
}

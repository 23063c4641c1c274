//! A pass over a whole population split across the machine's cores: the
//! first answer for a filter nobody asked before (every customer's figures
//! under it) waits for that pass.

/// Below this many items a chunk stays on the caller's thread: starting a
/// thread costs tens of microseconds.
const MIN_PER_THREAD: usize = 50_000;

fn cores() -> usize {
    // Asking the OS reads cgroup files: once per process.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |p| p.get()))
}

/// `f` over consecutive chunks of `items`, one chunk per core at most, the
/// results in the items' order: the same as `f(items)` for any `f` that
/// maps each item on its own. A panic in a chunk goes on in the caller.
pub(crate) fn map_chunks<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> Vec<R> + Sync,
{
    let threads = cores().min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return f(items);
    }
    let size = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks.map(|c| s.spawn(move || f(c))).collect();
        let mut parts = vec![f(first)];
        for other in others {
            match other.join() {
                Ok(part) => parts.push(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for part in parts {
            out.extend(part);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_back_in_order() {
        let items: Vec<u64> = (0..(MIN_PER_THREAD as u64 * 5 + 17)).collect();
        // Drops some items, so chunks return different lengths.
        let f =
            |c: &[u64]| -> Vec<u64> { c.iter().filter(|x| *x % 3 != 0).map(|x| x * 2).collect() };
        assert_eq!(map_chunks(&items, f), f(&items));
        assert_eq!(map_chunks(&items[..10], f), f(&items[..10]));
        assert!(map_chunks(&[] as &[u64], f).is_empty());
    }

    #[test]
    #[should_panic(expected = "chunk failed")]
    fn a_panic_in_any_chunk_reaches_the_caller() {
        let items: Vec<u64> = (0..(MIN_PER_THREAD as u64 * 4)).collect();
        map_chunks(&items, |c: &[u64]| -> Vec<u64> {
            assert!(!c.contains(&(MIN_PER_THREAD as u64 * 3)), "chunk failed");
            c.to_vec()
        });
    }
}

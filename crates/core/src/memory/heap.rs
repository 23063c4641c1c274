//! What the serving state holds, part by part: the figures an operator reads
//! (log and metrics) to see where a consumer's memory goes.

/// Bytes a structure asked the allocator for, from its capacities. The
/// allocator rounds small blocks up and keeps freed pages, so the process's
/// RSS is higher; the parts still compare with each other and across builds.
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// A vector of vectors: the outer one and every inner one.
pub fn nested_bytes<T>(v: &Vec<Vec<T>>) -> usize {
    vec_bytes(v) + v.iter().map(vec_bytes).sum::<usize>()
}

/// `Vec::insert`, but a full vector grows by an eighth (at least one slot)
/// instead of doubling. The state holds many small vectors that grow a row
/// at a time (a store-day's items, a store's pair counts): doubled,
/// they kept up to half their room empty, about a quarter on average; so
/// they keep at most an eighth, and an insert still moves O(1) rows
/// amortised. The allocator grows a small block in place within its size
/// class, so most of these growths copy nothing.
pub(super) fn insert_snug<T>(v: &mut Vec<T>, index: usize, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(1));
    }
    v.insert(index, item);
}

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

//! The all-in-one process: the five services as tasks of one process on the
//! embedded log and SQLite stores, as `portrait run`, the demo, tests and
//! benchmarks start them.

pub mod data_lock;
pub mod embedded;
pub mod hints;

//! The profiler service

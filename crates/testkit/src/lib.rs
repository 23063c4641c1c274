//! Test support: the real PostgreSQL and Kafka-protocol broker that `tests/run` starts on
//! loopback, fresh databases and topics per test, and a plain SQL oracle.

pub mod broker;
pub mod postgres;

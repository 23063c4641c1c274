//! The event log port: Kafka and embedded SQLite adapters

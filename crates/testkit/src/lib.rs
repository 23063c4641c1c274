//! Test support: real PostgreSQL and Kafka-protocol broker on loopback, SQL oracle

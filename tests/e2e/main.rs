//! End-to-end: the five services as separate processes against a real
//! PostgreSQL and a real Kafka-protocol broker on loopback. Orders go in through
//! ingest; the gateway's figures must equal a plain SQL recompute over the same
//! orders, also after a consumer is killed with SIGKILL mid-stream.

mod anomaly;
mod associations;
mod backup;
mod backup_keys;
mod backup_pg;
mod clusters;
mod customer;
mod cyrg;
mod effect;
mod effect_oracle;
mod effect_tracked;
mod embedded;
mod exchange;
mod list;
mod models;
mod oracle;
mod outage;
mod page_sync;
mod patterns;
mod pipeline;
mod rebuild;
mod rfm;
mod segments;
mod stack;
mod store_outage;
mod store_restart;
mod suggestions;
mod summary;
mod sync;
mod sync_live;
mod sync_oracle;
mod week;

//! Plumbing every Portrait service shares: configuration, telemetry, metrics,
//! shutdown, the consumer loop, the gRPC server, and the one error-to-status map.

mod config;
mod consumer;
mod error;
mod grpc;
pub mod metrics;
mod runner;
mod shutdown;
mod telemetry;

pub use config::{
    BusKind, BusSettings, Config, ConsumerSettings, DomainSettings, GatewaySettings, LogFormat,
    ServerSettings, ServiceName, StoreSettings, SyncSettings, TelemetrySettings, Topics,
    parse_hh_mm,
};
pub use consumer::{ConsumerSpec, consumer_status, open_store, run_consumer};
pub use error::{Error, Result};
pub use grpc::{bind, serve};
pub use runner::{QueryContext, run_consumer_service, run_main, serve_until};
pub use shutdown::shutdown_token;
pub use telemetry::{TelemetryGuard, extract_parent, init_telemetry, inject_current};

/// Milliseconds since the epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

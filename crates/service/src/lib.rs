//! Plumbing every Portrait service shares: configuration, telemetry, metrics,
//! shutdown, the consumer loop, the gRPC server, and the one error-to-status map.

/// Every process that runs a service allocates through mimalloc: under glibc's
/// malloc a quarter of the consumers' CPU went to allocating and freeing the
/// rows and statements of each batch (perf, 1M orders).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod alloc;
mod audit;
mod auth_layer;
mod config;
mod consumer;
mod customer_projection;
mod error;
pub mod exchange;
mod grpc;
pub mod http_error;
mod limits;
mod live;
mod local;
mod log_check;
pub mod metrics;
mod projection;
mod rebuild;
mod relay;
mod rpc_metrics;
mod runner;
mod seen;
mod segment_flows;
mod shutdown;
mod telemetry;
pub mod tls;

pub use alloc::return_freed_memory_promptly;
pub use audit::{AuditLog, AuditReader, MAX_SOURCE_PAGE};
pub use auth_layer::{
    AuditSink, Bearer, BearerChannel, PeerChannel, audit_event, audit_outcome, peer_of, unrecorded,
};
pub use config::SegmentSettings;
pub use config::SuggestSettings;
pub use config::{
    BusKind, BusSettings, Config, ConsumerSettings, DomainSettings, ExchangeSettings,
    GatewaySettings, IngestSettings, LogFormat, ServerSettings, ServiceName, StoreSettings,
    SyncSettings, TelemetrySettings, Topics, parse_hh_mm,
};
pub use config::{ModelKind, ModelPeriod, ModelSettings};
pub use config::{RfmSettings, RfmThresholds};
pub use consumer::{Progress, open_store};
pub use customer_projection::CustomerProjection;
pub use error::{Error, Result, http_status};
pub use grpc::{Services, bind, serve};
pub use limits::Limits;
pub use live::{AnswerCache, Live};
pub use local::Peer;
pub use portrait_auth::{AuthMode, AuthSettings};
pub use projection::Projection;
pub use rebuild::EPOCH_HEADER;
pub use relay::{Outbox, OutboxReader, relay_loop};
pub use runner::{QueryContext, main, run_consumer_service, run_main, runtime, serve_until};
pub use seen::SeenIds;
pub use segment_flows::{Flows, SegmentFlowFollower};
pub use shutdown::shutdown_token;
pub use telemetry::{TelemetryGuard, extract_parent, init_telemetry, inject_current};

/// Milliseconds since the epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

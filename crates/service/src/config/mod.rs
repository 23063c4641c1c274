use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod models;
mod rfm;
mod segments;
mod suggest;
mod sync;

pub use models::{ModelKind, ModelPeriod, ModelSettings};
pub use rfm::{RfmSettings, RfmThresholds};
pub use segments::SegmentSettings;
pub use suggest::SuggestSettings;
pub use sync::{SyncSettings, parse_hh_mm};

/// The five services; each has its own default port and store file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    Gateway,
    Ingest,
    Profiler,
    Rfm,
    Suggest,
}

impl ServiceName {
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Gateway,
        ServiceName::Ingest,
        ServiceName::Profiler,
        ServiceName::Rfm,
        ServiceName::Suggest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Gateway => "gateway",
            ServiceName::Ingest => "ingest",
            ServiceName::Profiler => "profiler",
            ServiceName::Rfm => "rfm",
            ServiceName::Suggest => "suggest",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            ServiceName::Gateway => 50051,
            ServiceName::Ingest => 50052,
            ServiceName::Profiler => 50053,
            ServiceName::Rfm => 50054,
            ServiceName::Suggest => 50055,
        }
    }
}

/// One configuration shape for every service: defaults in code, then the TOML
/// file named by `PORTRAIT_CONFIG`, then `PORTRAIT__SECTION__KEY` variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded mode keeps its SQLite files.
    pub data_dir: PathBuf,
    pub bus: BusSettings,
    pub store: StoreSettings,
    pub server: ServerSettings,
    pub gateway: GatewaySettings,
    pub telemetry: TelemetrySettings,
    pub domain: DomainSettings,
    pub consumer: ConsumerSettings,
    pub sync: SyncSettings,
    /// `domain.time_zone` parsed by `validated`.
    #[serde(skip)]
    calendar: portrait_core::Calendar,
    pub ingest: IngestSettings,
    pub models: ModelSettings,
    pub rfm: RfmSettings,
    pub exchange: ExchangeSettings,
    pub suggest: SuggestSettings,
    pub segments: SegmentSettings,
    pub auth: portrait_auth::AuthSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    Embedded,
    Kafka,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub kind: BusKind,
    /// Embedded log file; empty = `<data_dir>/log.db`.
    pub path: String,
    pub brokers: String,
    pub partitions: i32,
    /// Prepended to every topic name, so several stacks can share one broker.
    pub topic_prefix: String,
    /// Kafka producer: at most this many records per batch; 0 = librdkafka's
    /// default. tansu 0.6 needs 1 (it mis-reports watermarks and loses records
    /// when a fetch starts inside a batch); real Kafka is faster without it.
    pub max_batch_records: u32,
    /// Kafka: at most this many messages in one produced record (a bundle,
    /// `portrait_bus::BUNDLE_HEADER`); 1 = plain records any Kafka client
    /// reads. With tansu 0.6 (one record per batch) this is what batches.
    pub bundle_records: u32,
    /// Kafka consumers: the longest a broker may hold a fetch waiting for
    /// data (librdkafka's `fetch.wait.max.ms`). A broker that answers only
    /// when the wait is over (tansu 0.6) adds up to this to every event's
    /// freshness; real Kafka answers as soon as data arrives.
    pub fetch_wait_ms: u32,
}

/// The topics a stack uses, after the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub orders: String,
    pub dlq: String,
    /// Segment transitions, published by the rfm service.
    pub segments: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://…` or `postgres://…`; empty = `sqlite://<data_dir>/<service>.db`.
    pub url: String,
    /// How long a query waits for a connection before it answers that the
    /// database is unreachable (UNAVAILABLE).
    pub acquire_timeout_ms: u64,
}

impl StoreSettings {
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.acquire_timeout_ms)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Empty = 127.0.0.1 on the service's default port.
    pub listen: String,
    /// PEM certificate chain of every listener (gRPC, HTTP, metrics); with
    /// `tls_key`, TLS instead of plain TCP. Clients present it to peers that
    /// require client certificates.
    #[serde(default)]
    pub tls_cert: String,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: String,
    /// PEM CA that `https://` peers' certificates must chain to; empty = the
    /// system's roots.
    #[serde(default)]
    pub tls_ca: String,
    /// PEM CA of client certificates; set = mutual TLS, clients without a
    /// certificate it signed are refused at the handshake.
    #[serde(default)]
    pub tls_client_ca: String,
}

/// Where the gateway finds the other services, and the profiler and the
/// suggest service each other (their exports, `exchange.*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    pub ingest: String,
    pub profiler: String,
    pub rfm: String,
    pub suggest: String,
    /// Largest JSON request body and largest gRPC message the gateway reads.
    pub max_request_bytes: usize,
    /// Longest a gateway request may take (DEADLINE_EXCEEDED, HTTP 504); 0 = none.
    pub request_timeout_ms: u64,
    /// Requests the gateway answers at once; beyond, they wait for a place.
    pub max_in_flight: usize,
    /// Requests that may wait for a place at once; beyond, RESOURCE_EXHAUSTED (429).
    pub max_queued: usize,
    /// Longest a request waits for a place (RESOURCE_EXHAUSTED after); 0 = no wait.
    pub queue_wait_ms: u64,
    /// Requests per second per token (per address without auth); 0 = no limit.
    pub rate_per_second: u32,
    /// Requests a token may make at once after being idle.
    pub rate_burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// OTLP/gRPC endpoint; empty = no export.
    pub otlp_endpoint: String,
    /// Prometheus `/metrics` address; empty = not served.
    pub metrics_listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSettings {
    pub time_zone: String,
    /// How far in the future an order's `placed_at` may be (clock skew).
    pub max_future_minutes: i64,
    /// Orders before this local date are data errors (before the chain existed).
    pub earliest_date: String,
    /// Largest net amount of one order, in fen (default ¥1,000,000).
    pub max_order_fen: i64,
    pub max_line_quantity: i64,
    pub max_lines: usize,
    /// Longest id (order, customer, store, product), in bytes.
    pub max_id_length: usize,
    /// Longest name (store, city, product, category), in bytes.
    pub max_name_length: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSettings {
    pub batch_size: usize,
    /// How long a poll waits for the first record of a batch.
    pub poll_ms: u64,
}

/// How a service reads the figures another one exports (crate::exchange).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    /// How often a reader asks the owner whether its generation moved.
    pub poll_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Test and diagnostic setting: sleep this long inside every write
    /// transaction, to play a slow database. 0 in production.
    pub commit_delay_ms: u64,
}

impl Config {
    pub fn defaults(service: ServiceName) -> Self {
        let url = |s: ServiceName| format!("http://127.0.0.1:{}", s.default_port());
        Self {
            data_dir: PathBuf::from(".portrait"),
            bus: BusSettings {
                kind: BusKind::Embedded,
                path: String::new(),
                brokers: "127.0.0.1:9092".into(),
                partitions: 4,
                topic_prefix: String::new(),
                max_batch_records: 0,
                bundle_records: 1,
                fetch_wait_ms: 50,
            },
            store: StoreSettings {
                url: String::new(),
                acquire_timeout_ms: 2_000,
            },
            server: ServerSettings {
                listen: format!("127.0.0.1:{}", service.default_port()),
                tls_cert: String::new(),
                tls_key: String::new(),
                tls_ca: String::new(),
                tls_client_ca: String::new(),
            },
            gateway: GatewaySettings {
                ingest: url(ServiceName::Ingest),
                profiler: url(ServiceName::Profiler),
                rfm: url(ServiceName::Rfm),
                suggest: url(ServiceName::Suggest),
                max_request_bytes: 4 << 20,
                request_timeout_ms: 30_000,
                max_in_flight: 512,
                max_queued: 4096,
                queue_wait_ms: 1000,
                rate_per_second: 100,
                rate_burst: 200,
            },
            telemetry: TelemetrySettings {
                log_format: LogFormat::Text,
                log_filter: "info".into(),
                otlp_endpoint: String::new(),
                metrics_listen: String::new(),
            },
            domain: DomainSettings {
                time_zone: "Asia/Shanghai".into(),
                max_future_minutes: 24 * 60,
                earliest_date: "2000-01-01".into(),
                max_order_fen: 100_000_000,
                max_line_quantity: 10_000,
                max_lines: 1_000,
                max_id_length: 128,
                max_name_length: 400,
            },
            consumer: ConsumerSettings {
                batch_size: 10_000,
                poll_ms: 200,
            },
            sync: SyncSettings::defaults(),
            calendar: portrait_core::Calendar::default(),
            ingest: IngestSettings { commit_delay_ms: 0 },
            models: ModelSettings::defaults(),
            rfm: RfmSettings::defaults(),
            exchange: ExchangeSettings { poll_ms: 5_000 },
            suggest: SuggestSettings::defaults(),
            segments: SegmentSettings::defaults(),
            auth: portrait_auth::AuthSettings::default(),
        }
    }

    /// Loads and validates the configuration of `service`.
    pub fn load(service: ServiceName) -> Result<Self> {
        Self::extract(Self::figment(service)?, service)
    }

    /// The layered sources before extraction, for callers that add their own layer.
    pub fn figment(service: ServiceName) -> Result<Figment> {
        let mut figment = Figment::from(Serialized::defaults(Self::defaults(service)));
        if let Some(path) = std::env::var_os("PORTRAIT_CONFIG") {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "PORTRAIT_CONFIG names {}, which is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        Ok(figment.merge(Env::prefixed("PORTRAIT__").split("__")))
    }

    pub fn extract(figment: Figment, service: ServiceName) -> Result<Self> {
        let config: Config = figment
            .extract()
            .map_err(|e| Error::Config(e.to_string()))?;
        config.validated(service)
    }

    /// Fills derived defaults and refuses settings that cannot work.
    pub fn validated(mut self, service: ServiceName) -> Result<Self> {
        let bad = |m: String| Err(Error::Config(m));
        if self.bus.path.is_empty() {
            self.bus.path = self.data_dir.join("log.db").display().to_string();
        }
        if self.store.url.is_empty() {
            self.store.url = format!(
                "sqlite://{}",
                self.data_dir
                    .join(format!("{}.db", service.as_str()))
                    .display()
            );
        }
        if self.bus.kind == BusKind::Kafka && self.bus.brokers.trim().is_empty() {
            return bad("bus.brokers must be set when bus.kind = \"kafka\"".into());
        }
        if !(1..=1024).contains(&self.bus.partitions) {
            return bad(format!(
                "bus.partitions must be 1-1024, not {}",
                self.bus.partitions
            ));
        }
        if self.bus.max_batch_records > 1_000_000 {
            return bad(format!(
                "bus.max_batch_records must be 0 (librdkafka's default) or 1-1000000, not {}",
                self.bus.max_batch_records
            ));
        }
        if !(1..=100_000).contains(&self.bus.bundle_records) {
            return bad(format!(
                "bus.bundle_records must be 1 (plain records) to 100000, not {}",
                self.bus.bundle_records
            ));
        }
        if !(1..=10_000).contains(&self.bus.fetch_wait_ms) {
            return bad(format!(
                "bus.fetch_wait_ms must be 1-10000, not {}",
                self.bus.fetch_wait_ms
            ));
        }
        if self.ingest.commit_delay_ms > 60_000 {
            return bad("ingest.commit_delay_ms must be 0-60000".into());
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(format!(
                "server.listen {:?} is not host:port",
                self.server.listen
            ));
        }
        self.calendar = portrait_core::Calendar::new(&self.domain.time_zone).map_err(|_| {
            Error::Config(format!(
                "domain.time_zone {:?} is not an IANA time zone",
                self.domain.time_zone
            ))
        })?;
        if self.sync.store_url.is_empty() {
            self.sync.store_url = format!("sqlite://{}", self.data_dir.join("sync.db").display());
        }
        if self.sync.time_zone.is_empty() {
            self.sync.time_zone = self.domain.time_zone.clone();
        }
        self.sync.validate()?;
        self.models.validate()?;
        self.rfm.validate()?;
        self.suggest.validate()?;
        self.segments.validate()?;
        if !(0..=60 * 24 * 366).contains(&self.domain.max_future_minutes) {
            return bad("domain.max_future_minutes must be 0-527040".into());
        }
        portrait_core::Calendar::parse_day("domain.earliest_date", &self.domain.earliest_date)
            .map_err(|e| Error::Config(e.to_string()))?;
        // The bounds keep every sum far inside i64: 10^12 orders at the
        // largest amount still fit.
        if !(1..=10_000_000_000).contains(&self.domain.max_order_fen) {
            return bad("domain.max_order_fen must be 1-10000000000 (¥100,000,000)".into());
        }
        if !(1..=1_000_000).contains(&self.domain.max_line_quantity) {
            return bad("domain.max_line_quantity must be 1-1000000".into());
        }
        if !(1..=100_000).contains(&self.domain.max_lines) {
            return bad("domain.max_lines must be 1-100000".into());
        }
        if !(8..=4096).contains(&self.domain.max_id_length) {
            return bad("domain.max_id_length must be 8-4096".into());
        }
        if !(8..=65_536).contains(&self.domain.max_name_length) {
            return bad("domain.max_name_length must be 8-65536".into());
        }
        if !(100..=600_000).contains(&self.store.acquire_timeout_ms) {
            return bad("store.acquire_timeout_ms must be 100-600000".into());
        }
        if !(100..=3_600_000).contains(&self.exchange.poll_ms) {
            return bad("exchange.poll_ms must be 100-3600000".into());
        }
        if self.consumer.batch_size == 0 || self.consumer.batch_size > 50_000 {
            return bad("consumer.batch_size must be 1-50000".into());
        }
        for (key, url) in [
            ("gateway.ingest", &self.gateway.ingest),
            ("gateway.profiler", &self.gateway.profiler),
            ("gateway.rfm", &self.gateway.rfm),
            ("gateway.suggest", &self.gateway.suggest),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(format!("{key} {url:?} must be an http:// or https:// URL"));
            }
        }
        let g = &self.gateway;
        if !(1024..=(256 << 20)).contains(&g.max_request_bytes) {
            return bad("gateway.max_request_bytes must be 1024-268435456".into());
        }
        if g.request_timeout_ms != 0 && !(100..=3_600_000).contains(&g.request_timeout_ms) {
            return bad("gateway.request_timeout_ms must be 0 (none) or 100-3600000".into());
        }
        if !(1..=100_000).contains(&g.max_in_flight) {
            return bad("gateway.max_in_flight must be 1-100000".into());
        }
        if g.max_queued > 1_000_000 {
            return bad("gateway.max_queued must be 0-1000000".into());
        }
        if g.queue_wait_ms > 60_000 {
            return bad("gateway.queue_wait_ms must be 0 (no wait) or up to 60000".into());
        }
        if g.rate_per_second > 1_000_000 {
            return bad("gateway.rate_per_second must be 0 (no limit) or 1-1000000".into());
        }
        if !(1..=1_000_000).contains(&g.rate_burst) {
            return bad("gateway.rate_burst must be 1-1000000".into());
        }
        // Unreadable or invalid PEM fails start naming its key, not the
        // first handshake.
        crate::tls::server_config(&self.server)?;
        crate::tls::client_config(&self.server)?;
        Ok(self)
    }

    /// The gateway's abuse limits (`gateway.*`).
    pub fn gateway_limits(&self) -> crate::Limits {
        let g = &self.gateway;
        crate::Limits {
            max_in_flight: g.max_in_flight,
            max_queued: g.max_queued,
            queue_wait: std::time::Duration::from_millis(g.queue_wait_ms),
            request_timeout: (g.request_timeout_ms > 0)
                .then(|| std::time::Duration::from_millis(g.request_timeout_ms)),
            rate_per_second: f64::from(g.rate_per_second),
            rate_burst: g.rate_burst,
            max_request_bytes: g.max_request_bytes,
            no_deadline: vec!["/portrait.v1.PortraitService/ImportOrders"],
        }
    }

    /// The chain's calendar, as parsed when the configuration was validated.
    pub fn calendar(&self) -> portrait_core::Calendar {
        self.calendar
    }

    /// What validation accepts, in the domain's terms.
    pub fn limits(&self) -> portrait_core::Limits {
        let calendar = self.calendar();
        let earliest = portrait_core::Calendar::parse_day("", &self.domain.earliest_date)
            .map_or(0, |day| calendar.midnight_ms(day));
        portrait_core::Limits {
            max_order_fen: self.domain.max_order_fen,
            max_line_quantity: self.domain.max_line_quantity,
            max_lines: self.domain.max_lines,
            max_id_len: self.domain.max_id_length,
            max_name_len: self.domain.max_name_length,
            earliest_ms: earliest,
            max_future_ms: self.domain.max_future_minutes.saturating_mul(60_000),
        }
    }

    pub fn topics(&self) -> Topics {
        let p = &self.bus.topic_prefix;
        Topics {
            orders: format!("{p}{}", portrait_core::ORDERS_TOPIC),
            dlq: format!("{p}{}", portrait_core::DLQ_TOPIC),
            segments: format!("{p}{}", portrait_core::SEGMENTS_TOPIC),
        }
    }

    pub fn bus_config(&self) -> portrait_bus::BusConfig {
        match self.bus.kind {
            BusKind::Embedded => portrait_bus::BusConfig::Embedded {
                path: PathBuf::from(&self.bus.path),
            },
            BusKind::Kafka => portrait_bus::BusConfig::Kafka {
                brokers: self.bus.brokers.clone(),
                partitions: self.bus.partitions,
                max_batch_records: self.bus.max_batch_records,
                bundle_records: self.bus.bundle_records,
                fetch_wait_ms: self.bus.fetch_wait_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests;

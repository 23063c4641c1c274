use std::collections::HashMap;
use std::io::IsTerminal as _;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::{Error, LogFormat, Result, TelemetrySettings};

/// Flushes and stops trace export when dropped: keep it alive in `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("failed to flush traces: {e}");
        }
    }
}

/// Sets up logging (text or JSON, on stderr), and OTLP trace export when an endpoint is set.
pub fn init_telemetry(service: &str, settings: &TelemetrySettings) -> Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_filter))
        .map_err(|e| Error::Telemetry(format!("telemetry.log_filter: {e}")))?;
    let provider = if settings.otlp_endpoint.is_empty() {
        None
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.otlp_endpoint.clone())
            .build()
            .map_err(|e| Error::Telemetry(format!("otlp exporter: {e}")))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(format!("portrait-{service}"))
            .build();
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        )
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("portrait")));
    // Logs go to stderr so that stdout carries only a command's data (a
    // bench report, `portrait query`'s JSON) and pipes stay parseable.
    // Colours only on a terminal: a file or a collector gets plain text.
    let ansi = std::io::stderr().is_terminal();
    let (text, json) = match settings.log_format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    // A second init in one process (the all-in-one binary, tests) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .try_init();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(TelemetryGuard { provider })
}

/// The current span's W3C trace context, as message headers.
pub fn inject_current() -> Vec<(String, String)> {
    let cx = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.into_iter().collect()
}

/// Makes `span` a child of the trace context carried in `headers`, if any.
pub fn extract_parent(span: &tracing::Span, headers: &[(String, String)]) {
    if !headers.iter().any(|(k, _)| k == "traceparent") {
        return;
    }
    let carrier: HashMap<String, String> = headers.iter().cloned().collect();
    let cx = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(cx);
}

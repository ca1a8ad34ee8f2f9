//! Optional OpenTelemetry export of the runtime's tracing spans (`authsec.check`,
//! `authsec.backend`) over OTLP/HTTP (protobuf), behind the cargo feature `otlp` (off by
//! default: the default build carries no OpenTelemetry code).
//!
//! A host that already has a `tracing` subscriber adds its own `tracing-opentelemetry` layer
//! instead; [`install`] is for hosts (the CLI, a small server) that have none.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;

use crate::error::{Error, ErrorCode, Result};

/// Keeps the exporter running; dropping it flushes the spans still batched and stops it.
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

impl std::fmt::Debug for OtlpGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtlpGuard")
    }
}

/// Install a global `tracing` subscriber that exports every span to the OTLP/HTTP endpoint
/// `endpoint` (e.g. `http://127.0.0.1:4318/v1/traces`) as service `service_name`. Fails
/// (`internal`) when the exporter cannot be built or a global subscriber is already set.
pub fn install(endpoint: &str, service_name: &str) -> Result<OtlpGuard> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(ErrorCode::Internal, format!("otlp: {what}: {e}"))
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| fail("exporter", &e))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_string())
                .build(),
        )
        .build();
    let tracer = provider.tracer("authsec");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| fail("global subscriber", &e))?;
    Ok(OtlpGuard { provider })
}

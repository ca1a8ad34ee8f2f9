//! `authsec`, the command line on the core: a protecting proxy for any MCP server (Streamable
//! HTTP upstream or a stdio child), `doctor` to explain a configuration and a token's decision,
//! and development tokens from the embedded dev issuer.
//!
//! Every decision and every byte of a security answer comes from `authsec-core`; this crate
//! only moves requests and answers between the network, the core and the MCP server.
//!
//! Modules, bottom to top: `config_file` (the core's config from a JSON or TOML file or the
//! environment), `telemetry` (access log records and Prometheus counters), `proxy` (the HTTP
//! front, the forwarding rules, the upstreams: HTTP and stdio), `doctor`, `token`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config_file;
pub mod doctor;
pub mod proxy;
pub mod telemetry;
pub mod token;

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

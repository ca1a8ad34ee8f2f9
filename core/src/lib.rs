//! # authsec-core
//!
//! The AuthSec decision engine for MCP servers. For every HTTP request reaching a protected MCP
//! endpoint it decides whether the request may pass and, if not, exactly what the client sees:
//! bearer-token validation (JWT against a JWKS, RFC 7662 introspection, or both), audience binding
//! to the configured resource URI, per-tool scope policy on JSON-RPC `tools/call`, `tools/list`
//! filtering, RFC 9728 metadata, and the 401/403/503 challenges of the AuthSec SDKs.
//!
//! ```no_run
//! # async fn demo() -> authsec_core::Result<()> {
//! use authsec_core::{Config, Decision, Request, Runtime};
//! let cfg = Config::from_json(r#"{
//!     "issuer": "https://auth.example.com",
//!     "jwks_url": "https://auth.example.com/jwks",
//!     "resource_uri": "https://mcp.example.com/mcp",
//!     "tool_scopes": {"list_issues": ["issues:read"]}
//! }"#)?;
//! let runtime = Runtime::new(cfg)?;
//! runtime.startup().await?;
//! let req = Request { method: "POST", path: "/mcp", headers: &[("authorization", "Bearer ...")], body: b"{}" };
//! match runtime.check(&req).resolve().await {
//!     Decision::Allow(allow) => { /* call the handler with allow.principal */ }
//!     Decision::Respond(resp) => { /* write resp.status, resp.headers, resp.body */ }
//!     Decision::PassThrough => { /* call the handler without a principal */ }
//! }
//! # Ok(()) }
//! ```
//!
//! The core knows nothing about FFI; bindings translate its types and nothing more.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cache;
pub mod challenge;
pub mod clock;
pub mod config;
mod denial;
pub mod env;
mod error;
mod filter;
mod http;
mod introspection;
pub mod jsonrpc;
mod jwks;
mod jwt;
mod keys;
pub mod manifest;
pub mod metadata;
pub mod policy;
mod principal;
mod response;
mod runtime;
pub mod scope_matrix;
mod sse;
mod validator;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, PolicyMode, Secret, ValidationMode};
pub use error::{code_info, CodeInfo, CodeScope, Error, ErrorCode, Result, CODES};
pub use filter::ResponseFilter;
pub use manifest::{ManifestReport, ManifestSource, RpcAnswer, RpcCall, RpcHandler};
pub use policy::{PolicySource, PolicyView, ToolMap};
pub use principal::Principal;
pub use runtime::{
    Allow, Check, Decision, FilterOutcome, Pending, Request, Response, Runtime, RuntimeBuilder,
};
pub use scope_matrix::CacheStatus;
pub use validator::{Reason, INACTIVE_MESSAGE};

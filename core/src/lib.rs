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
//!     _ => { /* a decision this build does not know: write Response::internal_error() */ }
//! }
//! # Ok(()) }
//! ```
//!
//! The core knows nothing about FFI; bindings translate its types and nothing more.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The layers, bottom to top; a module imports only from layers below it.
mod audit; // the audit trail (events, sinks, bounded queue) and the request metrics
mod backend; // the one outbound HTTP client
mod clock; // time, real or manual
mod config; // Config, validation rules, environment loading
mod error; // codes registry and the API's Error
mod json; // reading untrusted JSON: the str reader for valid UTF-8, else the byte reader
mod manifest; // publishing the tool manifest to the AuthSec backend
mod policy; // what a principal may do: open, local and remote (AuthSec) policies
mod request; // the JSON-RPC envelope and SSE framing
mod response; // every byte the client sees: denials, challenges, metadata, filtered answers
mod runtime; // the decision for one request, tying the layers together
mod session; // sign-in sessions for clients without OAuth: the oauth_* tools and their stores
mod text; // the header-safe text sanitizer
mod token; // bearer tokens: JWT, JWKS, introspection, caches, the principal
mod workload; // SPIFFE: the Workload API socket, X.509-SVIDs kept current and on disk, JWT bundles

/// The private parsers for the fuzz targets of `fuzz/` (cargo feature `fuzzing`; not part of the API).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use audit::event::{
    DecisionEvent, LifecycleEvent, Outcome, ValidationPath, AUDIT_SCHEMA_VERSION, MAX_FIELD_CHARS,
    REASONS,
};
pub use audit::metrics::METRICS_CONTENT_TYPE;
/// OTLP export of the tracing spans (cargo feature `otlp`).
#[cfg(feature = "otlp")]
pub use audit::otlp;
pub use audit::sink::{AuditSink, AuditStats, JsonLinesSink};
pub use audit::DEFAULT_AUDIT_QUEUE;
pub use backend::services::ServiceCredentials;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::env::DEFAULT_PREFIX;
pub use config::{
    AudienceMatch, Config, PolicyMode, RbacCatalogue, RbacClaims, RbacRequirement, Secret,
    SignInConfig, TenantCatalogue, ToolRbac, TrustedIssuer, ValidationMode, DEFAULT_SCOPE_CLAIMS,
};
pub use error::{code_info, CodeInfo, CodeScope, Error, ErrorCode, Result, CODES};
pub use manifest::{ManifestReport, ManifestSource, RpcAnswer, RpcCall, RpcHandler};
pub use policy::rbac::{evaluate as evaluate_rbac, Catalogue, InlineCatalogue, TenantAnswer};
pub use policy::remote::CacheStatus;
pub use policy::{PolicySource, PolicyView, ToolMap};
pub use response::filter::ResponseFilter;
pub use response::Response;
pub use runtime::{
    Allow, Check, Decision, FilterOutcome, Pending, Request, Runtime, RuntimeBuilder,
};
pub use session::memory::{MemoryStore, DEFAULT_MEMORY_ENTRIES};
pub use session::record::{
    PendingSignIn, SecretText, SessionId, SessionRecord, SessionTokens, TokenSource, RECORD_VERSION,
};
pub use session::redis::RedisSessionStore;
pub use session::store::SessionStore;
pub use token::error::Reason;
pub use token::principal::Principal;
pub use token::scopes::ScopeHierarchy;
pub use token::user_info::UserInfo;
pub use token::validator::INACTIVE_MESSAGE;
pub use workload::endpoint::{resolve_endpoint, ENDPOINT_ENV};
pub use workload::files::{SvidFiles, BUNDLE_FILE, CERT_FILE, KEY_FILE};
#[cfg(feature = "spiffe")]
pub use workload::x509::{
    fetch_jwt_svid, Svid, WorkloadIdentity, WorkloadOptions, DEFAULT_INITIAL_TIMEOUT,
};

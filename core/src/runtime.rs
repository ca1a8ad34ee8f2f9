//! The runtime: one configured instance that decides, for each HTTP request reaching a protected
//! MCP endpoint, whether it passes, and what the answer looks like on the wire.
//!
//! [`Runtime::check`] decides from memory whenever it can ([`Check::Ready`]) and returns a future
//! only when it must fetch keys or introspect ([`Check::Pending`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use tracing::Instrument;

use crate::audit::event::{reason_index, DecisionEvent, LifecycleEvent, Outcome, ValidationPath};
use crate::audit::sink::{AuditSink, AuditStats, JsonLinesSink};
use crate::audit::Observer;

use crate::backend::http::HttpClient;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, PolicyMode};
use crate::error::{Error, ErrorCode, Result};
use crate::manifest::{self, ManifestReport, ManifestSource};
use crate::policy::catalogue::{DbCatalogue, Outage, SharedDbCatalogue};
use crate::policy::rbac::{Catalogue, InlineCatalogue, Rbac, RbacSource};
use crate::policy::remote::{CacheStatus, RemotePolicy, ScopeMatrix};
use crate::policy::resources::{self, ItemRules, ListKind};
use crate::policy::{decide, Action, LocalPolicy, OpenPolicy, PolicySource, PolicyView, Refusal};
use crate::request::jsonrpc::{self, Body, Envelope, ParseError};
use crate::request::revision::{self, Era, McpHeaders};
use crate::response::challenge::ChallengeBuilder;
use crate::response::cors::{self, Cors};
use crate::response::denial::{Denial, DenialKind, Responder};
use crate::response::filter::{self, ResponseFilter};
use crate::response::metadata;
pub use crate::response::Response;
use crate::session::flow::SignIn;
use crate::session::memory::MemoryStore;
use crate::session::owner::{Claim, SessionOwners};
use crate::session::store::SessionStore;
use crate::token::error::{AuthError, Reason};
use crate::token::principal::Principal;
use crate::token::user_info::UserInfo;
use crate::token::validator::Validator;

mod signin;

/// One HTTP request as the host received it. Header names are matched case-insensitively.
/// Its `Debug` output redacts credential headers and leaves out the body (see below).
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Request path (a query string, if included, is ignored).
    pub path: &'a str,
    /// Header name/value pairs, in order, repeats allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The complete request body.
    pub body: &'a [u8],
}

/// Headers whose values are credentials: `Debug` prints `<redacted>` instead.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Prints method, path, header names with non-credential values, and the body's length: never
/// a bearer token, a cookie, or body content (tool arguments may be sensitive too).
impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Headers<'h>(&'h [(&'h str, &'h str)]);
        impl std::fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|(k, v)| {
                        let secret = CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c));
                        (*k, if secret { "<redacted>" } else { *v })
                    }))
                    .finish()
            }
        }
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &Headers(self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> Request<'a> {
    fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The bearer token of this request as the runtime reads it (one `Authorization` header,
    /// `Bearer <token>`, scheme case-insensitive), or `None` when there is none, it is
    /// malformed, or the header is repeated. Bindings use this for the SDKs' `AuthInfo.token`
    /// instead of parsing the header themselves.
    pub fn bearer_token(&self) -> Option<&'a str> {
        let mut auth = self.headers_named("authorization");
        let header = auth.next()?;
        if auth.next().is_some() {
            return None;
        }
        match extract_bearer(header) {
            Bearer::Token(t) => Some(t),
            Bearer::Missing | Bearer::Malformed => None,
        }
    }
}

/// The request may reach the handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Allow {
    /// The validated caller, to hand to the handler.
    pub principal: Arc<Principal>,
    /// The handler's answer must go through the response filter ([`Runtime::response_filter`],
    /// or [`Runtime::filter_response`] for a whole body): true for every allowed request under a
    /// policy (not `open`), because any SSE stream on the endpoint (a GET stream, a
    /// `Last-Event-ID` replay, the answer to any POST) may carry a `tools/list` result.
    pub filter_tools_list: bool,
    /// The request contains a list call the filter reads (`tools/list`, or `resources/list`,
    /// `resources/templates/list`, `prompts/list` once resource or prompt rules gate them): a
    /// JSON (non-SSE) answer is read and filtered too; otherwise only SSE answers are.
    pub tools_list_request: bool,
}

impl Allow {
    /// Whether the handler's answer with this Content-Type must go through the response filter
    /// ([`Runtime::response_filter`]): under a policy, an SSE answer always and a JSON one when
    /// the request made a list call the filter reads. When false the answer passes unchanged, so a host may forward
    /// it without creating a filter (the usual case: a `tools/call`'s JSON answer).
    pub fn reads_response(&self, content_type: Option<&str>) -> bool {
        self.filter_tools_list && ResponseFilter::reads(self.tools_list_request, content_type)
    }
}

/// What the host must do with a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Decision {
    /// Call the handler with the original body and this principal.
    Allow(Allow),
    /// Write this answer; do not call the handler.
    Respond(Response),
    /// Call the handler with the original body and no principal (MCP handshake with an invalid
    /// token, so a session survives token expiry).
    PassThrough,
}

/// A decision still waiting for I/O (a JWKS fetch or an introspection).
pub struct Pending(BoxFuture<'static, Decision>);

impl Future for Pending {
    type Output = Decision;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Decision> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// The result of [`Runtime::check`].
#[derive(Debug)]
pub enum Check {
    /// Decided from memory.
    Ready(Decision),
    /// Needs I/O; await it (on a tokio runtime).
    Pending(Pending),
}

impl Check {
    /// The decision, awaiting I/O if needed.
    pub async fn resolve(self) -> Decision {
        match self {
            Check::Ready(d) => d,
            Check::Pending(p) => p.await,
        }
    }
}

/// What [`Runtime::filter_response`] did with a handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterOutcome {
    /// Forward the handler's body as it is.
    Unchanged,
    /// Forward this body instead (recompute `Content-Length`; drop the handler's).
    Rewritten(Vec<u8>),
    /// Do not forward the handler's answer; write this one (503 when policy is unavailable).
    Respond(Response),
}

/// Builds a [`Runtime`] with a custom clock or policy source.
pub struct RuntimeBuilder {
    config: Config,
    clock: Arc<dyn Clock>,
    policy: Option<Arc<dyn PolicySource>>,
    catalogue: Option<Arc<dyn Catalogue>>,
    sessions: Option<Arc<dyn SessionStore>>,
    /// The first refused [`RuntimeBuilder::tool_rbac`] registration, returned by `build`.
    refused: Option<Error>,
}

impl RuntimeBuilder {
    /// Sign-in (`sign_in` configured): keep sessions in this store instead of the bounded
    /// in-memory one (the Redis store for fleets).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// RBAC: register one tool's requirement in `tool_rbac` under the same rule as the
    /// bindings' decorators ([`Config::register_tool_rbac`]): the name is trimmed, the same
    /// requirement twice is a no-op, and a blank name, an invalid requirement or a different
    /// requirement for a tool already in the table makes [`RuntimeBuilder::build`] fail with
    /// `config_invalid` (never a silent replacement).
    pub fn tool_rbac(mut self, tool: &str, requirement: crate::config::RbacRequirement) -> Self {
        if self.refused.is_none() {
            if let Err(e) = self.config.register_tool_rbac(tool, requirement) {
                self.refused = Some(e);
            }
        }
        self
    }

    /// RBAC: use this tenant catalogue instead of the configuration's inline `rbac_catalogue`.
    pub fn catalogue(mut self, catalogue: Arc<dyn Catalogue>) -> Self {
        self.catalogue = Some(catalogue);
        self
    }

    /// Use this clock for every time-dependent check (tests move it instead of sleeping).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Decide tool calls with this policy source instead of the one the policy mode implies.
    pub fn policy_source(mut self, source: Arc<dyn PolicySource>) -> Self {
        self.policy = Some(source);
        self
    }

    /// Validate the configuration and build the runtime.
    pub fn build(self) -> Result<Runtime> {
        if let Some(e) = self.refused {
            return Err(e);
        }
        self.config.validate()?;
        let cfg = self.config.normalized();
        let observer = Arc::new(Observer::new(
            cfg.audit_queue_capacity,
            cfg.audit_sample_allowed,
            self.clock.clone(),
        ));
        match cfg.audit_log.trim() {
            "" => {}
            "stderr" => observer
                .add_sink(Arc::new(JsonLinesSink::stderr()))
                .map_err(|e| Error::new(ErrorCode::Internal, format!("audit thread: {e}")))?,
            path => {
                let sink = JsonLinesSink::file(path).map_err(|e| {
                    Error::config(format!("audit_log {path} cannot be opened: {e}"))
                })?;
                observer
                    .add_sink(Arc::new(sink))
                    .map_err(|e| Error::new(ErrorCode::Internal, format!("audit thread: {e}")))?;
            }
        }
        let http = HttpClient::new(
            crate::clock::secs_f64(cfg.request_timeout_seconds),
            observer.clone(),
        )
        .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        let mut remote = None;
        let policy: Arc<dyn PolicySource> = match (self.policy, cfg.effective_policy_mode()) {
            (Some(p), _) => p,
            (None, PolicyMode::Open) => Arc::new(OpenPolicy),
            (None, PolicyMode::LocalOnly) => {
                Arc::new(LocalPolicy::new(cfg.tool_scopes.as_ref().ok_or_else(
                    || Error::config("local_only requires tool_scopes"),
                )?))
            }
            (None, mode) => {
                let matrix = Arc::new(ScopeMatrix::new(&cfg, http.clone(), self.clock.clone()));
                remote = Some(matrix.clone());
                Arc::new(RemotePolicy {
                    matrix,
                    fallback: (mode == PolicyMode::RemoteWithLocalFallback).then(|| {
                        LocalPolicy::new(cfg.tool_scopes.as_ref().unwrap_or(&Default::default()))
                            .map()
                    }),
                    mode,
                })
            }
        };
        let db_catalogue = match (&self.catalogue, &cfg.rbac_catalogue) {
            (None, Some(c)) if c.is_database() => DbCatalogue::new(
                c,
                self.clock.clone(),
                crate::clock::secs_f64(cfg.request_timeout_seconds),
                Outage::of(cfg.effective_policy_mode()),
            )
            .map_err(Error::config)?,
            _ => None,
        };
        let catalogue = self
            .catalogue
            .or_else(|| match (&db_catalogue, &cfg.rbac_catalogue) {
                (Some(db), _) => {
                    Some(Arc::new(SharedDbCatalogue(db.clone())) as Arc<dyn Catalogue>)
                }
                (None, Some(c)) => Some(Arc::new(InlineCatalogue::new(c)) as Arc<dyn Catalogue>),
                (None, None) => None,
            });
        let rbac = Arc::new(Rbac::new(
            cfg.tool_rbac.as_ref().unwrap_or(&Default::default()),
            cfg.rbac_claims.clone(),
            catalogue,
        ));
        let policy: Arc<dyn PolicySource> = if cfg.tool_rbac.is_some() {
            Arc::new(RbacSource {
                inner: policy,
                gate: rbac.clone(),
            })
        } else {
            policy
        };
        let store = crate::backend::redis::from_config(&cfg)?;
        let validator = Validator::new(&cfg, http.clone(), self.clock.clone(), store.clone());
        let services = crate::backend::services::ServicesClient::new(
            &cfg.services_url,
            &cfg.introspection_client_id,
            http.clone(),
        );
        let sign_in_issuer = cfg
            .sign_in
            .as_ref()
            .map(|s| s.discovery_issuer(&cfg).to_string())
            .unwrap_or_default();
        let signin = cfg.sign_in.as_ref().map(|s| {
            // The fleet's Redis when configured (docs/fleet.md), else the bounded memory store.
            let fleet_sessions = store.clone().map(|r| {
                Arc::new(crate::session::redis::RedisSessionStore::over(r)) as Arc<dyn SessionStore>
            });
            let store = self.sessions.clone().or(fleet_sessions).unwrap_or_else(|| {
                Arc::new(MemoryStore::new(
                    self.clock.clone(),
                    usize::try_from(s.max_sessions).unwrap_or(usize::MAX),
                ))
            });
            Arc::new(SignIn::new(
                s.clone(),
                sign_in_issuer.clone(),
                cfg.resource_uri.clone(),
                http.clone(),
                self.clock.clone(),
                store,
            ))
        });
        let workloads = (!cfg.spiffe_trust_domain.trim().is_empty()
            && cfg.effective_policy_mode() != PolicyMode::Open)
            .then(|| WorkloadPolicies::new(&cfg.tool_workloads));
        let metadata_path = metadata::metadata_path(&cfg.resource_uri);
        let responder = Responder {
            challenge: ChallengeBuilder::new(
                &cfg.resource_name,
                &metadata::metadata_url(&cfg.resource_uri),
            ),
        };
        let private = |c: &str| cfg.audit_private_claims.iter().any(|p| p.trim() == c);
        let privacy = Privacy {
            subject: private("sub"),
            client_id: private("client_id") || private("azp"),
            tenant: private(cfg.tenant_claim.trim()),
            tenant_claim: cfg.tenant_claim.trim().to_string(),
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                observer,
                privacy,
                items: Arc::new(ItemRules::new(&cfg)),
                cors: Cors::new(&cfg),
                session_owners: SessionOwners::new(
                    usize::try_from(cfg.token_cache_capacity).unwrap_or(usize::MAX),
                ),
                max_body: cfg.max_body_bytes,
                remote,
                http,
                cfg,
                validator,
                policy,
                workloads,
                rbac,
                db_catalogue,
                responder,
                metadata_path,
                signin,
                sign_in_issuer,
                jwt_bundle_watch: std::sync::Mutex::new(None),
                store,
                services,
            }),
        })
    }
}

/// Which identifiers an audit event leaves out (`audit_private_claims`).
struct Privacy {
    subject: bool,
    client_id: bool,
    tenant: bool,
    tenant_claim: String,
}

struct Inner {
    observer: Arc<Observer>,
    privacy: Privacy,
    cfg: Config,
    http: HttpClient,
    remote: Option<Arc<ScopeMatrix>>,
    validator: Validator,
    policy: Arc<dyn PolicySource>,
    /// The policy of workload callers (JWT-SVIDs), when they are accepted and the mode is not
    /// `open`.
    workloads: Option<WorkloadPolicies>,
    rbac: Arc<Rbac>,
    db_catalogue: Option<Arc<DbCatalogue>>,
    /// Local resource and prompt rules (the remote policy has tools only).
    items: Arc<ItemRules>,
    cors: Cors,
    responder: Responder,
    metadata_path: String,
    /// Sign-in for clients without OAuth (`sign_in` configured).
    signin: Option<Arc<SignIn>>,
    /// The issuer sign-in discovers (for the info route).
    sign_in_issuer: String,
    max_body: u64,
    /// Stops the Workload API JWT bundle watcher (set by `startup`, dropped with the runtime).
    #[allow(dead_code)]
    jwt_bundle_watch: std::sync::Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    /// The fleet store (`redis_url`), shared by the replicas (`docs/fleet.md`).
    store: Option<Arc<crate::backend::redis::RedisStore>>,
    /// The AuthSec services API (`services_url`).
    services: crate::backend::services::ServicesClient,
    /// The caller each `Mcp-Session-Id` is bound to (`session::owner`).
    session_owners: SessionOwners,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(stop) = self
            .jwt_bundle_watch
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = stop.send(true);
        }
        // Audit sinks are detached (after delivering what is queued, at most 5 s): background
        // tasks that outlive the runtime never call a binding's callback.
        self.observer.events.close(Duration::from_secs(5));
    }
}

/// `tool_workloads` turned around: for each SPIFFE ID, the map of the tools it may call (each
/// public for it), so the one `decide` and the one response filter serve workloads unchanged;
/// a workload listed nowhere gets the empty map (every tool denied, like an unmapped tool).
struct WorkloadPolicies {
    by_id: std::collections::HashMap<String, Arc<dyn PolicySource>>,
    none: Arc<dyn PolicySource>,
}

impl WorkloadPolicies {
    fn new(tool_workloads: &crate::config::ToolScopes) -> Self {
        let mut maps: std::collections::HashMap<String, crate::config::ToolScopes> =
            Default::default();
        for (tool, ids) in tool_workloads {
            for id in ids {
                maps.entry(id.clone())
                    .or_default()
                    .insert(tool.clone(), Vec::new());
            }
        }
        WorkloadPolicies {
            by_id: maps
                .into_iter()
                .map(|(id, m)| (id, Arc::new(LocalPolicy::new(&m)) as Arc<dyn PolicySource>))
                .collect(),
            none: Arc::new(LocalPolicy::new(&Default::default())),
        }
    }
}

/// A configured AuthSec runtime. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

const MISSING_TOKEN: &str = "missing bearer token";

impl Runtime {
    /// Validate `config` and build a runtime with the system clock.
    pub fn new(config: Config) -> Result<Runtime> {
        Runtime::builder(config).build()
    }

    /// A builder for a runtime with a custom clock or policy source.
    pub fn builder(config: Config) -> RuntimeBuilder {
        RuntimeBuilder {
            config,
            clock: Arc::new(SystemClock),
            policy: None,
            catalogue: None,
            sessions: None,
            refused: None,
        }
    }

    /// Startup work before serving: the remote policy's first fetch (reference §4.6). In
    /// `remote_required` a failed first fetch is fatal unless `publish_manifest` is on (the
    /// runtime then starts in deny-all, answering 503 until the policy arrives); in
    /// `remote_with_local_fallback` it is reported and the local map serves. Non-fatal problems
    /// are returned as warnings for the host to log, among them an `authorization_server`,
    /// `jwks_url` or `introspection_url` that is not https outside loopback (credentials, keys or
    /// policy would travel in clear).
    pub async fn startup(&self) -> Result<Vec<String>> {
        let result = self.startup_inner().await;
        if self.inner.observer.events.enabled() {
            let cfg = &self.inner.cfg;
            let e = match &result {
                Ok((w, degraded)) => {
                    LifecycleEvent::new("startup", if *degraded { "degraded" } else { "ok" })
                        .count("warnings", w.len() as u64)
                }
                Err(e) => LifecycleEvent::new("startup", "failed").detail(e.code().as_str()),
            };
            self.inner.observer.lifecycle(
                e.field("policy_mode", cfg.effective_policy_mode().as_str())
                    .field("validation_mode", cfg.effective_validation_mode().as_str()),
            );
        }
        result.map(|(w, _)| w)
    }

    /// The warnings, and whether startup serves degraded (deny-all or the local fallback).
    async fn startup_inner(&self) -> Result<(Vec<String>, bool)> {
        let mut warnings = insecure_url_warnings(&self.inner.cfg);
        if let Some(store) = &self.inner.store {
            self.inner.validator.join_fleet();
            if let Err(e) = store.ping().await {
                warnings.push(format!(
                    "redis_url: {e} at startup; nothing is shared until it answers (each replica validates on its own meanwhile)"
                ));
            }
        }
        if let Some(w) = self.start_jwt_bundle_watch().await {
            warnings.push(w);
        }
        if let Some(db) = &self.inner.db_catalogue {
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                db.set_spawner(h);
            }
            if let Err(e) = db.load().await {
                warnings.push(match db.outage() {
                    Outage::Refuse => format!(
                        "{e}; RBAC-gated tools answer 503 policy_unavailable until the catalogue loads"
                    ),
                    _ => format!(
                        "{e}; no role, group, scope, resource or permission counts until the catalogue loads"
                    ),
                });
            }
        }
        let Some(matrix) = &self.inner.remote else {
            return Ok((warnings, false));
        };
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            matrix.set_spawner(h);
        }
        if let Err(e) = matrix.fetch_and_cache().await {
            let mode = self.inner.cfg.effective_policy_mode();
            if mode == PolicyMode::RemoteRequired && !self.inner.cfg.publish_manifest {
                return Err(Error::new(
                    ErrorCode::StartupFailed,
                    format!("remote_required initial scope matrix fetch failed: {e}"),
                ));
            }
            warnings.push(if mode == PolicyMode::RemoteRequired {
                format!("initial scope matrix fetch failed: {e}; starting in deny-all mode (publish_manifest=true)")
            } else {
                format!("initial scope matrix fetch failed: {e}; using the local tool_scopes")
            });
            return Ok((warnings, true));
        }
        Ok((warnings, false))
    }

    /// With `spiffe_endpoint_socket`, start following the trust domain's JWT bundle from the
    /// Workload API (once per runtime) and wait, bounded by `request_timeout_seconds`, for the
    /// first one; a failure is a warning (JWT-SVIDs are refused until a bundle arrives).
    #[cfg(feature = "spiffe")]
    async fn start_jwt_bundle_watch(&self) -> Option<String> {
        let keys = self.inner.validator.pushed_jwt_bundle()?;
        let cfg = &self.inner.cfg;
        let endpoint =
            match crate::workload::endpoint::resolve_endpoint(&cfg.spiffe_endpoint_socket) {
                Ok(e) => e,
                Err(e) => {
                    keys.push_failed(e.message().to_string());
                    return Some(format!("JWT-SVIDs are refused: {}", e.message()));
                }
            };
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut w = self
                .inner
                .jwt_bundle_watch
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if w.is_some() {
                return None;
            }
            *w = Some(crate::workload::jwt_bundle::spawn(
                endpoint,
                cfg.spiffe_trust_domain.trim().to_string(),
                keys,
                tx,
            ));
        }
        let wait = crate::clock::secs_f64(cfg.request_timeout_seconds);
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(Ok(_))) => None,
            Ok(Ok(Err(e))) => Some(format!(
                "JWT bundle not received yet (JWT-SVIDs are refused until it is): {e}"
            )),
            _ => Some(
                "JWT bundle not received yet (JWT-SVIDs are refused until it is): no answer"
                    .to_string(),
            ),
        }
    }

    #[cfg(not(feature = "spiffe"))]
    async fn start_jwt_bundle_watch(&self) -> Option<String> {
        None
    }

    /// The policy source deciding for `principal`: the workload map of a JWT-SVID caller,
    /// otherwise the configured policy.
    fn policy_for(&self, principal: &Principal) -> &Arc<dyn PolicySource> {
        match (&principal.spiffe_id, &self.inner.workloads) {
            (Some(id), Some(w)) => w.by_id.get(id).unwrap_or(&w.none),
            _ => &self.inner.policy,
        }
    }

    /// Publish the tool manifest to the AuthSec backend (reference §6) and report what was sent.
    /// Independent of `publish_manifest` (which only says whether hosts publish at startup).
    /// Run it in the background: it never needs to delay serving.
    /// Emits a `manifest_publish` audit event (tools sent, generation; on failure only the
    /// error code: the backend's answer is not copied into the audit trail).
    pub async fn publish_manifest(&self, source: ManifestSource) -> Result<ManifestReport> {
        let result = manifest::publish(&self.inner.cfg, &self.inner.http, source).await;
        let e = match &result {
            Ok(r) => LifecycleEvent::new("manifest_publish", "ok")
                .count("tools", r.tools_sent as u64)
                .count(
                    "generation",
                    r.generation
                        .and_then(|g| u64::try_from(g).ok())
                        .unwrap_or(0),
                ),
            Err(e) => LifecycleEvent::new("manifest_publish", "failed").detail(e.code().as_str()),
        };
        self.inner.observer.lifecycle(e);
        result
    }

    /// Wait until a background policy refresh, if one is running, has finished.
    pub async fn wait_policy_refresh(&self) {
        if let Some(m) = &self.inner.remote {
            m.wait_idle().await;
        }
        if let Some(db) = &self.inner.db_catalogue {
            db.wait_idle().await;
        }
    }

    /// The remote policy cache status (`None` unless the policy mode is remote).
    pub fn policy_status(&self) -> Option<CacheStatus> {
        self.inner.remote.as_ref().map(|m| m.status())
    }

    /// The policy the runtime decides tool calls with right now (open, the tool map, or
    /// unavailable), from memory: for hosts that explain decisions (`authsec doctor` lists each
    /// tool with the scopes it needs). Deciding stays [`Runtime::check`]'s.
    pub fn policy_view(&self) -> PolicyView {
        self.inner.policy.current()
    }

    /// The `user_info` document of `principal` (the seed's `arguments["_user_info"]`): `sub`,
    /// `email`, `tenant_id` and the effective RBAC sets (claims named by `rbac_claims`, `res:act`
    /// scopes derived, restricted to the tenant catalogue when one is configured; when the
    /// catalogue cannot answer, the sets are empty: never more than what counts).
    pub fn user_info(&self, principal: &Principal) -> UserInfo {
        self.inner.rbac.user_info(principal).unwrap_or_else(|_| {
            let mut u = UserInfo::from_principal(principal, &self.inner.cfg.rbac_claims);
            u.restrict(None);
            u
        })
    }

    /// The sign-in session store shared by the fleet (`redis_url` set): sessions sealed in
    /// the runtime's Redis. `None` without `redis_url` (the memory store serves).
    pub fn fleet_session_store(&self) -> Option<Arc<dyn crate::session::store::SessionStore>> {
        self.inner.store.clone().map(|s| {
            Arc::new(crate::session::redis::RedisSessionStore::over(s))
                as Arc<dyn crate::session::store::SessionStore>
        })
    }

    /// The credentials of the external service `service_name` for the user of `session_id`,
    /// from the AuthSec services API (`POST {services_url}/credentials`; the seed's
    /// `ServiceAccessSDK.get_service_credentials`). Errors (`services_error`, or
    /// `invalid_input` for an empty argument) never carry a credential value.
    pub async fn service_credentials(
        &self,
        session_id: &str,
        service_name: &str,
    ) -> Result<crate::backend::services::ServiceCredentials> {
        self.inner
            .services
            .credentials(session_id, service_name)
            .await
    }

    /// The service's `credentials.access_token` (the seed's `get_service_token`);
    /// `services_error` "No access token available for <name>" when there is none.
    pub async fn service_token(
        &self,
        session_id: &str,
        service_name: &str,
    ) -> Result<crate::config::Secret> {
        self.inner.services.token(session_id, service_name).await
    }

    /// The user's details at the service (`POST {services_url}/user-details`, the seed's
    /// `get_service_user_details`): the answer's JSON object.
    pub async fn service_user_details(
        &self,
        session_id: &str,
        service_name: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        self.inner
            .services
            .user_details(session_id, service_name)
            .await
    }

    /// The normalized configuration.
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// The path the RFC 9728 document is served at.
    pub fn metadata_path(&self) -> &str {
        &self.inner.metadata_path
    }

    /// Decide a request whose body the host stopped reading because it is larger than
    /// `max_body_bytes` (a declared `Content-Length` over the limit, or more bytes than that
    /// arrived): the decision [`Runtime::check`] gives that whole body (the metadata document
    /// on its route, otherwise `413`), without the host buffering or allocating the body.
    /// `req.body` is ignored. Always decided from memory; audited like [`Runtime::check`]. The
    /// CORS Origin rule applies as in [`Runtime::check`]: an origin that is not allowed is
    /// refused with 403 before the size matters, an allowed one can read the answer.
    pub fn check_oversized(&self, req: &Request<'_>) -> Decision {
        let start = Instant::now();
        let mut note = Note::new(self, req);
        let d = match self.cors_origin(req, scan_headers(req).origin) {
            Err(refused) => refused,
            Ok(origin) => {
                let d = self
                    .metadata_answer(req, &mut note)
                    .unwrap_or_else(|| self.too_large(&mut note));
                match origin {
                    Some(o) => self.with_cors(o, d),
                    None => d,
                }
            }
        };
        self.observe(note, &d, start);
        d
    }

    /// The CORS Origin rule of both entry points: with `cors_allowed_origins` configured, a
    /// request from an origin that is not allowed is refused (`Err`, 403; the metadata document
    /// is public), an allowed one is `Ok(Some(origin))`, whose answer gets the CORS headers.
    /// Without configured origins, or without `Origin`, `Ok(None)`.
    fn cors_origin<'a>(
        &self,
        req: &Request<'_>,
        origin: Option<&'a str>,
    ) -> std::result::Result<Option<&'a str>, Decision> {
        let cors = &self.inner.cors;
        match origin {
            Some(o) if cors.configured() => {
                if !self.is_metadata_request(req) && !cors.allows(o) {
                    Err(Decision::Respond(cors::forbidden_origin()))
                } else {
                    Ok(Some(o))
                }
            }
            _ => Ok(None),
        }
    }

    /// The metadata document when `req` is a `GET`/`HEAD` on its path.
    /// A `GET` or `HEAD` of the metadata document's path.
    fn is_metadata_request(&self, req: &Request<'_>) -> bool {
        let path = req.path.split(['?', '#']).next().unwrap_or("");
        (req.method.eq_ignore_ascii_case("GET") || req.method.eq_ignore_ascii_case("HEAD"))
            && metadata::is_metadata_request(&self.inner.metadata_path, path)
    }

    fn metadata_answer(&self, req: &Request<'_>, note: &mut Note) -> Option<Decision> {
        self.is_metadata_request(req).then(|| {
            note.reason = Some("metadata");
            Decision::Respond(self.metadata())
        })
    }

    fn too_large(&self, note: &mut Note) -> Decision {
        note.reason = Some("body_too_large");
        Decision::Respond(self.inner.responder.too_large(self.inner.max_body))
    }

    /// The RFC 9728 document (also what [`Runtime::check`] answers to `GET` on its path).
    pub fn metadata(&self) -> Response {
        metadata::document(&self.inner.cfg, self.inner.policy.scopes_supported())
    }

    /// Decide what happens to `req`. Every decision is counted in the metrics, runs in an
    /// `authsec.check` tracing span and, when an audit sink is attached, makes one audit event
    /// (see `docs/audit.md`).
    pub fn check(&self, req: &Request<'_>) -> Check {
        let start = Instant::now();
        let mut note = Note::new(self, req);
        let check = self.decide_request(req, &mut note, start);
        if let Check::Ready(d) = &check {
            self.observe(note, d, start);
        }
        check
    }

    fn decide_request(&self, req: &Request<'_>, note: &mut Note, start: Instant) -> Check {
        let _entered = note.span.clone().entered();
        let scan = scan_headers(req);
        if let Some(o) = scan.origin {
            if scan.preflight_method && req.method.eq_ignore_ascii_case("OPTIONS") {
                if let Some(d) = self.preflight(req, o) {
                    return Check::Ready(d);
                }
            }
        }
        let origin = match self.cors_origin(req, scan.origin) {
            Err(refused) => return Check::Ready(refused),
            Ok(Some(o)) => o,
            Ok(None) => return self.check_request(req, &scan, note, start),
        };
        match self.check_request(req, &scan, note, start) {
            Check::Ready(d) => Check::Ready(self.with_cors(origin, d)),
            Check::Pending(p) => {
                let this = self.clone();
                let origin = origin.to_string();
                Check::Pending(Pending(Box::pin(async move {
                    let d = p.await;
                    this.with_cors(&origin, d)
                })))
            }
        }
    }

    /// A CORS preflight is never challenged: on the metadata path the core answers it (public
    /// document); elsewhere it goes to the host's handler unless origins are configured, then
    /// the core answers it. A preflight has no body: an `OPTIONS` that carries one is not
    /// passed to the handler without a principal (`None`: decided like any other request).
    fn preflight(&self, req: &Request<'_>, origin: &str) -> Option<Decision> {
        let path = req.path.split(['?', '#']).next().unwrap_or("");
        if metadata::is_metadata_request(&self.inner.metadata_path, path) {
            return Some(Decision::Respond(cors::metadata_preflight()));
        }
        if !self.inner.cors.configured() {
            return req.body.is_empty().then_some(Decision::PassThrough);
        }
        let requested = req.headers_named("access-control-request-headers").next();
        Some(Decision::Respond(
            self.inner.cors.preflight(origin, requested),
        ))
    }

    /// The core's own answer made readable to an allowed origin (the metadata document already
    /// is, to every origin).
    fn with_cors(&self, origin: &str, d: Decision) -> Decision {
        match d {
            Decision::Respond(mut r)
                if !r
                    .headers
                    .iter()
                    .any(|(k, _)| k == "access-control-allow-origin") =>
            {
                self.inner.cors.decorate(origin, &mut r);
                Decision::Respond(r)
            }
            other => other,
        }
    }

    fn check_request(
        &self,
        req: &Request<'_>,
        scan: &Scan<'_>,
        note: &mut Note,
        start: Instant,
    ) -> Check {
        let inner = &*self.inner;
        if let Some(d) = self.metadata_answer(req, note) {
            return Check::Ready(d);
        }
        if req.body.len() as u64 > inner.max_body {
            return Check::Ready(self.too_large(note));
        }
        if let Some(c) = self.sign_in_route(req, note, start) {
            return c;
        }
        let mut auth = req.headers_named("authorization");
        let header = auth.next();
        if auth.next().is_some() {
            note.reason = Some("multiple_authorization");
            return Check::Ready(Decision::Respond(
                inner
                    .responder
                    .bad_request("multiple Authorization headers"),
            ));
        }
        let body = if req.method.eq_ignore_ascii_case("POST") {
            jsonrpc::parse(req.body)
        } else {
            Ok(Body::Empty)
        };
        if let Some(name) = scan.repeated() {
            let b = body.as_ref().unwrap_or(&Body::Empty);
            return Check::Ready(Decision::Respond(
                inner
                    .responder
                    .header_mismatch(b, &format!("header {name} is repeated")),
            ));
        }
        let mcp = scan.mcp;
        let era = Era::of(mcp.protocol_version);
        if let Ok(b) = &body {
            note.body(b);
            if let Some(detail) = revision::check_headers(era, b, mcp) {
                note.reason = Some("header_mismatch");
                return Check::Ready(Decision::Respond(
                    inner.responder.header_mismatch(b, &detail),
                ));
            }
        }
        let token = match extract_bearer(header.unwrap_or("")) {
            Bearer::Missing => {
                if let Some(c) = self.sign_in_request(req, era, &body, note, start) {
                    return c;
                }
                let d = Denial::from_auth(AuthError::with_reason(Reason::NoToken, MISSING_TOKEN));
                return Check::Ready(self.deny_auth(false, era, &body, d, note));
            }
            Bearer::Malformed => {
                let d = Denial::from_auth(AuthError::with_reason(
                    Reason::NoToken,
                    "malformed bearer token: unexpected whitespace",
                ));
                return Check::Ready(self.deny_auth(true, era, &body, d, note));
            }
            Bearer::Token(t) => t,
        };
        let session = scan.session;
        match inner.validator.validate_sync(token, &mut note.path) {
            Some(result) => Check::Ready(self.decide(result, era, session, body, note)),
            None => {
                let this = self.clone();
                let token = token.to_string();
                let session = session.map(str::to_string);
                let mut note = std::mem::take(note);
                let span = note.span.clone();
                Check::Pending(Pending(Box::pin(
                    async move {
                        let mut path = ValidationPath::None;
                        let result = this.inner.validator.validate(&token, &mut path).await;
                        note.path = path;
                        let d = this.decide(result, era, session.as_deref(), body, &mut note);
                        this.observe(note, &d, start);
                        d
                    }
                    .instrument(span),
                )))
            }
        }
    }

    fn decide(
        &self,
        result: std::result::Result<Arc<Principal>, AuthError>,
        era: Era,
        session: Option<&str>,
        body: std::result::Result<Body, ParseError>,
        note: &mut Note,
    ) -> Decision {
        match result {
            Err(e) => self.deny_auth(true, era, &body, Denial::from_auth(e), note),
            Ok(p) => {
                if let Some(id) = session {
                    if self.inner.session_owners.claim(id, &p) == Claim::Foreign {
                        note.reason = Some("session_owner_mismatch");
                        note.principal = Some(p);
                        let b = body.as_ref().unwrap_or(&Body::Empty);
                        return Decision::Respond(self.inner.responder.session_not_found(b));
                    }
                }
                self.authorize_request(p, era, body, note)
            }
        }
    }

    /// Denial handling of reference §3.3: discovery pass-through (the legacy handshake, or
    /// `server/discover` for 2026-07-28 clients), in-band answers for MCP clients that presented
    /// a token, otherwise the standard HTTP error.
    fn deny_auth(
        &self,
        token_present: bool,
        era: Era,
        body: &std::result::Result<Body, ParseError>,
        d: Denial,
        note: &mut Note,
    ) -> Decision {
        note.denial(&d);
        let r = &self.inner.responder;
        if let Ok(b) = body {
            if token_present && matches!(d.status(), 401 | 403) && b.is_json_rpc() {
                if revision::all_discovery(era, b) {
                    return Decision::PassThrough;
                }
                if b.any_method("tools/call") {
                    return Decision::Respond(r.in_band_tool_error(b, &d, era));
                }
                return Decision::Respond(r.in_band_rpc_error(b, &d));
            }
        }
        Decision::Respond(r.auth_error(&d))
    }

    /// Authorize every `tools/call` of an authenticated request, in order; the first denial
    /// answers for the whole request.
    fn authorize_request(
        &self,
        principal: Arc<Principal>,
        era: Era,
        body: std::result::Result<Body, ParseError>,
        note: &mut Note,
    ) -> Decision {
        let r = &self.inner.responder;
        let items = &*self.inner.items;
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                note.reason = Some("bad_request");
                note.principal = Some(principal);
                return Decision::Respond(r.bad_request(&e.0));
            }
        };
        let view = self.policy_for(&principal).current();
        let lists = ListKind::ALL
            .into_iter()
            .any(|k| resources::gates_list(&view, items, k) && body.any_method(k.method()));
        // Every call is decided, so one 403 names the scopes of every denied call (SEP-835);
        // a policy outage answers at once. The audit note names the first denied call.
        let mut refused = Vec::new();
        let mut tool_refused = false;
        let mut first_reason: Option<&'static str> = None;
        for env in body.envelopes() {
            let Some(action) = action_of(env) else {
                continue;
            };
            let verdict = match action {
                Action::CallTool(_) => decide(&view, &principal, action),
                _ => items.decide(&view, &principal, action),
            };
            tool_refused |= verdict.is_err() && matches!(action, Action::CallTool(_));
            match verdict {
                Ok(()) => {}
                Err(unavailable @ Refusal::Unavailable(_)) => {
                    note.target(env);
                    let d = Denial::from_refusal(unavailable, &principal);
                    note.denial(&d);
                    note.scopes.clear();
                    note.principal = Some(principal);
                    return Decision::Respond(r.tool_error(&d));
                }
                Err(refusal) => {
                    if refused.is_empty() {
                        note.target(env);
                        first_reason = Some(refusal_reason(&refusal));
                    }
                    refused.push(refusal);
                }
            }
        }
        if !refused.is_empty() {
            let d = Denial::from_refusals(refused, &principal);
            note.denial(&d);
            if let Some(reason) = first_reason.filter(|r| *r != "policy_refused") {
                note.reason = Some(reason);
            }
            if note.reason != Some("insufficient_scope") {
                note.scopes.clear();
            }
            note.principal = Some(principal);
            if body.is_json_rpc() {
                // A denied tool call answers with a tool result (isError); a denied
                // resources/read or prompts/get with a JSON-RPC error.
                return Decision::Respond(if tool_refused {
                    r.in_band_tool_error(&body, &d, era)
                } else {
                    r.in_band_rpc_error(&body, &d)
                });
            }
            return Decision::Respond(r.tool_error(&d));
        }
        Decision::Allow(Allow {
            principal,
            filter_tools_list: !matches!(view, PolicyView::Open),
            tools_list_request: lists,
        })
    }

    /// Count the decision, record it on its span and, when a sink is attached (and sampling
    /// keeps an allow), queue its audit event.
    fn observe(&self, note: Note, d: &Decision, start: Instant) {
        let obs = &self.inner.observer;
        let took = start.elapsed();
        let (outcome, status) = match d {
            Decision::Allow(_) => (Outcome::Allow, None),
            Decision::PassThrough => (Outcome::PassThrough, None),
            Decision::Respond(r) if matches!(note.reason, Some("metadata" | "sign_in")) => {
                (Outcome::Respond, Some(r.status))
            }
            Decision::Respond(r) => (Outcome::Deny, Some(r.status)),
        };
        let reason = match outcome {
            Outcome::Allow => None,
            _ => Some(note.reason.unwrap_or("internal")),
        };
        obs.metrics
            .decision(outcome, reason.map(reason_index), Some(took));
        if !note.span.is_disabled() {
            note.span.record("decision", outcome.as_str());
            if let Some(r) = reason {
                note.span.record("reason", r);
            }
        }
        let Some(mut ev) = note.event else {
            return;
        };
        if outcome == Outcome::Allow && !obs.events.keep_allowed() {
            return;
        }
        let principal = match d {
            Decision::Allow(a) => Some(&a.principal),
            _ => note.principal.as_ref(),
        };
        if let Some(p) = principal {
            self.identify(&mut ev, p);
        }
        ev.decision = outcome;
        ev.status = status;
        ev.reason = reason;
        ev.error = note.error;
        ev.scopes = note.scopes;
        ev.validation = note.path;
        ev.latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        obs.events.offer(ev.to_json_line(SystemTime::now()));
    }

    /// The caller's identifiers an event may carry (never a claim marked private).
    fn identify(&self, ev: &mut DecisionEvent, p: &Principal) {
        let pv = &self.inner.privacy;
        let text = |s: &str| (!s.is_empty()).then(|| crate::audit::event::cut(s));
        if !pv.subject {
            ev.subject = text(&p.subject);
        }
        let client = p.client_id();
        // `client_id()` falls back to the subject: a private subject stays private.
        let hidden = pv.client_id || (pv.subject && client == p.subject);
        if !hidden {
            ev.client_id = text(client);
        }
        ev.issuer = text(&p.issuer);
        if !pv.tenant {
            if let Some(serde_json::Value::String(t)) = p.claims.get(&pv.tenant_claim) {
                ev.tenant = text(t);
            }
        }
    }

    /// Attach an audit sink: every later event is also delivered to it, on the runtime's audit
    /// thread, through the bounded queue (`audit_queue_capacity`; a full queue drops and
    /// counts). Sinks configured by `audit_log` are attached at build.
    pub fn add_audit_sink(&self, sink: Arc<dyn AuditSink>) -> Result<()> {
        self.inner
            .observer
            .add_sink(sink)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("audit thread: {e}")))
    }

    /// Wait until every audit event queued before this call has reached every sink and the
    /// sinks were flushed, at most `timeout`. Returns whether it completed. Never call it on
    /// a sink's own thread (from inside a sink).
    pub fn flush_audit(&self, timeout: Duration) -> bool {
        self.inner.observer.flush(timeout)
    }

    /// Counts of the audit trail (queued, delivered, dropped, sampled out).
    pub fn audit_stats(&self) -> AuditStats {
        self.inner.observer.stats()
    }

    /// Every metric of this runtime in the Prometheus text format, version 0.0.4 (serve it
    /// with [`crate::METRICS_CONTENT_TYPE`]). The names are listed in `docs/audit.md`.
    pub fn metrics_text(&self) -> String {
        self.inner.observer.render()
    }

    /// Filter a handler's whole answer to a `tools/list` request for `principal` (JSON, or SSE
    /// when `content_type` is `text/event-stream`): the one-shot form of
    /// [`Runtime::response_filter`], with the same rules (byte-faithful, fail-closed: an answer
    /// that cannot be read is never forwarded, a 502 is answered instead).
    pub fn filter_response(
        &self,
        principal: &Principal,
        content_type: Option<&str>,
        body: &[u8],
    ) -> FilterOutcome {
        let view = self.policy_for(principal).current();
        if matches!(view, PolicyView::Open) {
            return FilterOutcome::Unchanged;
        }
        let limit = usize::try_from(self.inner.max_body).unwrap_or(usize::MAX);
        let result = if filter::is_sse(content_type) {
            filter::filter_sse(body, &view, &self.inner.items, principal, limit)
        } else if body.len() > limit {
            Err(filter::Refusal::BadGateway(filter::TOO_LARGE))
        } else {
            filter::filter_json(body, &view, &self.inner.items, principal)
        };
        match result {
            Ok(None) => FilterOutcome::Unchanged,
            Ok(Some(b)) => FilterOutcome::Rewritten(b),
            Err(r) => FilterOutcome::Respond(self.refusal(r)),
        }
    }

    /// [`Runtime::filter_response`] for the answer to an allowed request: an SSE answer is always
    /// filtered, a JSON one only when the request contained `tools/list`
    /// ([`Allow::tools_list_request`]); otherwise the answer is forwarded as it is.
    pub fn filter_allowed_response(
        &self,
        allow: &Allow,
        content_type: Option<&str>,
        body: &[u8],
    ) -> FilterOutcome {
        self.filter_response_for(
            &allow.principal,
            allow.tools_list_request,
            content_type,
            body,
        )
    }

    /// [`Runtime::filter_allowed_response`] from the allow's parts (bindings that keep the
    /// principal and the [`Allow::tools_list_request`] flag apart).
    pub fn filter_response_for(
        &self,
        principal: &Principal,
        tools_list_request: bool,
        content_type: Option<&str>,
        body: &[u8],
    ) -> FilterOutcome {
        if !tools_list_request && !filter::is_sse(content_type) {
            return FilterOutcome::Unchanged;
        }
        self.filter_response(principal, content_type, body)
    }

    fn refusal(&self, r: filter::Refusal) -> Response {
        match r {
            filter::Refusal::BadGateway(m) => self.inner.responder.bad_gateway(m),
            filter::Refusal::Policy(d) => self.inner.responder.tool_error(&d),
        }
    }

    /// Bind the MCP session `session_id` to `principal`, the caller whose allowed `initialize`
    /// the server answered with that `Mcp-Session-Id` (docs/sessions.md). A host that sees the
    /// server's answer calls this, so the id belongs to its opener before anyone uses it;
    /// otherwise the first request that carries the id binds it. Returns false when the id is
    /// already another caller's (a server that reused an id: the earlier owner keeps it).
    pub fn bind_session(&self, session_id: &str, principal: &Principal) -> bool {
        self.inner.session_owners.claim(session_id, principal) != Claim::Foreign
    }

    /// A streaming filter for the handler's answer to an allowed request (see
    /// [`ResponseFilter`]): `tools_list_request` is [`Allow::tools_list_request`];
    /// `content_type` and `content_encoding` are the handler's headers.
    pub fn response_filter(
        &self,
        principal: Arc<Principal>,
        tools_list_request: bool,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> ResponseFilter {
        ResponseFilter::new(
            self.policy_for(&principal).clone(),
            self.inner.items.clone(),
            self.inner.responder.clone(),
            principal,
            self.inner.max_body,
            tools_list_request,
            content_type,
            content_encoding,
        )
    }
}

/// A warning for each configured `authorization_server`, `jwks_url` or `introspection_url` whose
/// scheme is not `https` and whose host is not loopback (`localhost`, `127.0.0.0/8`, `::1`). Only
/// scheme, host and port are printed, never a path or query.
fn insecure_url_warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in [
        ("authorization_server", &cfg.authorization_server),
        ("jwks_url", &cfg.jwks_url),
        ("introspection_url", &cfg.introspection_url),
    ] {
        let Ok(u) = url::Url::parse(value.trim()) else {
            continue;
        };
        if u.scheme() == "https" {
            continue;
        }
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.to_ascii_lowercase().ends_with(".localhost")
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if !loopback {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            out.push(format!(
                "{name} {}://{host}{port} is not https outside loopback: use https in production",
                u.scheme()
            ));
        }
    }
    out
}

/// The reason code of a policy refusal (see `audit::event::REASONS`).
fn refusal_reason(r: &crate::policy::Refusal) -> &'static str {
    use crate::policy::Refusal;
    #[allow(unreachable_patterns)] // refusal kinds added later count as `policy_refused`
    match r {
        Refusal::Unmapped { .. } => "unmapped_tool",
        Refusal::MissingScope { .. } => "insufficient_scope",
        Refusal::Unavailable(_) => "policy_unavailable",
        _ => "policy_refused",
    }
}

/// What one decision's audit record needs beyond the decision: the reason code, the
/// challenge's scopes, the refused principal, how the token was established, and (only when a
/// sink is attached) the request's identifiers. Filled at the decision points.
struct Note {
    reason: Option<&'static str>,
    error: Option<&'static str>,
    scopes: Vec<String>,
    principal: Option<Arc<Principal>>,
    path: ValidationPath,
    span: tracing::Span,
    /// `Some` when an audit sink is attached: the event being filled.
    event: Option<Box<DecisionEvent>>,
}

impl Default for Note {
    fn default() -> Self {
        Note {
            reason: None,
            error: None,
            scopes: Vec::new(),
            principal: None,
            path: ValidationPath::None,
            span: tracing::Span::none(),
            event: None,
        }
    }
}

impl Note {
    fn new(rt: &Runtime, req: &Request<'_>) -> Note {
        let span = tracing::info_span!(
            "authsec.check",
            decision = tracing::field::Empty,
            reason = tracing::field::Empty
        );
        let event = rt.inner.observer.events.enabled().then(|| {
            let cut = crate::audit::event::cut;
            Box::new(DecisionEvent {
                http_method: cut(req.method),
                http_request_id: req.headers_named("x-request-id").next().map(cut),
                protocol_version: req.headers_named("mcp-protocol-version").next().map(cut),
                ..DecisionEvent::default()
            })
        });
        Note {
            span,
            event,
            ..Note::default()
        }
    }

    /// The JSON-RPC identifiers of the body: the first id, the message count, and the first
    /// message the policy gates (else the first message).
    fn body(&mut self, b: &Body) {
        let Some(ev) = self.event.as_deref_mut() else {
            return;
        };
        let mut envs = b.envelopes();
        let Some(first) = envs.next() else {
            return;
        };
        ev.rpc_id = match &first.id {
            jsonrpc::Id::Absent => None,
            jsonrpc::Id::String(s) => Some(crate::audit::event::cut(s).into()),
            id => Some(id.to_value()),
        };
        ev.messages = Some(b.envelopes().count());
        let gated = b.envelopes().find(|e| action_of(e).is_some());
        self.target(gated.unwrap_or(first));
    }

    /// The message the event names (method and tool, prompt or resource).
    fn target(&mut self, env: &Envelope) {
        let Some(ev) = self.event.as_deref_mut() else {
            return;
        };
        let cut = |s: &Option<String>| s.as_deref().map(crate::audit::event::cut);
        ev.method = cut(&env.method);
        ev.name = if env.is("resources/read") {
            cut(&env.uri)
        } else {
            cut(&env.name)
        };
    }

    /// The reason, error and challenge scopes of a denial.
    fn denial(&mut self, d: &Denial) {
        self.error = Some(d.error());
        self.reason = Some(match d.kind {
            DenialKind::InvalidToken => d.reason.unwrap_or("invalid_token"),
            DenialKind::InvalidAudience => "audience_mismatch",
            DenialKind::InsufficientScope => "insufficient_scope",
            DenialKind::PolicyUnavailable => "policy_unavailable",
            DenialKind::RbacDenied => "rbac_denied",
        });
        if d.kind == DenialKind::InsufficientScope && self.event.is_some() {
            self.scopes = d.required.clone();
        }
    }
}

/// The headers the decision reads besides `Authorization`, found in one pass over the request.
struct Scan<'a> {
    /// The first `Origin`.
    origin: Option<&'a str>,
    /// `Access-Control-Request-Method` is present (with `OPTIONS` and `Origin`: a preflight).
    preflight_method: bool,
    /// `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (first copies).
    mcp: McpHeaders<'a>,
    /// `Mcp-Session-Id` (first copy): bound to the caller that first uses it.
    session: Option<&'a str>,
    /// Which of those four came more than once (bits 0, 1, 2, 3).
    repeats: u8,
}

impl Scan<'_> {
    /// The first repeated request-metadata header, in a fixed order: each may appear once (a
    /// server reading the other copy would see another request than the one decided).
    fn repeated(&self) -> Option<&'static str> {
        [
            "MCP-Protocol-Version",
            "Mcp-Method",
            "Mcp-Name",
            "Mcp-Session-Id",
        ]
        .into_iter()
        .enumerate()
        .find(|(i, _)| self.repeats & (1 << i) != 0)
        .map(|(_, n)| n)
    }
}

fn scan_headers<'a>(req: &Request<'a>) -> Scan<'a> {
    let mut s = Scan {
        origin: None,
        preflight_method: false,
        mcp: McpHeaders::default(),
        session: None,
        repeats: 0,
    };
    for (k, v) in req.headers {
        // Compare names only when the length fits (most headers are none of these).
        let (slot, bit) = match k.len() {
            6 if k.eq_ignore_ascii_case("origin") => {
                s.origin.get_or_insert(v);
                continue;
            }
            29 if k.eq_ignore_ascii_case("access-control-request-method") => {
                s.preflight_method = true;
                continue;
            }
            20 if k.eq_ignore_ascii_case("mcp-protocol-version") => {
                (&mut s.mcp.protocol_version, 0)
            }
            10 if k.eq_ignore_ascii_case("mcp-method") => (&mut s.mcp.method, 1),
            8 if k.eq_ignore_ascii_case("mcp-name") => (&mut s.mcp.name, 2),
            14 if k.eq_ignore_ascii_case("mcp-session-id") => (&mut s.session, 3),
            _ => continue,
        };
        if slot.is_some() {
            s.repeats |= 1 << bit;
        } else {
            *slot = Some(v);
        }
    }
    s
}

/// The action an envelope asks the policy about; `None` for methods the policy does not gate
/// (the handshake, notifications, lists: lists are filtered in the answer instead).
fn action_of(env: &Envelope) -> Option<Action<'_>> {
    let name = env.name.as_deref().unwrap_or("");
    let uri = env.uri.as_deref().unwrap_or("");
    match env.method.as_deref()? {
        "tools/call" => Some(Action::CallTool(name)),
        "resources/read" => Some(Action::ReadResource(uri)),
        "prompts/get" => Some(Action::GetPrompt(name)),
        _ => None,
    }
}

enum Bearer<'a> {
    Missing,
    Malformed,
    Token(&'a str),
}

/// `Bearer <token>`, scheme case-insensitive, split on the first run of whitespace; anything else
/// is a missing token (reference §3.2). A token with inner whitespace is malformed.
fn extract_bearer(header: &str) -> Bearer<'_> {
    let header = header.trim_start();
    let Some(split) = header.find(|c: char| c.is_whitespace()) else {
        return Bearer::Missing;
    };
    let (scheme, rest) = header.split_at(split);
    let token = rest.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Bearer::Missing;
    }
    // Tokens are ASCII (RFC 6750 b64token): scan bytes, and decode characters only when a
    // non-ASCII byte could start a Unicode space.
    let suspicious = token
        .bytes()
        .fold(0u8, |any, b| any | u8::from(b <= b' ') | (b >> 7))
        != 0;
    if suspicious && token.contains(|c: char| c.is_whitespace()) {
        return Bearer::Malformed;
    }
    Bearer::Token(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_redacts_credentials_and_body() {
        let headers = [
            ("Authorization", "Bearer tok-SECRET-1"),
            ("cookie", "sid=SECRET-2"),
            ("Proxy-Authorization", "Basic SECRET-3"),
            ("content-type", "application/json"),
        ];
        let req = Request {
            method: "POST",
            path: "/mcp",
            headers: &headers,
            body: br#"{"params":{"arguments":{"password":"SECRET-4"}}}"#,
        };
        let d = format!("{req:?}");
        assert!(!d.contains("SECRET"), "{d}");
        assert!(
            d.contains("Authorization") && d.contains("<redacted>"),
            "{d}"
        );
        assert!(
            d.contains("application/json") && d.contains("body_len"),
            "{d}"
        );
    }

    #[tokio::test]
    async fn startup_warns_about_plain_http_outside_loopback() {
        let cfg = |auth: &str| Config {
            issuer: "https://issuer.example.com".into(),
            authorization_server: auth.into(),
            jwks_url: "https://issuer.example.com/jwks".into(),
            resource_uri: "https://mcp.example.com/mcp".into(),
            ..Config::default()
        };
        let w = Runtime::new(cfg("http://auth.example.com:8080/x?q=secret"))
            .unwrap()
            .startup()
            .await
            .unwrap();
        assert_eq!(
            w,
            vec!["authorization_server http://auth.example.com:8080 is not https outside loopback: use https in production"]
        );
        for ok in [
            "https://auth.example.com",
            "http://127.0.0.1:9000",
            "http://localhost",
            "http://[::1]:80",
            "",
        ] {
            let w = Runtime::new(cfg(ok)).unwrap().startup().await.unwrap();
            assert!(w.is_empty(), "{ok}: {w:?}");
        }
        let mut c = cfg("https://auth.example.com");
        c.jwks_url = "http://keys.example.com/jwks".into();
        let w = Runtime::new(c).unwrap().startup().await.unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("jwks_url http://keys.example.com "),
            "{w:?}"
        );
    }

    #[test]
    fn bearer_extraction() {
        assert!(matches!(extract_bearer("Bearer abc"), Bearer::Token("abc")));
        assert!(matches!(
            extract_bearer("bearer \t abc  "),
            Bearer::Token("abc")
        ));
        assert!(matches!(extract_bearer("BEARER abc"), Bearer::Token("abc")));
        assert!(matches!(extract_bearer("Basic abc"), Bearer::Missing));
        assert!(matches!(extract_bearer("abc"), Bearer::Missing));
        assert!(matches!(extract_bearer("Bearer "), Bearer::Missing));
        assert!(matches!(extract_bearer(""), Bearer::Missing));
        assert!(matches!(extract_bearer("Bearer a b"), Bearer::Malformed));
        assert!(matches!(
            extract_bearer("Bearer a\u{0b}b"),
            Bearer::Malformed
        ));
        assert!(matches!(
            extract_bearer("Bearer a\u{3000}b"),
            Bearer::Malformed
        ));
        assert!(matches!(
            extract_bearer("Bearer a\u{1}b"),
            Bearer::Token("a\u{1}b")
        ));
        let req = |headers| Request {
            method: "POST",
            path: "/mcp",
            headers,
            body: b"",
        };
        assert_eq!(
            req(&[("Authorization", "bearer  abc ")]).bearer_token(),
            Some("abc")
        );
        assert_eq!(req(&[("authorization", "Bearer a b")]).bearer_token(), None);
        assert_eq!(req(&[("authorization", "Basic abc")]).bearer_token(), None);
        assert_eq!(
            req(&[("authorization", "Bearer a"), ("Authorization", "Bearer b")]).bearer_token(),
            None
        );
        assert_eq!(req(&[]).bearer_token(), None);
    }

    fn respond(d: Decision) -> Response {
        match d {
            Decision::Respond(r) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn builder_tool_rbac_follows_the_registration_rule() {
        let cfg = || {
            Config::from_json(
                r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
                    "resource_uri": "https://mcp.example.com/mcp",
                    "tool_rbac": {"deploy": {"roles": ["admin"]}}}"#,
            )
            .unwrap()
        };
        let req = |v: serde_json::Value| -> crate::config::RbacRequirement {
            serde_json::from_value(v).unwrap()
        };
        // The configuration's own requirement again, and a new tool: built.
        let rt = Runtime::builder(cfg())
            .tool_rbac(" deploy ", req(serde_json::json!({"roles": ["admin"]})))
            .tool_rbac("audit", req(serde_json::json!({"groups": ["sec"]})))
            .build()
            .unwrap();
        let table = rt.config().tool_rbac.clone().unwrap();
        assert_eq!(
            table.keys().map(String::as_str).collect::<Vec<_>>(),
            ["audit", "deploy"]
        );
        // A different requirement for a configured tool is refused, not silently replaced.
        let Err(e) = Runtime::builder(cfg())
            .tool_rbac("deploy", req(serde_json::json!({"roles": ["anyone"]})))
            .build()
        else {
            panic!("a conflicting registration must fail the build");
        };
        assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
        assert_eq!(
            e.message(),
            "tool_rbac['deploy'] is registered twice with different requirements"
        );
        // A blank name too; the first refusal is the one reported.
        let Err(e) = Runtime::builder(cfg())
            .tool_rbac(" ", crate::config::RbacRequirement::default())
            .tool_rbac("deploy", req(serde_json::json!({"roles": ["anyone"]})))
            .build()
        else {
            panic!("a blank tool name must fail the build");
        };
        assert_eq!(e.message(), "tool_rbac contains an empty tool name");
    }

    #[test]
    fn check_oversized_answers_as_check_does_on_the_whole_body() {
        let cfg = Config::from_json(
            r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
                "resource_uri": "https://mcp.example.com/mcp", "max_body_bytes": 10,
                "tool_scopes": {"list_issues": ["issues:read"]}}"#,
        )
        .unwrap();
        let rt = Runtime::new(cfg).unwrap();
        let headers = [("authorization", "Bearer abc")];
        let big = [b'x'; 11];
        let req = |method, path, body| Request {
            method,
            path,
            headers: &headers,
            body,
        };
        let Check::Ready(whole) = rt.check(&req("POST", "/mcp", &big)) else {
            panic!("an oversized body is decided from memory");
        };
        let whole = respond(whole);
        let over = respond(rt.check_oversized(&req("POST", "/mcp", &[])));
        assert_eq!(over.status, 413);
        assert_eq!(
            std::str::from_utf8(&over.body).unwrap(),
            r#"{"error":"invalid_request","error_description":"request body exceeds max_body_bytes (10)"}"#
        );
        assert_eq!(
            (over.status, &over.headers, &over.body),
            (whole.status, &whole.headers, &whole.body)
        );
        let meta = respond(rt.check_oversized(&req(
            "GET",
            "/.well-known/oauth-protected-resource/mcp",
            &[],
        )));
        assert_eq!(meta.status, 200);
        assert_eq!(meta.body, rt.metadata().body);
    }

    /// The CORS Origin rule of `check` applies to an oversized request too: a disallowed origin
    /// is refused with 403 (not 413), an allowed one gets the 413 readable to it.
    #[test]
    fn check_oversized_applies_the_cors_origin_rule() {
        let cfg = Config::from_json(
            r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
                "resource_uri": "https://mcp.example.com/mcp", "max_body_bytes": 10,
                "tool_scopes": {"list_issues": ["issues:read"]},
                "cors_allowed_origins": ["https://app.example.com"]}"#,
        )
        .unwrap();
        let rt = Runtime::new(cfg).unwrap();
        let big = [b'x'; 11];
        for origin in ["https://evil.example.com", "https://app.example.com"] {
            let headers = [("authorization", "Bearer abc"), ("origin", origin)];
            let req = |body| Request {
                method: "POST",
                path: "/mcp",
                headers: &headers,
                body,
            };
            let Check::Ready(whole) = rt.check(&req(&big)) else {
                panic!("decided from memory");
            };
            let whole = respond(whole);
            let over = respond(rt.check_oversized(&req(&[])));
            assert_eq!(
                (over.status, &over.headers, &over.body),
                (whole.status, &whole.headers, &whole.body),
                "{origin}"
            );
            let allow = over
                .headers
                .iter()
                .find(|(k, _)| k == "access-control-allow-origin")
                .map(|(_, v)| v.as_str());
            if origin == "https://evil.example.com" {
                assert_eq!(over.status, 403);
                assert_eq!(over.body, cors::forbidden_origin().body);
                assert_eq!(allow, None);
            } else {
                assert_eq!(over.status, 413);
                assert_eq!(allow, Some(origin));
            }
        }
    }
}

//! Runtime configuration: the AuthSec SDK `Config` (snake_case field names), its normalization,
//! mode inference and validation rules, plus this project's own safety fields.
//!
//! Loading from JSON rejects unknown fields. Loading from the environment lives in `env`.
//! The introspection secret is a [`Secret`]: it never appears in `Debug` output.

pub(crate) mod ecosystem;
pub(crate) mod env;
pub(crate) mod fleet;
pub(crate) mod rbac;
pub(crate) mod signin;

pub use ecosystem::{AudienceMatch, TrustedIssuer, DEFAULT_SCOPE_CLAIMS};
pub use fleet::{
    DEFAULT_REDIS_LEASE_WAIT_SECONDS, DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT_SECONDS,
};
pub use signin::SignInConfig;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use rbac::{RbacCatalogue, RbacClaims, RbacRequirement, TenantCatalogue, ToolRbac};

/// Default resource name (the realm of every challenge).
pub const DEFAULT_RESOURCE_NAME: &str = "AuthSec Protected MCP Resource";

/// A secret string: compared and used, never printed. `Debug` and `Serialize` both write
/// `"<redacted>"` (or `""` when empty), so a serialized [`Config`] never carries the secret in
/// clear; serializing is one-way (reading `"<redacted>"` back gives that literal text).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

/// What `Debug` and `Serialize` write instead of a non-empty secret.
const REDACTED: &str = "<redacted>";

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { REDACTED })
    }
}

/// Reads a JSON string; any other JSON type is refused without echoing the value (serde's
/// default "invalid type: integer `12345`" would put a mistyped secret into the error text).
/// A field of [`Config`] reads through [`Secret::named`], so the message names it.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Secret::named(d, "a secret")
    }
}

/// The `deserialize_with` readers of the secret fields of [`Config`]: each names its field in
/// the wrong-type message.
pub(crate) mod secret_field {
    use super::Secret;
    macro_rules! reader {
        ($($reader:ident => $name:literal),*) => {$(
            pub(crate) fn $reader<'de, D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Secret, D::Error> {
                Secret::named(d, $name)
            }
        )*};
    }
    reader!(
        introspection_client_secret => "introspection_client_secret",
        redis_url => "redis_url",
        redis_key => "redis_key",
        sign_in_client_secret => "sign_in.client_secret"
    );
}

impl Secret {
    /// Reads a JSON string as a secret; any other type is refused with "`field` must be a
    /// string" and never the value.
    fn named<'de, D: serde::Deserializer<'de>>(
        d: D,
        field: &'static str,
    ) -> std::result::Result<Secret, D::Error> {
        struct StringOnly(&'static str);
        impl StringOnly {
            fn refuse<E: serde::de::Error>(&self) -> std::result::Result<Secret, E> {
                Err(E::custom(format_args!("{} must be a string", self.0)))
            }
        }
        impl<'v> serde::de::Visitor<'v> for StringOnly {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Secret, E> {
                self.refuse()
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Secret, E> {
                self.refuse()
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Secret, E> {
                self.refuse()
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Secret, E> {
                self.refuse()
            }
            fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Secret, E> {
                self.refuse()
            }
            fn visit_seq<A: serde::de::SeqAccess<'v>>(
                self,
                _: A,
            ) -> std::result::Result<Secret, A::Error> {
                self.refuse()
            }
            fn visit_map<A: serde::de::MapAccess<'v>>(
                self,
                _: A,
            ) -> std::result::Result<Secret, A::Error> {
                self.refuse()
            }
        }
        d.deserialize_any(StringOnly(field))
    }

    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            write!(f, "\"{REDACTED}\"")
        }
    }
}

/// Where the tool -> scope policy comes from (reference §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Inferred from the other fields (see [`Config::effective_policy_mode`]).
    #[default]
    Unset,
    /// The AuthSec backend's policy only; 503 when it is unusable.
    RemoteRequired,
    /// The backend's policy, with `tool_scopes` while it is unusable.
    RemoteWithLocalFallback,
    /// `tool_scopes` only.
    LocalOnly,
    /// Every tool allowed for any valid token.
    Open,
}

impl PolicyMode {
    /// The canonical string value.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Unset => "unset",
            PolicyMode::RemoteRequired => "remote_required",
            PolicyMode::RemoteWithLocalFallback => "remote_with_local_fallback",
            PolicyMode::LocalOnly => "local_only",
            PolicyMode::Open => "open",
        }
    }
}

/// How bearer tokens are validated (reference §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationMode {
    /// Inferred from the URLs (see [`Config::effective_validation_mode`]).
    #[default]
    Unset,
    /// Local JWT verification against the JWKS.
    JwtOnly,
    /// RFC 7662 introspection only.
    IntrospectionOnly,
    /// JWT verification, then introspection (opaque tokens: introspection only).
    JwtAndIntrospect,
    /// JWT verification; introspection only when it fails (migration mode).
    JwtOrIntrospect,
}

impl ValidationMode {
    /// The canonical string value.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationMode::Unset => "unset",
            ValidationMode::JwtOnly => "jwt_only",
            ValidationMode::IntrospectionOnly => "introspection_only",
            ValidationMode::JwtAndIntrospect => "jwt_and_introspect",
            ValidationMode::JwtOrIntrospect => "jwt_or_introspect",
        }
    }
}

/// Tool name -> scopes (any-of). An empty list marks a public tool.
pub type ToolScopes = BTreeMap<String, Vec<String>>;

/// The runtime configuration. Field names are the Python SDK's snake_case names.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Expected `iss` of JWTs; required.
    pub issuer: String,
    /// Authorization server advertised in metadata and base of the AuthSec backend; defaults to
    /// the issuer.
    pub authorization_server: String,
    /// JWKS URL for local JWT verification.
    pub jwks_url: String,
    /// RFC 7662 introspection endpoint.
    pub introspection_url: String,
    /// Client id for introspection and the AuthSec backend (by convention the resource server id).
    pub introspection_client_id: String,
    /// Client secret for introspection and the AuthSec backend.
    #[serde(deserialize_with = "secret_field::introspection_client_secret")]
    pub introspection_client_secret: Secret,
    /// This server's canonical resource URI; tokens must carry it as audience.
    pub resource_uri: String,
    /// Human-readable name; the realm of every challenge.
    pub resource_name: String,
    /// AuthSec resource server id (enables remote policy).
    pub resource_server_id: String,
    /// `scopes_supported` of the metadata document when the backend gives none.
    pub supported_scopes: Vec<String>,
    /// Local tool -> scopes map. `None` and an empty map differ: an empty map denies every tool.
    pub tool_scopes: Option<ToolScopes>,
    /// Remote policy cache lifetime, seconds (a refresh starts after it; default 30).
    pub scope_matrix_ttl_seconds: f64,
    /// A remote map whose last refresh failed is served at most this old, seconds (default 120).
    pub scope_matrix_stale_seconds: f64,
    /// Wait after a failed policy fetch before the next attempt, seconds (default 10).
    pub scope_matrix_backoff_seconds: f64,
    /// Policy mode.
    pub policy_mode: PolicyMode,
    /// Validation mode.
    pub validation_mode: ValidationMode,
    /// Publish the tool manifest to the AuthSec backend at startup.
    pub publish_manifest: bool,
    /// Advisory scopes per tool for the manifest.
    pub tool_scope_suggestions: ToolScopes,
    /// RFC 9728 `bearer_methods_supported`.
    pub bearer_methods_supported: Vec<String>,
    /// Timeout of every outbound call, seconds.
    pub request_timeout_seconds: f64,
    /// Accept tokens without `aud` (the reference's Python/TypeScript behaviour). Default false.
    pub allow_missing_audience: bool,
    /// Reject JWTs without `exp`. Default true.
    pub require_exp: bool,
    /// Leeway for `exp` and `nbf`, seconds. Default 0, as in the reference.
    pub clock_skew_seconds: u64,
    /// Largest request body the runtime accepts (413 above it). Default 4 MiB.
    pub max_body_bytes: u64,
    /// Cache introspection results this long (bounded by the token's `exp`); 0 disables.
    pub introspection_cache_ttl_seconds: u64,
    /// Entries of the verified-token cache and of the introspection-result cache (each).
    /// Default 10,000. Above it the caches evict (S3-FIFO: tokens seen once go first), so a
    /// server with more active tokens re-verifies some; memory is about 1-2 KiB per entry.
    pub token_cache_capacity: u64,
    /// Required JOSE header `typ` of JWT access tokens, e.g. `at+jwt` (RFC 9068 §2.1), so ID
    /// tokens and other JWTs from the same issuer are refused. Compared case-insensitively, with
    /// an optional `application/` prefix on either side (RFC 7515 §4.1.9). Empty (default): not
    /// checked.
    pub require_typ: String,
    /// Required `token_type` of introspection answers (RFC 7662 §2.2), e.g. `access_token`.
    /// Compared case-insensitively; an answer without it is refused. Empty (default): not checked.
    pub require_token_type: String,
    /// SPIFFE trust domain whose JWT-SVIDs are accepted as bearer tokens (e.g. `example.org`).
    /// A token whose `sub` is a SPIFFE ID and whose `iss` is not `issuer` is then validated as a
    /// JWT-SVID against this trust domain's JWT bundle (see `docs/workload-identity.md`). Empty
    /// (default): JWT-SVIDs are not accepted.
    pub spiffe_trust_domain: String,
    /// The trust domain's SPIFFE bundle endpoint (a JWKS document whose JWT authorities carry
    /// `"use": "jwt-svid"`), cached like the JWKS. One of this or `spiffe_endpoint_socket`.
    pub spiffe_bundle_url: String,
    /// The SPIFFE Workload API socket (`unix:///path`, a path, `tcp://ip:port`) the JWT bundle
    /// is streamed from (builds with the `spiffe` feature). `"env"` reads
    /// `SPIFFE_ENDPOINT_SOCKET`. One of this or `spiffe_bundle_url`.
    pub spiffe_endpoint_socket: String,
    /// Tool name -> SPIFFE IDs of the workloads that may call it. A caller authenticated by a
    /// JWT-SVID may call exactly the tools listing its ID (in every policy mode but `open`);
    /// scopes never apply to workloads.
    pub tool_workloads: ToolScopes,
    /// RBAC (the seed's decorator model, `docs/rbac.md`): tool -> requirements. `None` (default):
    /// no RBAC. A tool absent from the map is decided by the scope policy alone.
    pub tool_rbac: Option<ToolRbac>,
    /// RBAC: the claims the user's roles, groups, resources, permissions, scopes, tenant and
    /// e-mail are read from.
    pub rbac_claims: RbacClaims,
    /// RBAC: the tenant catalogue; when set, only what the caller's tenant defines counts.
    pub rbac_catalogue: Option<RbacCatalogue>,
    /// Where audit events go as JSON lines: `""` (default) nowhere, `"stderr"`, or a file path
    /// (appended to; rotation is the operating system's). Bindings can add callbacks as well.
    pub audit_log: String,
    /// Share of *allowed* decisions that make an audit event, 0.0 to 1.0 (default 1.0, all);
    /// denials, pass-throughs and lifecycle events are never sampled.
    pub audit_sample_allowed: f64,
    /// Capacity of the audit queue, lines (default 4096). When a slow sink lets it fill, new
    /// events are dropped and counted (`authsec_audit_events_dropped_total`); requests never wait.
    pub audit_queue_capacity: u64,
    /// Claims whose values never appear in an audit event: `sub` hides `subject`,
    /// `client_id` hides `client_id`, the `tenant_claim` hides `tenant`.
    pub audit_private_claims: Vec<String>,
    /// The claim the audit trail reads the tenant from (default `tenant`).
    pub tenant_claim: String,

    // ----- MCP 2026-07-28 and the ecosystem's token shapes (issue 12): scope claims and
    // hierarchy, audiences, several issuers, resource and prompt rules, CORS. What each does,
    // with examples: docs/protocol-revisions.md. -----
    /// Claims the granted scopes are read from, in order; the first that carries any wins.
    /// Default `["scope", "scopes", "scp"]` (`scp`: Okta's array, Entra ID's string).
    pub scope_claims: Vec<String>,
    /// Scope hierarchy: a granted scope -> the scopes it implies, transitively; an implied
    /// entry ending in `*` implies every scope with that prefix (`{"admin": ["issues:*"]}`).
    /// Applied to every policy check and to list filtering. Default: none.
    pub scope_hierarchy: BTreeMap<String, Vec<String>>,
    /// Audiences accepted besides `resource_uri`, compared exactly (Entra ID issues
    /// `api://<app-id>` or the bare application GUID). Default: none (strict).
    pub accepted_audiences: Vec<String>,
    /// How a token's audience is compared with `resource_uri`: `exact` (default) or `canonical`
    /// (scheme and host case-insensitive, one trailing slash ignored, as MCP's resource URI
    /// rules say).
    pub audience_match: AudienceMatch,
    /// More issuers trusted besides `issuer`, each bound to its own JWKS: a JWT's `iss` selects
    /// the key set, so one issuer's key never verifies another issuer's token.
    pub additional_issuers: Vec<TrustedIssuer>,
    /// Local rules for `resources/read` (and which `resources/list` entries a caller sees):
    /// URI pattern (`*` matches any run of characters) -> scopes (any-of; empty = public).
    /// `None`: resources are not gated unless `deny_unlisted_resources_and_prompts`.
    pub resource_scopes: Option<ToolScopes>,
    /// Local rules for `prompts/get` (and `prompts/list`): prompt name -> scopes.
    pub prompt_scopes: Option<ToolScopes>,
    /// Deny resources and prompts no rule names (like tools). Default false: until a rule
    /// exists for a kind, that kind is not gated (existing deployments keep working).
    pub deny_unlisted_resources_and_prompts: bool,
    /// Origins (`https://app.example.com`, or `*`) whose CORS preflights the core answers
    /// itself; they also get `Access-Control-Allow-Origin` and `-Expose-Headers:
    /// WWW-Authenticate` on the core's 401/403 answers. Empty (default): preflights pass to the
    /// host's handler, never challenged.
    pub cors_allowed_origins: Vec<String>,

    // ----- Fleets and service credentials (issue 19, docs/fleet.md). -----
    /// The Redis store shared by the replicas of one server (`redis://[:password@]host:port/db`):
    /// introspection results and revocations, and sign-in sessions. Empty (default): nothing
    /// is shared. A secret (it may hold a password): never printed.
    #[serde(deserialize_with = "secret_field::redis_url")]
    pub redis_url: Secret,
    /// AES-256-GCM key (32 random bytes, base64) sealing every value written to Redis.
    /// Required with `redis_url`.
    #[serde(deserialize_with = "secret_field::redis_key")]
    pub redis_key: Secret,
    /// Prefix of every Redis key and channel (default `authsec:`), so several servers can share
    /// one Redis without seeing each other's entries.
    pub redis_prefix: String,
    /// Bound of every Redis command and connection attempt, seconds (default 0.25). A Redis
    /// slower than this is treated as down for that request.
    pub redis_timeout_seconds: f64,
    /// How long a replica waits for another replica's introspection of the same new token
    /// before it introspects itself, seconds (default 1).
    pub redis_lease_wait_seconds: f64,
    /// Base URL of the AuthSec services API (`POST {services_url}/credentials`), for service
    /// credentials. Empty (default): not configured.
    pub services_url: String,
    /// Sign-in for MCP clients without OAuth (issue 19, docs/sign-in.md): the runtime serves
    /// the `oauth_*` tools and the callback route. `None` (default): off.
    pub sign_in: Option<SignInConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: String::new(),
            authorization_server: String::new(),
            jwks_url: String::new(),
            introspection_url: String::new(),
            introspection_client_id: String::new(),
            introspection_client_secret: Secret::default(),
            resource_uri: String::new(),
            resource_name: String::new(),
            resource_server_id: String::new(),
            supported_scopes: Vec::new(),
            tool_scopes: None,
            scope_matrix_ttl_seconds: 30.0,
            scope_matrix_stale_seconds: 120.0,
            scope_matrix_backoff_seconds: 10.0,
            policy_mode: PolicyMode::Unset,
            validation_mode: ValidationMode::Unset,
            publish_manifest: false,
            tool_scope_suggestions: ToolScopes::new(),
            bearer_methods_supported: vec!["header".to_string()],
            request_timeout_seconds: 10.0,
            allow_missing_audience: false,
            require_exp: true,
            clock_skew_seconds: 0,
            max_body_bytes: 4 * 1024 * 1024,
            introspection_cache_ttl_seconds: 0,
            token_cache_capacity: 10_000,
            require_typ: String::new(),
            require_token_type: String::new(),
            spiffe_trust_domain: String::new(),
            spiffe_bundle_url: String::new(),
            spiffe_endpoint_socket: String::new(),
            tool_workloads: ToolScopes::new(),
            tool_rbac: None,
            rbac_claims: RbacClaims::default(),
            rbac_catalogue: None,
            audit_log: String::new(),
            audit_sample_allowed: 1.0,
            audit_queue_capacity: crate::audit::DEFAULT_AUDIT_QUEUE,
            audit_private_claims: Vec::new(),
            tenant_claim: "tenant".to_string(),
            scope_claims: DEFAULT_SCOPE_CLAIMS.iter().map(|c| c.to_string()).collect(),
            scope_hierarchy: BTreeMap::new(),
            accepted_audiences: Vec::new(),
            audience_match: AudienceMatch::Exact,
            additional_issuers: Vec::new(),
            resource_scopes: None,
            prompt_scopes: None,
            deny_unlisted_resources_and_prompts: false,
            cors_allowed_origins: Vec::new(),
            redis_url: Secret::default(),
            redis_key: Secret::default(),
            redis_prefix: DEFAULT_REDIS_PREFIX.to_string(),
            redis_timeout_seconds: DEFAULT_REDIS_TIMEOUT_SECONDS,
            redis_lease_wait_seconds: DEFAULT_REDIS_LEASE_WAIT_SECONDS,
            services_url: String::new(),
            sign_in: None,
        }
    }
}

/// Largest `token_cache_capacity`: the caches size their tables from it, so an absurd value
/// must be refused, not allocated.
pub const MAX_TOKEN_CACHE_CAPACITY: u64 = 10_000_000;

/// Largest `audit_queue_capacity` (the queue is allocated as lines arrive, but bounded by it).
pub const MAX_AUDIT_QUEUE: u64 = 1_000_000;

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

impl Config {
    /// RBAC registration (the C and Go APIs, and every binding's decorator table): add one
    /// tool's requirement to `tool_rbac` (creating the table). The tool name is trimmed; a
    /// blank name or a blank value is refused as `validate` refuses it; registering a tool again
    /// with the same requirement is a no-op, with a different one `config_invalid` (two
    /// decorators disagreeing must not let the later one silently widen or narrow the rule).
    pub fn register_tool_rbac(&mut self, tool: &str, requirement: RbacRequirement) -> Result<()> {
        let tool = tool.trim();
        let one: ToolRbac = [(tool.to_string(), requirement.clone())].into();
        rbac::validate(Some(&one), &RbacClaims::default(), None, python_repr)
            .map_err(Error::config)?;
        let table = self.tool_rbac.get_or_insert_with(Default::default);
        match table.get(tool) {
            Some(old) if *old != requirement => Err(Error::config(format!(
                "tool_rbac[{}] is registered twice with different requirements",
                python_repr(tool)
            ))),
            Some(_) => Ok(()),
            None => {
                table.insert(tool.to_string(), requirement);
                Ok(())
            }
        }
    }

    /// Parse a configuration from JSON text. Unknown fields are rejected with an error naming
    /// the field. The result is not yet validated (see [`Config::validate`]).
    pub fn from_json(text: &str) -> Result<Config> {
        serde_json::from_str(text).map_err(|e| Error::config(format!("invalid config JSON: {e}")))
    }

    /// The policy mode after inference (reference §1.3).
    pub fn effective_policy_mode(&self) -> PolicyMode {
        if self.policy_mode != PolicyMode::Unset {
            return self.policy_mode;
        }
        if !blank(&self.resource_server_id) {
            PolicyMode::RemoteRequired
        } else if self.tool_scopes.is_some() {
            PolicyMode::LocalOnly
        } else {
            PolicyMode::Open
        }
    }

    /// The validation mode after inference (reference §1.3).
    pub fn effective_validation_mode(&self) -> ValidationMode {
        if self.validation_mode != ValidationMode::Unset {
            return self.validation_mode;
        }
        match (!blank(&self.jwks_url), !blank(&self.introspection_url)) {
            (true, true) => ValidationMode::JwtAndIntrospect,
            (true, false) => ValidationMode::JwtOnly,
            _ => ValidationMode::IntrospectionOnly,
        }
    }

    /// A copy with the reference's normalization applied: authorization server defaults to the
    /// issuer, resource name to [`DEFAULT_RESOURCE_NAME`], bearer methods to `["header"]`.
    pub fn normalized(&self) -> Config {
        let mut out = self.clone();
        if out.authorization_server.is_empty() {
            out.authorization_server = out.issuer.clone();
        }
        if out.resource_name.is_empty() {
            out.resource_name = DEFAULT_RESOURCE_NAME.to_string();
        }
        if out.bearer_methods_supported.is_empty() {
            out.bearer_methods_supported = vec!["header".to_string()];
        }
        out
    }

    fn has_credentials(&self) -> bool {
        !blank(&self.introspection_client_id) && !self.introspection_client_secret.is_blank()
    }

    /// Check the rules of reference §1.4 in its order (the first failure wins, with the
    /// Python SDK's message), then this project's own rules.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::config(m));
        if blank(&self.issuer) {
            return fail("issuer is required".into());
        }
        if blank(&self.resource_uri) {
            return fail("resource_uri is required".into());
        }
        if !is_absolute_uri(&self.resource_uri) {
            return fail(format!(
                "resource_uri must be an absolute URI with scheme and host (got {})",
                python_repr(&self.resource_uri)
            ));
        }
        if blank(&self.jwks_url) && blank(&self.introspection_url) {
            return fail("at least one of jwks_url or introspection_url is required".into());
        }
        if !blank(&self.introspection_url) && !self.has_credentials() {
            return fail(
                "introspection client credentials are required when introspection is enabled"
                    .into(),
            );
        }
        let pm = self.effective_policy_mode();
        if matches!(
            pm,
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback
        ) {
            let m = pm.as_str();
            if blank(&self.resource_server_id) {
                return fail(format!("{m} requires resource_server_id"));
            }
            if blank(&self.authorization_server) && blank(&self.issuer) {
                return fail(format!("{m} requires authorization_server"));
            }
            if !self.has_credentials() {
                return fail(format!(
                    "{m} requires introspection credentials (introspection_client_id + introspection_client_secret)"
                ));
            }
        }
        if pm == PolicyMode::RemoteWithLocalFallback && self.tool_scopes.is_none() {
            return fail(
                "PolicyMode.REMOTE_WITH_LOCAL_FALLBACK requires tool_scopes (non-None) as the local fallback"
                    .into(),
            );
        }
        if pm == PolicyMode::LocalOnly && self.tool_scopes.is_none() {
            return fail("local_only requires tool_scopes".into());
        }
        let vm = self.effective_validation_mode();
        let v = vm.as_str();
        let needs_jwks = matches!(
            vm,
            ValidationMode::JwtOnly
                | ValidationMode::JwtAndIntrospect
                | ValidationMode::JwtOrIntrospect
        );
        let needs_introspection = vm != ValidationMode::JwtOnly;
        if needs_jwks && blank(&self.jwks_url) {
            return fail(format!("{v} requires jwks_url"));
        }
        if needs_introspection {
            if blank(&self.introspection_url) {
                return fail(format!("{v} requires introspection_url"));
            }
            if !self.has_credentials() {
                return fail(format!("{v} requires introspection credentials"));
            }
        }
        if !(self.request_timeout_seconds.is_finite() && self.request_timeout_seconds > 0.0) {
            return fail("request_timeout_seconds must be a positive number".into());
        }
        for (name, v) in [
            ("scope_matrix_ttl_seconds", self.scope_matrix_ttl_seconds),
            (
                "scope_matrix_stale_seconds",
                self.scope_matrix_stale_seconds,
            ),
            (
                "scope_matrix_backoff_seconds",
                self.scope_matrix_backoff_seconds,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return fail(format!("{name} must be a non-negative number"));
            }
        }
        for (field, map) in [
            ("tool_scopes", self.tool_scopes.as_ref()),
            ("tool_scope_suggestions", Some(&self.tool_scope_suggestions)),
        ] {
            // A blank scope can never be granted and, dropped by a list parser, would turn the
            // tool public: refused from every source alike.
            for (tool, scopes) in map.into_iter().flatten() {
                if scopes.iter().any(|s| blank(s)) {
                    return fail(format!(
                        "{field}[{}] contains an empty scope",
                        python_repr(tool)
                    ));
                }
            }
        }
        if self.max_body_bytes == 0 {
            return fail("max_body_bytes must be positive".into());
        }
        if !(1..=MAX_TOKEN_CACHE_CAPACITY).contains(&self.token_cache_capacity) {
            return fail(format!(
                "token_cache_capacity must be between 1 and {MAX_TOKEN_CACHE_CAPACITY}"
            ));
        }
        rbac::validate(
            self.tool_rbac.as_ref(),
            &self.rbac_claims,
            self.rbac_catalogue.as_ref(),
            python_repr,
        )
        .map_err(Error::config)?;
        if !(0.0..=1.0).contains(&self.audit_sample_allowed) {
            return fail("audit_sample_allowed must be between 0 and 1".into());
        }
        if !(1..=MAX_AUDIT_QUEUE).contains(&self.audit_queue_capacity) {
            return fail(format!(
                "audit_queue_capacity must be between 1 and {MAX_AUDIT_QUEUE}"
            ));
        }
        for (what, url) in [
            ("jwks_url", &self.jwks_url),
            ("introspection_url", &self.introspection_url),
        ] {
            if !blank(url) && !is_http_url(url) {
                return fail(format!(
                    "{what} must be an http(s) URL (got {})",
                    python_repr(url)
                ));
            }
        }
        self.validate_spiffe()?;
        ecosystem::validate(self)?;
        fleet::validate(self)?;
        signin::validate(self)
    }

    /// The workload-identity fields: a valid trust domain with exactly one JWT bundle source,
    /// and `tool_workloads` naming SPIFFE IDs of that trust domain.
    fn validate_spiffe(&self) -> Result<()> {
        let fail = |m: String| Err(Error::config(m));
        let td = self.spiffe_trust_domain.trim();
        let url = self.spiffe_bundle_url.trim();
        let socket = self.spiffe_endpoint_socket.trim();
        if td.is_empty() {
            if !url.is_empty() || !socket.is_empty() {
                return fail(
                    "spiffe_bundle_url and spiffe_endpoint_socket require spiffe_trust_domain"
                        .into(),
                );
            }
            if !self.tool_workloads.is_empty() {
                return fail("tool_workloads requires spiffe_trust_domain".into());
            }
            return Ok(());
        }
        if !is_trust_domain(td) {
            return fail(format!(
                "spiffe_trust_domain must be a SPIFFE trust domain name (lower-case letters, digits, '.', '-', '_'; got {})",
                python_repr(td)
            ));
        }
        match (url.is_empty(), socket.is_empty()) {
            (true, true) => {
                return fail(
                    "spiffe_trust_domain requires spiffe_bundle_url or spiffe_endpoint_socket"
                        .into(),
                )
            }
            (false, false) => {
                return fail(
                    "set one of spiffe_bundle_url or spiffe_endpoint_socket, not both".into(),
                )
            }
            _ => {}
        }
        if !url.is_empty() && !is_http_url(url) {
            return fail(format!(
                "spiffe_bundle_url must be an http(s) URL (got {})",
                python_repr(url)
            ));
        }
        if !socket.is_empty() && !cfg!(feature = "spiffe") {
            return fail(
                "spiffe_endpoint_socket needs a build with the spiffe feature (use spiffe_bundle_url)"
                    .into(),
            );
        }
        for (tool, ids) in &self.tool_workloads {
            for id in ids {
                if spiffe_id_in(id, td).is_none() {
                    return fail(format!(
                        "tool_workloads[{}] contains {}, not a SPIFFE ID of trust domain {td}",
                        python_repr(tool),
                        python_repr(id)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A SPIFFE trust domain name (SPIFFE-ID spec §2.1): lower-case letters, digits, `.`, `-`, `_`.
pub(crate) fn is_trust_domain(td: &str) -> bool {
    !td.is_empty()
        && td.len() <= 255
        && td.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// The path of `id` when it is a valid SPIFFE ID (SPIFFE-ID spec §2) of trust domain `td`:
/// `spiffe://td` followed by segments of letters, digits, `.`, `-`, `_`, none empty, `.` or
/// `..`, no query, fragment, port or user info, no trailing slash.
pub(crate) fn spiffe_id_in<'a>(id: &'a str, td: &str) -> Option<&'a str> {
    let rest = id.strip_prefix("spiffe://")?;
    let (domain, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if domain != td || !is_trust_domain(domain) {
        return None;
    }
    if path.is_empty() {
        return Some(path);
    }
    for seg in path[1..].split('/') {
        let ok = !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !ok {
            return None;
        }
    }
    Some(path)
}

/// True when the URI has a scheme and a non-empty authority, as Python's `urlparse` sees it.
fn is_absolute_uri(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => u.has_host() && !u.host_str().unwrap_or("").is_empty(),
        Err(_) => false,
    }
}

pub(crate) fn is_http_url(s: &str) -> bool {
    matches!(url::Url::parse(s.trim()), Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.has_host())
}

/// Python `repr()` of a str, as the reference's messages print it.
pub(crate) fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_tool_rbac_adds_refuses_blanks_and_conflicts() {
        let mut c = Config::default();
        let req = |v: serde_json::Value| -> RbacRequirement { serde_json::from_value(v).unwrap() };
        c.register_tool_rbac(
            " deploy ",
            req(serde_json::json!({"roles": ["admin"], "require_all": true})),
        )
        .unwrap();
        // The same again is a no-op; a different one is refused and changes nothing.
        c.register_tool_rbac(
            "deploy",
            req(serde_json::json!({"roles": ["admin"], "require_all": true})),
        )
        .unwrap();
        let e = c
            .register_tool_rbac("deploy", req(serde_json::json!({"roles": ["other"]})))
            .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
        assert_eq!(
            e.message(),
            "tool_rbac['deploy'] is registered twice with different requirements"
        );
        let e = c
            .register_tool_rbac("x", req(serde_json::json!({"roles": [" "]})))
            .unwrap_err();
        assert_eq!(e.message(), "tool_rbac['x'].roles contains an empty value");
        let e = c
            .register_tool_rbac("  ", RbacRequirement::default())
            .unwrap_err();
        assert_eq!(e.message(), "tool_rbac contains an empty tool name");
        let table = c.tool_rbac.as_ref().unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(table["deploy"].roles, vec!["admin".to_string()]);
    }

    #[test]
    fn a_mistyped_secret_is_refused_without_echoing_it() {
        for bad in [
            "987654321",
            "true",
            "1.5",
            "null",
            "[\"x\"]",
            "{\"a\": \"x\"}",
        ] {
            // Every secret field names itself (not another field) and never shows the value.
            for (field, text) in [
                (
                    "introspection_client_secret",
                    format!(r#"{{"issuer": "x", "introspection_client_secret": {bad}}}"#),
                ),
                (
                    "redis_url",
                    format!(r#"{{"issuer": "x", "redis_url": {bad}}}"#),
                ),
                (
                    "redis_key",
                    format!(r#"{{"issuer": "x", "redis_key": {bad}}}"#),
                ),
                (
                    "sign_in.client_secret",
                    format!(r#"{{"issuer": "x", "sign_in": {{"client_secret": {bad}}}}}"#),
                ),
            ] {
                let e = Config::from_json(&text).unwrap_err();
                assert!(
                    e.message().contains(&format!("{field} must be a string")),
                    "{e}"
                );
                assert!(
                    !e.message().contains("987654321") && !e.message().contains("1.5"),
                    "{e}"
                );
            }
        }
        let ok = Config::from_json(r#"{"introspection_client_secret": "s"}"#).unwrap();
        assert_eq!(ok.introspection_client_secret.expose(), "s");
    }

    fn remote() -> Config {
        Config {
            issuer: "https://auth.example.com".into(),
            jwks_url: "https://auth.example.com/jwks".into(),
            introspection_url: "https://auth.example.com/introspect".into(),
            introspection_client_id: "rs-1".into(),
            introspection_client_secret: Secret::new("secret-1"),
            resource_uri: "https://mcp.example.com/mcp".into(),
            resource_server_id: "rs-1".into(),
            ..Config::default()
        }
    }

    fn err(c: &Config) -> String {
        c.validate().unwrap_err().message().to_string()
    }

    #[test]
    fn valid_remote_config_infers_modes() {
        let c = remote();
        c.validate().unwrap();
        assert_eq!(c.effective_policy_mode(), PolicyMode::RemoteRequired);
        assert_eq!(
            c.effective_validation_mode(),
            ValidationMode::JwtAndIntrospect
        );
    }

    #[test]
    fn rules_in_reference_order() {
        let mut c = remote();
        c.issuer = " ".into();
        assert_eq!(err(&c), "issuer is required");
        let mut c = remote();
        c.resource_uri = "not-a-uri".into();
        assert_eq!(
            err(&c),
            "resource_uri must be an absolute URI with scheme and host (got 'not-a-uri')"
        );
        let mut c = remote();
        c.resource_server_id = String::new();
        c.policy_mode = PolicyMode::RemoteRequired;
        assert_eq!(err(&c), "remote_required requires resource_server_id");
        let mut c = remote();
        c.introspection_client_id = String::new();
        assert_eq!(
            err(&c),
            "introspection client credentials are required when introspection is enabled"
        );
        let mut c = remote();
        c.policy_mode = PolicyMode::RemoteWithLocalFallback;
        assert!(err(&c).contains("tool_scopes"));
        let c = Config {
            issuer: "i".into(),
            resource_uri: "https://x.com/mcp".into(),
            introspection_url: "https://i/introspect".into(),
            introspection_client_id: "a".into(),
            introspection_client_secret: Secret::new("b"),
            validation_mode: ValidationMode::JwtOnly,
            ..Config::default()
        };
        assert_eq!(err(&c), "jwt_only requires jwks_url");
    }

    #[test]
    fn minimal_config_is_open_jwt_only() {
        let c = Config {
            issuer: "i".into(),
            jwks_url: "https://i/jwks".into(),
            resource_uri: "https://x.com/mcp".into(),
            ..Config::default()
        };
        c.validate().unwrap();
        assert_eq!(c.effective_policy_mode(), PolicyMode::Open);
        assert_eq!(c.effective_validation_mode(), ValidationMode::JwtOnly);
    }

    #[test]
    fn local_only_needs_a_map_but_empty_map_is_valid() {
        let mut c = Config {
            issuer: "i".into(),
            jwks_url: "https://i/jwks".into(),
            resource_uri: "https://x.com/mcp".into(),
            policy_mode: PolicyMode::LocalOnly,
            ..Config::default()
        };
        assert_eq!(err(&c), "local_only requires tool_scopes");
        c.tool_scopes = Some(ToolScopes::new());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_json_field_is_named() {
        let e = Config::from_json(r#"{"issuer":"i","jwks_uri":"x"}"#).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
        assert!(e.message().contains("jwks_uri"), "{}", e.message());
    }

    #[test]
    fn secret_never_in_debug() {
        let c = remote();
        let d = format!("{c:?}");
        assert!(!d.contains("secret-1"), "{d}");
        assert!(d.contains("<redacted>"));
    }

    #[test]
    fn huge_durations_build_without_panicking() {
        let mut c = remote();
        c.scope_matrix_ttl_seconds = 1e300;
        c.scope_matrix_stale_seconds = 1e300;
        c.scope_matrix_backoff_seconds = 1e300;
        c.request_timeout_seconds = 1e300;
        c.introspection_cache_ttl_seconds = u64::MAX;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        crate::Runtime::new(c).unwrap();
    }

    #[test]
    fn secret_never_serialized_in_clear() {
        let c = remote();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("secret-1"), "{text}");
        assert!(
            text.contains(r#""introspection_client_secret":"<redacted>""#),
            "{text}"
        );
        let text = serde_json::to_string(&Config::default()).unwrap();
        assert!(
            text.contains(r#""introspection_client_secret":"","#),
            "{text}"
        );
    }

    #[test]
    fn normalization() {
        let n = remote().normalized();
        assert_eq!(n.authorization_server, "https://auth.example.com");
        assert_eq!(n.resource_name, DEFAULT_RESOURCE_NAME);
        let mut c = remote();
        c.bearer_methods_supported = vec![];
        assert_eq!(c.normalized().bearer_methods_supported, vec!["header"]);
    }
}

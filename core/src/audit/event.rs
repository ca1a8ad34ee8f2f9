//! The audit event schema (version [`AUDIT_SCHEMA_VERSION`]): one JSON object per line, written
//! by the core for every decision and for startup, policy refresh, JWKS refresh and manifest
//! publishing, so every binding and the CLI emit the same bytes.
//!
//! An event never carries a bearer token, a client secret, a request body or claim values the
//! configuration marks private (`audit_private_claims`): only the identifiers listed in
//! `docs/audit.md`. Text that comes from the caller (a JSON-RPC id, a tool name, an
//! `X-Request-Id`) is cut to [`MAX_FIELD_CHARS`] characters; JSON escaping keeps every line one
//! line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The version of the event schema; it changes only when a field changes meaning or goes away.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;

/// Longest caller-supplied text kept in an event (characters); longer text is cut.
pub const MAX_FIELD_CHARS: usize = 256;

/// What a decision was, as the audit trail and the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The request reaches the handler with a principal.
    Allow,
    /// The request is refused (401, 403, 503, an in-band MCP denial, or a 400/413 for a
    /// malformed request). The default: an event not filled in says deny.
    #[default]
    Deny,
    /// The request reaches the handler without a principal (handshake with an invalid token).
    PassThrough,
    /// The runtime answered a request that is not a denial (the RFC 9728 document).
    Respond,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::PassThrough => "pass_through",
            Outcome::Respond => "respond",
        }
    }

    pub(crate) const ALL: [Outcome; 4] = [
        Outcome::Allow,
        Outcome::Deny,
        Outcome::PassThrough,
        Outcome::Respond,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// How the caller's token was established for this decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValidationPath {
    /// No token was validated (no token, a malformed request, the metadata route).
    #[default]
    None,
    /// Served from the verified-token or introspection-result cache: no signature check, no call.
    Cache,
    /// A JWT signature and claims were verified now.
    Jwt,
    /// The authorization server was asked (RFC 7662 introspection).
    Introspection,
    /// Both: a JWT verified and introspected (`jwt_and_introspect`, or `jwt_or_introspect`
    /// after the JWT failed).
    JwtAndIntrospection,
}

impl ValidationPath {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationPath::None => "none",
            ValidationPath::Cache => "cache",
            ValidationPath::Jwt => "jwt",
            ValidationPath::Introspection => "introspection",
            ValidationPath::JwtAndIntrospection => "jwt_and_introspection",
        }
    }

    /// The path after `next` also ran.
    pub(crate) fn and(self, next: ValidationPath) -> ValidationPath {
        use ValidationPath::*;
        match (self, next) {
            (None | Cache, n) => n,
            (p, None | Cache) => p,
            (Jwt, Jwt) => Jwt,
            (Introspection, Introspection) => Introspection,
            _ => JwtAndIntrospection,
        }
    }
}

/// The reason codes of decisions: the token reasons of the 401 body (`no_token`,
/// `token_expired`, ...) and the runtime's own. One list, so the metrics can count them in a
/// fixed table; an event never carries a code outside it.
pub const REASONS: &[&str] = &[
    "no_token",
    "token_expired",
    "token_revoked",
    "client_registration_revoked",
    "audience_mismatch",
    "invalid_token",
    "insufficient_scope",
    "unmapped_tool",
    "policy_unavailable",
    "policy_refused",
    "rbac_denied",
    "bad_request",
    "header_mismatch",
    "body_too_large",
    "multiple_authorization",
    "session_owner_mismatch",
    "metadata",
    "sign_in",
    "internal",
];

/// The index of `reason` in [`REASONS`] (unknown codes count as `internal`).
pub(crate) fn reason_index(reason: &str) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(REASONS.len() - 1)
}

/// One decision, as the audit trail records it. Built by the runtime; serialized with
/// [`DecisionEvent::to_json_line`]. Absent optional fields are left out of the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DecisionEvent {
    /// The JSON-RPC `id` of the first message (its JSON text: `7`, `"abc"`); for a batch,
    /// the first message's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_id: Option<serde_json::Value>,
    /// The `X-Request-Id` header, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request_id: Option<String>,
    /// The `MCP-Protocol-Version` header, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The HTTP method.
    pub http_method: String,
    /// The JSON-RPC method of the first message that the policy gates (else the first
    /// message's), when the body is JSON-RPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tool or prompt name, or the resource URI, of that message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of JSON-RPC messages in the body (1 for a single message, n for a batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<usize>,
    /// The validated (or refused) caller's `sub`, unless marked private.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The caller's OAuth client (`client_id`, else `azp`, else `sub`), unless marked private.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The token's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The tenant claim (`tenant_claim`, default `tenant`), unless marked private.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The decision.
    pub decision: Outcome,
    /// The HTTP status the runtime wrote (absent for allow and pass-through).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The OAuth `error` of a denial (`invalid_token`, `insufficient_scope`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// The reason code (one of [`REASONS`]); absent for an allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The scopes of the challenge (`insufficient_scope`: any one of them would do).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// How the token was established.
    pub validation: ValidationPath,
    /// Time from the start of `check` to the decision, microseconds.
    pub latency_us: u64,
}

/// A lifecycle event: startup, policy refresh, JWKS refresh, manifest publishing.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleEvent {
    /// The event type (`startup`, `policy_refresh`, `jwks_refresh`, `manifest_publish`).
    #[serde(skip)]
    pub kind: &'static str,
    /// `ok`, `degraded` (startup served by a fallback) or `failed`.
    pub outcome: &'static str,
    /// Counts that go with the event (`keys`, `keys_added`, `keys_removed`, `tools`,
    /// `generation`, `warnings`), in a fixed order.
    #[serde(flatten)]
    pub counts: serde_json::Map<String, serde_json::Value>,
    /// What failed, in the runtime's own words (never an upstream body or a credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl LifecycleEvent {
    /// An event of `kind` with `outcome`.
    pub(crate) fn new(kind: &'static str, outcome: &'static str) -> Self {
        LifecycleEvent {
            kind,
            outcome,
            counts: serde_json::Map::new(),
            detail: None,
        }
    }

    /// Add a count.
    pub(crate) fn count(mut self, name: &str, n: u64) -> Self {
        self.counts.insert(name.to_string(), n.into());
        self
    }

    /// Add a free-form field (a mode name, ...).
    pub(crate) fn field(mut self, name: &str, value: &str) -> Self {
        self.counts.insert(name.to_string(), cut(value).into());
        self
    }

    /// Set the failure detail.
    pub(crate) fn detail(mut self, d: impl std::fmt::Display) -> Self {
        self.detail = Some(cut(&d.to_string()));
        self
    }
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    v: u32,
    #[serde(rename = "type")]
    kind: &'a str,
    time: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// `{"v":1,"type":...,"time":...,<fields>}` followed by `\n`.
fn line<T: Serialize>(kind: &str, body: &T, at: SystemTime) -> String {
    let time = rfc3339_millis(at);
    let mut out = serde_json::to_string(&Envelope {
        v: AUDIT_SCHEMA_VERSION,
        kind,
        time: &time,
        body,
    })
    // A struct of strings, numbers and JSON values always serializes.
    .unwrap_or_else(|_| String::from("{\"v\":1,\"type\":\"internal\"}"));
    out.push('\n');
    out
}

impl DecisionEvent {
    /// The event as one JSON line (newline included), stamped `at`. The hot path of an audited
    /// request: the struct is serialized as it is (no flattening map) behind a written prefix.
    pub fn to_json_line(&self, at: SystemTime) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"v\":");
        out.push_str(&AUDIT_SCHEMA_VERSION.to_string());
        out.push_str(",\"type\":\"decision\",\"time\":\"");
        push_rfc3339_millis(&mut out, at);
        out.push('"');
        match serde_json::to_string(self) {
            // `{...}` with at least `decision`: drop its `{` and join with a comma.
            Ok(body) if body.len() > 2 => {
                out.push(',');
                out.push_str(&body[1..]);
            }
            _ => out.push('}'),
        }
        out.push('\n');
        out
    }
}

impl LifecycleEvent {
    /// The event as one JSON line (newline included), stamped `at`.
    pub fn to_json_line(&self, at: SystemTime) -> String {
        line(self.kind, self, at)
    }
}

/// Caller-supplied text cut to [`MAX_FIELD_CHARS`] characters.
pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// `2026-12-01T10:45:40.123Z` (UTC, milliseconds).
pub(crate) fn rfc3339_millis(at: SystemTime) -> String {
    let mut out = String::with_capacity(24);
    push_rfc3339_millis(&mut out, at);
    out
}

/// [`rfc3339_millis`] appended to `out`, digit by digit (no formatting machinery).
fn push_rfc3339_millis(out: &mut String, at: SystemTime) {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let parts: [(u64, u32, char); 7] = [
        (year.clamp(0, 9999) as u64, 4, '-'),
        (month as u64, 2, '-'),
        (day as u64, 2, 'T'),
        (rem / 3600, 2, ':'),
        (rem % 3600 / 60, 2, ':'),
        (rem % 60, 2, '.'),
        (u64::from(d.subsec_millis()), 3, 'Z'),
    ];
    for (n, width, sep) in parts {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u64.pow(p) % 10) as u8));
        }
        out.push(sep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_121_940_123);
        assert_eq!(rfc3339_millis(at), "2026-12-01T10:45:40.123Z");
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_decision_line_has_the_schema_fields_in_order() {
        let e = DecisionEvent {
            rpc_id: Some(7.into()),
            http_method: "POST".into(),
            method: Some("tools/call".into()),
            name: Some("create_issue".into()),
            messages: Some(1),
            subject: Some("alice".into()),
            decision: Outcome::Deny,
            status: Some(403),
            error: Some("insufficient_scope"),
            reason: Some("insufficient_scope"),
            scopes: vec!["issues:write".into()],
            validation: ValidationPath::Cache,
            latency_us: 3,
            ..DecisionEvent::default()
        };
        let l = e.to_json_line(UNIX_EPOCH);
        assert_eq!(
            l,
            "{\"v\":1,\"type\":\"decision\",\"time\":\"1970-01-01T00:00:00.000Z\",\"rpc_id\":7,\
             \"http_method\":\"POST\",\"method\":\"tools/call\",\"name\":\"create_issue\",\
             \"messages\":1,\"subject\":\"alice\",\"decision\":\"deny\",\"status\":403,\
             \"error\":\"insufficient_scope\",\"reason\":\"insufficient_scope\",\
             \"scopes\":[\"issues:write\"],\"validation\":\"cache\",\"latency_us\":3}\n"
        );
    }

    #[test]
    fn lifecycle_lines_and_cut_text() {
        let e = LifecycleEvent::new("jwks_refresh", "ok")
            .count("keys", 2)
            .detail("x\ny");
        assert_eq!(
            e.to_json_line(UNIX_EPOCH),
            "{\"v\":1,\"type\":\"jwks_refresh\",\"time\":\"1970-01-01T00:00:00.000Z\",\
             \"outcome\":\"ok\",\"keys\":2,\"detail\":\"x\\ny\"}\n"
        );
        assert_eq!(cut(&"é".repeat(300)).chars().count(), MAX_FIELD_CHARS);
        assert_eq!(reason_index("nope"), REASONS.len() - 1);
        assert_eq!(REASONS[reason_index("no_token")], "no_token");
    }

    #[test]
    fn validation_paths_combine() {
        use ValidationPath::*;
        assert_eq!(None.and(Jwt), Jwt);
        assert_eq!(Cache.and(Introspection), Introspection);
        assert_eq!(Jwt.and(Cache), Jwt);
        assert_eq!(Jwt.and(Introspection), JwtAndIntrospection);
    }
}

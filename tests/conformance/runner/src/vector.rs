//! The vector file format (`tests/conformance/README.md`, `tests/conformance/vector.schema.json`)
//! as serde types: the one source of truth for what a vector may say.
//!
//! Every struct refuses unknown keys (`deny_unknown_fields`), so a typo in a vector fails the run
//! instead of silently weakening an expectation; [`Vector::parse`] also checks the format version
//! and which keys may appear together (one step kind per step, one body per request, expectation
//! keys that fit the step and the expected decision). Free-form values (the runtime `config`, the
//! fixture's `backend` answers, JWT `claims`, control bodies) stay [`Value`]s: the core checks
//! config keys itself and the fixture owns its own formats.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The vector format this runner reads (`"format": 1` in every vector).
pub const FORMAT: u32 = 1;

/// `Some(value)` for a present key, even when the value is `null` (serde maps `null` to `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// One vector file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// The format version; must be [`FORMAT`].
    pub format: u32,
    /// Unique id, equal to the file name without `.json`.
    pub id: String,
    /// What the vector shows, in one or two sentences.
    pub description: String,
    /// The spec sections the expectations come from.
    pub spec: Vec<String>,
    /// The snake_case core `Config` JSON (kept as written: the core names unknown keys itself).
    #[serde(deserialize_with = "present")]
    pub config: Option<Value>,
    /// The body of `POST /_control/reset`.
    #[serde(default)]
    pub backend: Option<Backend>,
    /// Tokens to mint (or given verbatim), by name.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSpec>,
    /// Building the runtime must fail with this error.
    #[serde(default)]
    pub expect_config_error: Option<ErrorExpect>,
    /// Startup must fail with this error.
    #[serde(default)]
    pub expect_startup_error: Option<ErrorExpect>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// The fixture's reset body (README "backend"); values are the fixture's own formats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for validation; the raw JSON is what the fixture receives
pub struct Backend {
    jwks: Option<Vec<String>>,
    jwks_extra: Option<Vec<Value>>,
    credentials: Option<Credentials>,
    introspection: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "present")]
    introspection_default: Option<Value>,
    policy: Option<PolicyAnswer>,
    manifest_status: Option<u16>,
}

/// Basic-auth credentials the fixture accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // validation only
pub struct Credentials {
    client_id: String,
    client_secret: String,
}

/// The policy endpoint's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // validation only
pub struct PolicyAnswer {
    status: u16,
    #[serde(default, deserialize_with = "present")]
    body: Option<Value>,
}

/// A token to mint (README "Minting"), or `{"opaque": "<text>"}` used verbatim.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // validation only; the raw JSON is what the fixture receives
pub struct TokenSpec {
    /// Used verbatim, not minted.
    pub opaque: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    claims: Option<Map<String, Value>>,
    header: Option<Map<String, Value>>,
    omit_kid: Option<bool>,
    signature: Option<String>,
    hmac_secret: Option<String>,
    raw: Option<String>,
}

/// An expected error (`expect_config_error`, `expect_startup_error`, a failed publish).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpect {
    /// The stable error code name.
    pub code: String,
    /// The exact message.
    pub message: Option<String>,
    /// A substring of the message.
    pub message_contains: Option<String>,
}

/// One step as written; [`Step::kind`] says which of the step kinds it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    control: Option<Control>,
    request: Option<Request>,
    concurrency: Option<u32>,
    filter: Option<FilterInput>,
    canned: Option<String>,
    metadata: Option<Empty>,
    counters: Option<Map<String, Value>>,
    await_policy_refresh: Option<bool>,
    advance_clock: Option<f64>,
    events: Option<Vec<Map<String, Value>>>,
    expect: Option<Expect>,
}

/// `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A fixture call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// HTTP method (default POST).
    pub method: Option<String>,
    /// Path under the fixture base, e.g. `/_control/revoke`.
    pub path: String,
    /// JSON body.
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Value>,
}

/// A request to `check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method (default POST).
    pub method: Option<String>,
    /// Path (default `/mcp`).
    pub path: Option<String>,
    /// `[name, value]` pairs in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "present")]
    body_json: Option<Value>,
    body: Option<String>,
    body_base64: Option<String>,
    body_repeat: Option<Repeat>,
    /// The host stopped reading the body (over `max_body_bytes`): decided with the binding's
    /// oversized-body call, which gets no body (a binding over HTTP sends the body as given).
    #[serde(default)]
    pub oversized: bool,
}

/// A large body without a large file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    byte: String,
    count: usize,
}

/// The handler's response a `filter` step filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    /// The handler's status (informational: only 2xx answers reach the filter).
    pub status: Option<u16>,
    /// The handler's `content-type`.
    pub content_type: Option<String>,
    /// The handler's `content-encoding` (the one-shot filter is then skipped).
    pub content_encoding: Option<String>,
    #[serde(default, deserialize_with = "present")]
    body_json: Option<Value>,
    body: Option<String>,
    body_base64: Option<String>,
    /// Streaming: chunk sizes, repeated until the body is used up.
    pub chunks: Option<Vec<usize>>,
    /// Streaming: fixed chunk size.
    pub chunk_every: Option<usize>,
    /// Streaming: every split of the body into two chunks.
    pub split_everywhere: Option<bool>,
}

/// The expected decision of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The runtime answers.
    Respond,
    /// The request reaches the handler.
    Allow,
    /// Forwarded without a principal.
    PassThrough,
}

/// The expected result of a filter step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// The handler's body as it is.
    Unchanged,
    /// A new body.
    Rewritten,
    /// An answer of the runtime instead.
    Respond,
}

/// An expected `WWW-Authenticate`: the exact value, or parameters (`null` = must be absent).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum WwwExpect {
    /// The exact header value.
    Exact(String),
    /// `scheme` and parameters.
    Params(BTreeMap<String, Option<String>>),
}

/// Expected principal fields; `claims` is a subset match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalExpect {
    /// `sub`.
    pub subject: Option<String>,
    /// `iss`.
    pub issuer: Option<String>,
    /// `aud` as a list.
    pub audience: Option<Vec<String>>,
    /// Granted scopes.
    pub scopes: Option<Vec<String>>,
    /// Always true for an allow.
    pub active: Option<bool>,
    /// Listed claims must be equal.
    pub claims: Option<Map<String, Value>>,
}

/// An expectation; which keys fit depends on the step (checked by [`Step::kind`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Request steps (and optionally `respond` on metadata steps).
    pub decision: Option<DecisionKind>,
    /// Filter steps.
    pub result: Option<FilterKind>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Lower-case header name -> exact value.
    pub headers: Option<BTreeMap<String, String>>,
    /// `WWW-Authenticate`.
    pub www_authenticate: Option<WwwExpect>,
    /// `WWW-Authenticate` must be absent.
    pub no_www_authenticate: Option<bool>,
    /// The body is the compact serialization of this value, keys in file order.
    #[serde(default, deserialize_with = "present")]
    pub body_json: Option<Value>,
    /// The exact body text.
    pub body: Option<String>,
    /// The byte length of a rewritten body.
    pub content_length: Option<u64>,
    /// Allow: principal fields.
    pub principal: Option<PrincipalExpect>,
    /// Allow: whether the answer must be filtered.
    pub filter_tools_list: Option<bool>,
    /// Allow: the core's `user_info` document, byte-exact (compact, keys in file order).
    pub user_info: Option<Value>,
    /// Filter respond: what the stream forwarded before the refusal is a prefix of this.
    pub forwarded_at_most: Option<String>,
    /// Filter (stream): whether the host must drop Content-Encoding.
    pub content_encoding_dropped: Option<bool>,
    /// Request: the audit event each check emits (a subset: listed keys equal, `null` absent,
    /// `"$present"` present with any value).
    pub event: Option<Map<String, Value>>,
    /// Request: the check emits no decision event (an allow sampled out).
    pub no_event: Option<bool>,
}

/// What a step does, checked for consistency.
pub enum StepKind<'a> {
    /// Call the fixture.
    Control(&'a Control),
    /// Check a request `concurrency` times at once.
    Request(&'a Request, u32, &'a Expect),
    /// Filter the handler's answer for the last allowed request.
    Filter(&'a FilterInput, &'a Expect),
    /// A fixed answer of the core (`startup_failed`, `internal_error`).
    Canned(&'a str, &'a Expect),
    /// The RFC 9728 document.
    Metadata(&'a Expect),
    /// Fixture counters.
    Counters(&'a Map<String, Value>),
    /// Wait for a background policy refresh.
    AwaitPolicyRefresh,
    /// Move the manual clock.
    AdvanceClock(f64),
    /// The lifecycle audit events since the previous `events` step (or the build), in order.
    Events(&'a [Map<String, Value>]),
}

fn body_of(
    json: &Option<Value>,
    text: &Option<String>,
    b64: &Option<String>,
    repeat: Option<&Repeat>,
) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let given = [
        json.is_some(),
        text.is_some(),
        b64.is_some(),
        repeat.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err("at most one of body_json, body, body_base64, body_repeat".into());
    }
    if let Some(j) = json {
        return serde_json::to_vec(j).map_err(|e| e.to_string());
    }
    if let Some(s) = text {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(b) = b64 {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("body_base64: {e}"));
    }
    if let Some(r) = repeat {
        let [byte] = r.byte.as_bytes() else {
            return Err("body_repeat.byte must be one ASCII character".into());
        };
        return Ok(vec![*byte; r.count]);
    }
    Ok(Vec::new())
}

impl Request {
    /// The body bytes.
    pub fn body(&self) -> Result<Vec<u8>, String> {
        body_of(
            &self.body_json,
            &self.body,
            &self.body_base64,
            self.body_repeat.as_ref(),
        )
    }
}

impl FilterInput {
    /// The handler's body bytes.
    pub fn body(&self) -> Result<Vec<u8>, String> {
        body_of(&self.body_json, &self.body, &self.body_base64, None)
    }

    /// The chunkings of the streaming filter: `chunks` (sizes, repeated), `chunk_every`, or
    /// `split_everywhere` (every split into two); by default one chunk, then one byte at a time.
    pub fn chunkings(&self, len: usize) -> Result<Vec<Vec<usize>>, String> {
        let given = [
            self.chunks.is_some(),
            self.chunk_every.is_some(),
            self.split_everywhere.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err("at most one of chunks, chunk_every, split_everywhere".into());
        }
        let sizes_of = |pattern: &[usize]| -> Vec<usize> {
            let mut out = Vec::new();
            let (mut left, mut i) = (len, 0);
            while left > 0 {
                let n = pattern[i % pattern.len()].min(left);
                out.push(n);
                left -= n;
                i += 1;
            }
            out
        };
        if let Some(c) = &self.chunks {
            if c.is_empty() || c.contains(&0) {
                return Err("chunks must be positive sizes".into());
            }
            return Ok(vec![sizes_of(c)]);
        }
        if let Some(n) = self.chunk_every {
            if n == 0 {
                return Err("chunk_every must be positive".into());
            }
            return Ok(vec![sizes_of(&[n])]);
        }
        if let Some(v) = self.split_everywhere {
            if !v {
                return Err("split_everywhere must be true".into());
            }
            return Ok((0..=len).map(|k| vec![k, len - k]).collect());
        }
        Ok(vec![vec![len], sizes_of(&[1])])
    }
}

impl Expect {
    fn response_keys(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                k.push(name)
            }
        };
        add(self.status.is_some(), "status");
        add(self.headers.is_some(), "headers");
        add(self.www_authenticate.is_some(), "www_authenticate");
        add(self.no_www_authenticate.is_some(), "no_www_authenticate");
        add(self.body_json.is_some(), "body_json");
        add(self.body.is_some(), "body");
        k
    }

    fn refuse(&self, names: &[(&'static str, bool)], why: &str) -> Result<(), String> {
        match names.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!("expect.{name} does not fit {why}")),
            None => Ok(()),
        }
    }

    /// A response expectation (respond decision, filter respond, metadata): status required.
    fn check_response_shape(&self, why: &str) -> Result<(), String> {
        if self.status.is_none() {
            return Err(format!("expect.status is required for {why}"));
        }
        if self.body_json.is_some() && self.body.is_some() {
            return Err("expect: at most one of body_json, body".into());
        }
        if self.www_authenticate.is_some() && self.no_www_authenticate == Some(true) {
            return Err("expect: www_authenticate and no_www_authenticate contradict".into());
        }
        if let Some(WwwExpect::Params(p)) = &self.www_authenticate {
            if p.get("scheme").is_some_and(Option::is_none) {
                return Err("expect.www_authenticate.scheme cannot be null".into());
            }
        }
        Ok(())
    }

    fn check_for_request(&self) -> Result<(), String> {
        let d = self
            .decision
            .ok_or("expect.decision is required for a request")?;
        self.refuse(
            &[
                ("result", self.result.is_some()),
                ("content_length", self.content_length.is_some()),
                ("forwarded_at_most", self.forwarded_at_most.is_some()),
                (
                    "content_encoding_dropped",
                    self.content_encoding_dropped.is_some(),
                ),
            ],
            "a request step",
        )?;
        if d != DecisionKind::Allow {
            self.refuse(
                &[
                    ("principal", self.principal.is_some()),
                    ("filter_tools_list", self.filter_tools_list.is_some()),
                    ("user_info", self.user_info.is_some()),
                ],
                "a decision other than allow",
            )?;
        }
        if d == DecisionKind::Respond {
            self.check_response_shape("a respond decision")
        } else if let Some(k) = self.response_keys().first() {
            Err(format!("expect.{k} only fits a respond decision"))
        } else {
            Ok(())
        }
    }

    fn check_for_filter(&self) -> Result<(), String> {
        let r = self
            .result
            .ok_or("expect.result is required for a filter")?;
        self.refuse(
            &[
                ("event", self.event.is_some()),
                ("no_event", self.no_event.is_some()),
                ("decision", self.decision.is_some()),
                ("principal", self.principal.is_some()),
                ("filter_tools_list", self.filter_tools_list.is_some()),
                ("user_info", self.user_info.is_some()),
            ],
            "a filter step",
        )?;
        match r {
            FilterKind::Unchanged => match self.response_keys().first() {
                Some(k) => Err(format!("expect.{k} does not fit an unchanged result")),
                None => self.refuse(
                    &[
                        ("content_length", self.content_length.is_some()),
                        ("forwarded_at_most", self.forwarded_at_most.is_some()),
                    ],
                    "an unchanged result",
                ),
            },
            FilterKind::Rewritten => {
                self.refuse(
                    &[
                        ("status", self.status.is_some()),
                        ("headers", self.headers.is_some()),
                        ("www_authenticate", self.www_authenticate.is_some()),
                        ("no_www_authenticate", self.no_www_authenticate.is_some()),
                        ("forwarded_at_most", self.forwarded_at_most.is_some()),
                    ],
                    "a rewritten body",
                )?;
                match (self.body_json.is_some(), self.body.is_some()) {
                    (true, false) | (false, true) => Ok(()),
                    _ => Err("a rewritten result needs exactly one of body_json, body".into()),
                }
            }
            FilterKind::Respond => {
                self.refuse(
                    &[("content_length", self.content_length.is_some())],
                    "a respond result",
                )?;
                self.check_response_shape("a respond result")
            }
        }
    }

    fn check_for_metadata(&self) -> Result<(), String> {
        if self.decision.is_some_and(|d| d != DecisionKind::Respond) {
            return Err("expect.decision of a metadata step can only be respond".into());
        }
        self.refuse(
            &[
                ("event", self.event.is_some()),
                ("no_event", self.no_event.is_some()),
                ("result", self.result.is_some()),
                ("content_length", self.content_length.is_some()),
                ("principal", self.principal.is_some()),
                ("filter_tools_list", self.filter_tools_list.is_some()),
                ("user_info", self.user_info.is_some()),
                ("forwarded_at_most", self.forwarded_at_most.is_some()),
                (
                    "content_encoding_dropped",
                    self.content_encoding_dropped.is_some(),
                ),
            ],
            "a metadata or canned step",
        )?;
        self.check_response_shape("a metadata or canned step")
    }
}

impl Step {
    /// Which step this is; an error when the keys do not make exactly one consistent step.
    pub fn kind(&self) -> Result<StepKind<'_>, String> {
        let kinds = [
            ("control", self.control.is_some()),
            ("request", self.request.is_some()),
            ("filter", self.filter.is_some()),
            ("canned", self.canned.is_some()),
            ("metadata", self.metadata.is_some()),
            ("counters", self.counters.is_some()),
            ("await_policy_refresh", self.await_policy_refresh.is_some()),
            ("advance_clock", self.advance_clock.is_some()),
            ("events", self.events.is_some()),
        ];
        let set: Vec<_> = kinds.iter().filter(|(_, s)| *s).map(|(n, _)| *n).collect();
        let [kind] = set.as_slice() else {
            return Err(format!(
                "a step needs exactly one of control, request, filter, canned, metadata, \
                 counters, await_policy_refresh, advance_clock, events (got {set:?})"
            ));
        };
        if self.concurrency.is_some() && *kind != "request" {
            return Err("concurrency only fits a request step".into());
        }
        let needs_expect = matches!(*kind, "request" | "filter" | "canned" | "metadata");
        match (&self.expect, needs_expect) {
            (None, true) => return Err(format!("a {kind} step needs expect")),
            (Some(_), false) => return Err(format!("a {kind} step takes no expect")),
            _ => {}
        }
        if let Some(c) = &self.control {
            return Ok(StepKind::Control(c));
        }
        if let Some(c) = &self.counters {
            return Ok(StepKind::Counters(c));
        }
        if let Some(e) = &self.events {
            return Ok(StepKind::Events(e));
        }
        if let Some(a) = self.await_policy_refresh {
            return match a {
                true => Ok(StepKind::AwaitPolicyRefresh),
                false => Err("await_policy_refresh must be true".into()),
            };
        }
        if let Some(s) = self.advance_clock {
            return match s.is_finite() && s > 0.0 {
                true => Ok(StepKind::AdvanceClock(s)),
                false => Err("advance_clock must be a positive number".into()),
            };
        }
        let Some(expect) = &self.expect else {
            return Err(format!("a {kind} step needs expect"));
        };
        if let Some(r) = &self.request {
            let n = self.concurrency.unwrap_or(1);
            if n == 0 {
                return Err("concurrency must be at least 1".into());
            }
            expect.check_for_request()?;
            if expect.event.is_some() && expect.no_event.is_some() {
                return Err("event and no_event do not fit together".into());
            }
            if expect.no_event == Some(false) {
                return Err("no_event must be true".into());
            }
            r.body()?;
            return Ok(StepKind::Request(r, n, expect));
        }
        if let Some(f) = &self.filter {
            expect.check_for_filter()?;
            let body = f.body()?;
            f.chunkings(body.len())?;
            return Ok(StepKind::Filter(f, expect));
        }
        if let Some(c) = &self.canned {
            if !matches!(c.as_str(), "startup_failed" | "internal_error") {
                return Err(format!("unknown canned answer {c:?}"));
            }
            expect.check_for_metadata()?;
            return Ok(StepKind::Canned(c, expect));
        }
        expect.check_for_metadata()?;
        Ok(StepKind::Metadata(expect))
    }
}

impl Vector {
    /// Read and check a vector: JSON, known keys only, the format version, one consistent kind
    /// per step. Errors name the offending key.
    pub fn parse(raw: &Value) -> Result<Vector, String> {
        match raw.get("format") {
            Some(Value::Number(n)) if n.as_u64() == Some(FORMAT as u64) => {}
            Some(other) => {
                return Err(format!(
                    "unsupported vector format {other} (this runner reads {FORMAT})"
                ))
            }
            None => return Err(format!("missing \"format\": {FORMAT}")),
        }
        let v: Vector = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
        if v.config.is_none() {
            return Err("missing field `config`".into());
        }
        if v.expect_config_error.is_some()
            && (v.expect_startup_error.is_some() || !v.steps.is_empty())
        {
            return Err(
                "a vector expecting a config error has no expect_startup_error and no steps".into(),
            );
        }
        if v.expect_startup_error.is_some() && !v.steps.is_empty() {
            return Err("a vector expecting a startup error has no steps".into());
        }
        for (i, s) in v.steps.iter().enumerate() {
            s.kind().map_err(|e| format!("step {i}: {e}"))?;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "format": 1, "id": "x", "description": "d", "spec": ["s"],
            "config": {"issuer": "i"},
            "tokens": {"ok": {"kid": "rsa-1", "claims": {"iss": "i"}}},
            "backend": {"introspection": {}},
            "steps": [
                {"request": {"method": "POST", "path": "/mcp", "headers": [["a", "b"]], "body_json": {}},
                 "expect": {"decision": "respond", "status": 401, "www_authenticate": {"scheme": "Bearer", "error": null},
                            "body_json": {}}},
                {"request": {"body": ""}, "expect": {"decision": "allow", "principal": {"subject": "s"}}},
                {"filter": {"content_type": "application/json", "body": "{}"}, "expect": {"result": "unchanged"}},
                {"metadata": {}, "expect": {"status": 200}},
                {"control": {"path": "/_control/revoke", "body": {"token": "t"}}},
                {"counters": {"jwks": 1}},
                {"await_policy_refresh": true},
                {"advance_clock": 5}
            ]
        })
    }

    fn err(v: &Value) -> String {
        Vector::parse(v).expect_err("must be refused")
    }

    /// Every vector of the repository is valid (without running it: no fixture needed).
    #[test]
    fn every_vector_parses() {
        let mut n = 0;
        for entry in std::fs::read_dir(crate::vectors_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let v = Vector::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    Some(v.id.as_str()),
                    path.file_stem().and_then(|s| s.to_str())
                );
                n += 1;
            }
        }
        assert!(n > 150, "only {n} vectors");
    }

    #[test]
    fn the_sample_parses() {
        let v = Vector::parse(&base()).expect("valid");
        assert_eq!(v.steps.len(), 8);
    }

    /// A typo at any level fails, naming the key.
    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        let places: &[&[&str]] = &[
            &[],
            &["tokens", "ok"],
            &["backend"],
            &["steps", "0"],
            &["steps", "0", "request"],
            &["steps", "0", "expect"],
            &["steps", "1", "expect", "principal"],
            &["steps", "2", "filter"],
            &["steps", "2", "expect"],
            &["steps", "3", "metadata"],
            &["steps", "4", "control"],
        ];
        for place in places {
            let mut v = base();
            let mut at = &mut v;
            for p in *place {
                at = match p.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*p],
                };
            }
            at.as_object_mut()
                .unwrap()
                .insert("statsu".into(), json!(1));
            let e = err(&v);
            assert!(e.contains("unknown field `statsu`"), "{place:?}: {e}");
        }
        let mut v = base();
        v["expect_config_error"] = json!({"code": "config_invalid", "mesage": "m"});
        v["steps"] = json!([]);
        assert!(err(&v).contains("unknown field `mesage`"));
    }

    #[test]
    fn the_format_version_is_required_and_checked() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("format");
        assert_eq!(err(&v), "missing \"format\": 1");
        v["format"] = json!(2);
        assert_eq!(err(&v), "unsupported vector format 2 (this runner reads 1)");
        v["format"] = json!("1");
        assert!(err(&v).starts_with("unsupported vector format"));
    }

    #[test]
    fn inconsistent_steps_are_refused() {
        let cases = [
            (
                json!({"request": {}, "metadata": {}, "expect": {"decision": "pass_through"}}),
                "exactly one",
            ),
            (json!({"request": {}}), "needs expect"),
            (
                json!({"counters": {}, "expect": {"status": 1}}),
                "takes no expect",
            ),
            (
                json!({"metadata": {}, "concurrency": 2, "expect": {"status": 200}}),
                "concurrency",
            ),
            (
                json!({"request": {}, "expect": {"status": 401}}),
                "decision is required",
            ),
            (
                json!({"request": {}, "expect": {"decision": "respond"}}),
                "status is required",
            ),
            (
                json!({"request": {}, "expect": {"decision": "allow", "status": 200}}),
                "only fits a respond",
            ),
            (
                json!({"request": {}, "expect": {"decision": "respond", "status": 401, "principal": {}}}),
                "principal",
            ),
            (
                json!({"request": {"body": "a", "body_json": {}}, "expect": {"decision": "pass_through"}}),
                "at most one",
            ),
            (
                json!({"filter": {}, "expect": {"result": "rewritten"}}),
                "exactly one of body_json",
            ),
            (
                json!({"filter": {}, "expect": {"result": "unchanged", "body": "x"}}),
                "unchanged",
            ),
            (
                json!({"filter": {}, "expect": {"decision": "allow", "result": "unchanged"}}),
                "decision",
            ),
            (
                json!({"metadata": {}, "expect": {"decision": "allow", "status": 200}}),
                "only be respond",
            ),
            (json!({"await_policy_refresh": false}), "must be true"),
            (json!({"advance_clock": 0}), "positive"),
            (
                json!({"request": {}, "concurrency": 0, "expect": {"decision": "pass_through"}}),
                "at least 1",
            ),
            (
                json!({"request": {}, "expect": {"decision": "respond", "status": 401,
                "www_authenticate": "Bearer", "no_www_authenticate": true}}),
                "contradict",
            ),
        ];
        for (step, want) in cases {
            let mut v = base();
            v["steps"] = json!([step]);
            let e = err(&v);
            assert!(e.contains(want), "{step}: {e}");
        }
    }
}

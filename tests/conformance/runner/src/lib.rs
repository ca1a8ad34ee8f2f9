//! The conformance vector runner shared by the Rust-hosted runners (the core API in
//! `core/tests/conformance.rs`, the C ABI in `ffi/tests/abi_conformance.rs`).
//!
//! It implements `tests/conformance/README.md`: start the fixture backend, reset it per vector,
//! mint tokens, substitute placeholders, build a runtime through the binding, run every step and
//! compare the binding's answers with the expectations byte for byte. A binding only translates:
//! it implements [`Binding`] and hands its answers back in the neutral types of this crate.
//! `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authsec_fixture::Fixture;
use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{Map, Value};

/// One HTTP request of a vector step.
#[derive(Debug, Clone)]
pub struct Req {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Header pairs in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// An answer the runtime writes itself.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The decision a binding returned for a request. `A` is whatever the binding needs later to
/// filter the handler's response (a principal, a decision handle).
pub enum Outcome<A> {
    /// The request may reach the handler.
    Allow {
        /// The principal as JSON (`subject`, `issuer`, `audience`, `scopes`, `claims`, `active`).
        principal: Value,
        /// Whether the handler's answer must be filtered.
        filter_tools_list: bool,
        /// Kept for a following `filter` step.
        handle: A,
    },
    /// The runtime answers.
    Respond(Resp),
    /// Forward without a principal.
    PassThrough,
    /// The call itself failed (a non-OK status); never expected by a vector.
    Failed(String),
}

/// The result of filtering a handler's response.
#[derive(Debug)]
pub enum Filtered {
    /// Forward the handler's body as it is.
    Unchanged,
    /// Forward this body instead.
    Rewritten(Vec<u8>),
    /// Answer this instead of the handler's response.
    Respond(Resp),
    /// The call itself failed.
    Failed(String),
}

/// A typed error from building or starting a runtime.
#[derive(Debug)]
pub struct Failure {
    /// The stable code name (`config_invalid`, ...).
    pub code: String,
    /// The message.
    pub message: String,
}

/// What a binding must offer to be run over the vectors. Every runtime is built with a manual
/// (frozen) clock that only `advance_clock` moves.
pub trait Binding: Send + Sync + 'static {
    /// Shown in the summary line, e.g. `rust core`.
    const NAME: &'static str;
    /// A built runtime.
    type Runtime: Send + Sync + 'static;
    /// What an allow keeps for a later `filter` step.
    type Allowed: Send + Sync + 'static;

    /// Build a runtime from the snake_case config JSON, with a manual clock.
    fn build(&self, config_json: &str) -> Result<Self::Runtime, Failure>;
    /// Run startup.
    fn startup(&self, rt: Arc<Self::Runtime>) -> BoxFuture<'static, Result<(), Failure>>;
    /// Decide one request (resolving any I/O).
    fn check(
        &self,
        rt: Arc<Self::Runtime>,
        req: Arc<Req>,
    ) -> BoxFuture<'static, Outcome<Self::Allowed>>;
    /// Filter a handler's response for an allowed request.
    fn filter(
        &self,
        rt: &Self::Runtime,
        allowed: &Self::Allowed,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Filtered;
    /// The RFC 9728 document response.
    fn metadata(&self, rt: &Self::Runtime) -> Result<Resp, String>;
    /// Move the manual clock forward.
    fn advance_clock(&self, rt: &Self::Runtime, seconds: f64) -> Result<(), String>;
    /// Wait for a running background policy refresh.
    fn wait_policy_refresh(&self, rt: Arc<Self::Runtime>)
        -> BoxFuture<'static, Result<(), String>>;
}

/// The vectors directory of this repository.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// Run every vector (or the `AUTHSEC_VECTOR` subset) through `binding`; panics with the list of
/// failures if any vector fails.
pub async fn run_all<B: Binding>(binding: B) {
    let binding = Arc::new(binding);
    let filter = std::env::var("AUTHSEC_VECTOR").unwrap_or_default();
    let files = vector_files(&vectors_dir());
    assert!(!files.is_empty(), "no vectors found");
    let fx = Fixture::start().await.expect("start fixture");
    let (mut passed, mut failed) = (0, Vec::new());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
        let id = raw["id"].as_str().unwrap_or("?").to_string();
        assert_eq!(
            Some(id.as_str()),
            path.file_stem().and_then(|s| s.to_str()),
            "vector id must equal its file name"
        );
        if !id.starts_with(&filter) {
            continue;
        }
        match run_vector(&binding, &fx, &raw).await {
            Ok(()) => passed += 1,
            Err(e) => failed.push(format!("{id}: {e}")),
        }
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "conformance ({}): {passed} passed, {} failed",
        B::NAME,
        failed.len()
    );
    assert!(failed.is_empty(), "{} vectors failed", failed.len());
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("vectors dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Replace `{{base}}` and `{{token:NAME}}` in every string and object key.
fn substitute(v: &Value, base: &str, tokens: &BTreeMap<String, String>) -> Value {
    let s = |text: &str| {
        let mut out = text.replace("{{base}}", base);
        for (name, tok) in tokens {
            out = out.replace(&format!("{{{{token:{name}}}}}"), tok);
        }
        out
    };
    match v {
        Value::String(t) => Value::String(s(t)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, base, tokens)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (s(k), substitute(x, base, tokens)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn build_request(r: &Value) -> Result<Req, String> {
    let method = r["method"].as_str().unwrap_or("POST").to_string();
    let path = r["path"].as_str().unwrap_or("/mcp").to_string();
    let mut headers = Vec::new();
    for h in r["headers"].as_array().into_iter().flatten() {
        let pair = h.as_array().ok_or("header must be [name, value]")?;
        headers.push((
            pair[0].as_str().ok_or("header name")?.to_string(),
            pair[1].as_str().ok_or("header value")?.to_string(),
        ));
    }
    let body = body_of(r)?;
    Ok(Req {
        method,
        path,
        headers,
        body,
    })
}

fn body_of(r: &Value) -> Result<Vec<u8>, String> {
    if let Some(j) = r.get("body_json") {
        return serde_json::to_vec(j).map_err(|e| e.to_string());
    }
    if let Some(s) = r.get("body").and_then(Value::as_str) {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(b) = r.get("body_base64").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("body_base64: {e}"));
    }
    if let Some(rep) = r.get("body_repeat") {
        let byte = rep["byte"]
            .as_str()
            .and_then(|s| s.bytes().next())
            .unwrap_or(b'a');
        let count = rep["count"].as_u64().ok_or("body_repeat.count")? as usize;
        return Ok(vec![byte; count]);
    }
    Ok(Vec::new())
}

/// Parse `Bearer a="b", c="d"` into its scheme and parameters.
fn parse_challenge(h: &str) -> (String, BTreeMap<String, String>) {
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), &q[(end + 1).min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(name, value);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_string(), params)
}

fn check_response(resp: &Resp, e: &Value) -> Result<(), String> {
    let body_text = String::from_utf8_lossy(&resp.body).to_string();
    if let Some(s) = e.get("status").and_then(Value::as_u64) {
        if resp.status as u64 != s {
            return Err(format!(
                "status {} != expected {s}; body {body_text}",
                resp.status
            ));
        }
    }
    if let Some(hs) = e.get("headers").and_then(Value::as_object) {
        for (k, v) in hs {
            let got = resp.header(k);
            if got != v.as_str() {
                return Err(format!("header {k}: {got:?} != expected {v}"));
            }
        }
    }
    let www = resp.header("www-authenticate");
    if e.get("no_www_authenticate") == Some(&Value::Bool(true)) && www.is_some() {
        return Err(format!("unexpected www-authenticate {www:?}"));
    }
    match e.get("www_authenticate") {
        Some(Value::String(exact)) if www != Some(exact.as_str()) => {
            return Err(format!(
                "www-authenticate {www:?}\n   != expected {exact:?}"
            ));
        }
        Some(Value::Object(params)) => check_challenge(www, params)?,
        _ => {}
    }
    if let Some(j) = e.get("body_json") {
        let want = serde_json::to_string(j).map_err(|e| e.to_string())?;
        if body_text != want {
            return Err(format!("body\n   got      {body_text}\n   expected {want}"));
        }
    }
    if let Some(b) = e.get("body").and_then(Value::as_str) {
        if body_text != b {
            return Err(format!(
                "body\n   got      {body_text:?}\n   expected {b:?}"
            ));
        }
    }
    Ok(())
}

fn check_challenge(www: Option<&str>, params: &Map<String, Value>) -> Result<(), String> {
    let h = www.ok_or("missing www-authenticate")?;
    let (scheme, got) = parse_challenge(h);
    for (k, v) in params {
        if k == "scheme" {
            if Some(scheme.as_str()) != v.as_str() {
                return Err(format!("challenge scheme {scheme} != {v}"));
            }
            continue;
        }
        match (v, got.get(k)) {
            (Value::Null, None) => {}
            (Value::Null, Some(g)) => {
                return Err(format!("challenge param {k}={g:?} must be absent in {h}"))
            }
            (Value::String(want), Some(g)) if want == g => {}
            (want, g) => return Err(format!("challenge param {k}: {g:?} != {want} in {h}")),
        }
    }
    Ok(())
}

fn check_principal(got: &Value, want: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in want {
        if k == "claims" {
            let claims = v.as_object().ok_or("claims must be an object")?;
            for (ck, cv) in claims {
                if got["claims"].get(ck) != Some(cv) {
                    return Err(format!(
                        "principal claim {ck}: {:?} != {cv}",
                        got["claims"].get(ck)
                    ));
                }
            }
        } else if got.get(k) != Some(v) {
            return Err(format!("principal {k}: {:?} != {v}", got.get(k)));
        }
    }
    Ok(())
}

fn check_outcome<A>(d: &Outcome<A>, e: &Value) -> Result<(), String> {
    let want = e["decision"].as_str().ok_or("expect.decision missing")?;
    match (want, d) {
        ("respond", Outcome::Respond(r)) => check_response(r, e),
        (
            "allow",
            Outcome::Allow {
                principal,
                filter_tools_list,
                ..
            },
        ) => {
            if let Some(p) = e.get("principal").and_then(Value::as_object) {
                check_principal(principal, p)?;
            }
            if let Some(f) = e.get("filter_tools_list").and_then(Value::as_bool) {
                if f != *filter_tools_list {
                    return Err(format!("filter_tools_list {filter_tools_list} != {f}"));
                }
            }
            Ok(())
        }
        ("pass_through", Outcome::PassThrough) => Ok(()),
        (want, Outcome::Respond(r)) => Err(format!(
            "expected {want}, got respond {} {:?} {}",
            r.status,
            r.header("www-authenticate"),
            String::from_utf8_lossy(&r.body)
        )),
        (want, Outcome::Allow { principal, .. }) => {
            Err(format!("expected {want}, got allow {principal}"))
        }
        (want, Outcome::PassThrough) => Err(format!("expected {want}, got pass_through")),
        (_, Outcome::Failed(e)) => Err(format!("the call failed: {e}")),
    }
}

fn check_failure(err: &Failure, e: &Value) -> Result<(), String> {
    if let Some(code) = e.get("code").and_then(Value::as_str) {
        if err.code != code {
            return Err(format!(
                "error code {} != {code} ({})",
                err.code, err.message
            ));
        }
    }
    if let Some(m) = e.get("message").and_then(Value::as_str) {
        if err.message != m {
            return Err(format!("error message {:?} != {m:?}", err.message));
        }
    }
    if let Some(m) = e.get("message_contains").and_then(Value::as_str) {
        if !err.message.contains(m) {
            return Err(format!("error message {:?} lacks {m:?}", err.message));
        }
    }
    Ok(())
}

fn check_filtered(out: Filtered, e: &Value) -> Result<(), String> {
    match (e["result"].as_str(), out) {
        (Some("unchanged"), Filtered::Unchanged) => Ok(()),
        (Some("rewritten"), Filtered::Rewritten(b)) => {
            let n = b.len() as u64;
            let resp = Resp {
                status: 200,
                headers: vec![],
                body: b,
            };
            check_response(&resp, e)?;
            match e.get("content_length").and_then(Value::as_u64) {
                Some(want) if want != n => Err(format!("content_length {n} != {want}")),
                _ => Ok(()),
            }
        }
        (Some("respond"), Filtered::Respond(r)) => check_response(&r, e),
        (want, got) => Err(format!("filter: expected {want:?}, got {got:?}")),
    }
}

async fn run_vector<B: Binding>(binding: &Arc<B>, fx: &Fixture, raw: &Value) -> Result<(), String> {
    let empty = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for (name, spec) in raw["tokens"].as_object().into_iter().flatten() {
        let spec = substitute(spec, &fx.base_url, &empty);
        let tok = match spec.get("opaque").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => fx.mint(spec).await,
        };
        tokens.insert(name.clone(), tok);
    }
    let v = substitute(raw, &fx.base_url, &tokens);
    fx.reset(
        v.get("backend")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    )
    .await;

    let rt = match (
        binding.build(&v["config"].to_string()),
        v.get("expect_config_error"),
    ) {
        (Err(e), Some(want)) => return check_failure(&e, want),
        (Ok(_), Some(_)) => return Err("expected a config error, runtime was built".into()),
        (Err(e), None) => return Err(format!("runtime build failed: {e:?}")),
        (Ok(rt), None) => Arc::new(rt),
    };
    match (
        binding.startup(rt.clone()).await,
        v.get("expect_startup_error"),
    ) {
        (Err(e), Some(want)) => return check_failure(&e, want),
        (Ok(_), Some(_)) => return Err("expected a startup error".into()),
        (Err(e), None) => return Err(format!("startup failed: {e:?}")),
        (Ok(_), None) => {}
    }

    let mut last_allowed: Option<Arc<B::Allowed>> = None;
    for (i, step) in v["steps"].as_array().into_iter().flatten().enumerate() {
        let at = |e: String| format!("step {i}: {e}");
        if let Some(c) = step.get("control") {
            let method = c["method"].as_str().unwrap_or("POST");
            let path = c["path"]
                .as_str()
                .ok_or_else(|| at("control.path".into()))?;
            fx.control(method, path, c.get("body").cloned()).await;
        } else if let Some(r) = step.get("request") {
            let req = Arc::new(build_request(r).map_err(at)?);
            let n = step.get("concurrency").and_then(Value::as_u64).unwrap_or(1);
            let tasks: Vec<_> = (0..n.max(1))
                .map(|_| tokio::spawn(binding.check(rt.clone(), req.clone())))
                .collect();
            for t in tasks {
                let outcome = t.await.map_err(|e| at(e.to_string()))?;
                check_outcome(&outcome, &step["expect"]).map_err(at)?;
                if let Outcome::Allow { handle, .. } = outcome {
                    last_allowed = Some(Arc::new(handle));
                }
            }
        } else if let Some(f) = step.get("filter") {
            let allowed = last_allowed
                .clone()
                .ok_or_else(|| at("filter step without a previous allow".into()))?;
            let body = body_of(f).map_err(at)?;
            let out = binding.filter(&rt, &allowed, f["content_type"].as_str(), &body);
            check_filtered(out, &step["expect"]).map_err(at)?;
        } else if step.get("metadata").is_some() {
            let resp = binding.metadata(&rt).map_err(at)?;
            check_response(&resp, &step["expect"]).map_err(at)?;
        } else if let Some(c) = step.get("counters").and_then(Value::as_object) {
            let got = fx.counters().await;
            for (k, want) in c {
                if got.get(k) != Some(want) {
                    return Err(at(format!("counter {k}: {:?} != {want}", got.get(k))));
                }
            }
        } else if step.get("await_policy_refresh").is_some() {
            binding.wait_policy_refresh(rt.clone()).await.map_err(at)?;
        } else if let Some(s) = step.get("advance_clock").and_then(Value::as_f64) {
            binding.advance_clock(&rt, s).map_err(at)?;
        } else {
            return Err(at(format!("unknown step {step}")));
        }
    }
    Ok(())
}

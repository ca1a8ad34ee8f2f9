//! The conformance vector runner: the one implementation of vector semantics, shared by every
//! binding (the core API in `core/tests/conformance.rs`, the C ABI in
//! `ffi/tests/abi_conformance.rs`, and any binding with a driver program speaking the line
//! protocol of [`driver`], such as Node's `bindings/node/test/conformance-driver.mjs`).
//!
//! It implements `tests/conformance/README.md`: read and check each vector ([`vector`]: format
//! version, known keys only), start the fixture backend, reset it per vector, mint tokens,
//! substitute placeholders, build a runtime through the binding, run every step and compare the
//! binding's answers with the expectations byte for byte. A binding only translates: it
//! implements [`Binding`] and hands its answers back in the neutral types of this crate.
//! `AUTHSEC_VECTOR=<id prefix>` runs a subset. [`mutation_check`] proves a binding's run can fail.

pub mod audit;
pub mod driver;
pub mod vector;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authsec_fixture::Fixture;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{Map, Value};

use vector::{
    DecisionKind, ErrorExpect, Expect, FilterKind, PrincipalExpect, StepKind, Vector, WwwExpect,
};

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
    /// Decide with the oversized-body call (`Runtime::check_oversized`): the host stopped
    /// reading `body`, which that call does not take.
    pub oversized: bool,
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
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
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
        /// The core's `user_info` document (JSON bytes as the binding hands them to a tool),
        /// `None` when the binding did not give one.
        user_info: Option<Vec<u8>>,
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

/// What the streaming filter did with a handler's answer fed in chunks.
#[derive(Debug, Default)]
pub struct Streamed {
    /// Every byte the filter handed back to forward (before a refusal, if there was one).
    pub forwarded: Vec<u8>,
    /// Whether the host must drop the answer's Content-Encoding header.
    pub drops_content_encoding: bool,
    /// The answer the filter gave instead (a feed or finish refused).
    pub respond: Option<Resp>,
    /// A call itself failed.
    pub failed: Option<String>,
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
    /// Filter a handler's response through the streaming filter: create it for the allowed
    /// request with these headers, feed `chunks` in order (stopping at the first refusal), finish.
    fn filter_stream(
        &self,
        rt: &Self::Runtime,
        allowed: &Self::Allowed,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        chunks: &[&[u8]],
    ) -> Streamed;
    /// An answer the core gives a host that has no decision to write: `startup_failed` (startup
    /// failed) or `internal_error` (a call failed).
    fn canned(&self, which: &str) -> Result<Resp, String>;
    /// The RFC 9728 document response.
    fn metadata(&self, rt: &Self::Runtime) -> Result<Resp, String>;
    /// Move the manual clock forward.
    fn advance_clock(&self, rt: &Self::Runtime, seconds: f64) -> Result<(), String>;
    /// Wait for a running background policy refresh.
    fn wait_policy_refresh(&self, rt: Arc<Self::Runtime>)
        -> BoxFuture<'static, Result<(), String>>;
    /// The audit lines delivered to the binding's audit callback since the last call, in order,
    /// after flushing the audit queue (the callback is attached when the runtime is built).
    fn events(&self, rt: &Self::Runtime) -> Result<Vec<String>, String>;
    /// Whether every core decision of this binding is one runner check. A binding that sends
    /// requests of its own through the core (a proxy re-sending the allowed request for a
    /// filter step) says false: the runner then matches `expect.event` against the last
    /// decision events of each check and skips the counts (schema and secrets are checked
    /// alike).
    fn one_decision_per_check(&self) -> bool {
        true
    }

    /// Shown in the summary line; [`Binding::NAME`] unless the binding knows better (a driver
    /// names its program).
    fn name(&self) -> String {
        Self::NAME.to_string()
    }

    /// Whether the binding hands a tool the core's `user_info` document (`Outcome::Allow`'s
    /// `user_info`). Every in-process binding and driver does; a binding that cannot (the HTTP
    /// proxy, whose upstream sees identity headers only) says so, and `user_info` expectations
    /// are not checked for it.
    fn gives_user_info(&self) -> bool {
        true
    }

    /// Decide the same request `n` times at once (a `concurrency` step): every check is issued
    /// before any result is awaited. The default spawns `n` [`Binding::check`] tasks.
    fn check_many(
        &self,
        rt: Arc<Self::Runtime>,
        req: Arc<Req>,
        n: u32,
    ) -> BoxFuture<'static, Vec<Outcome<Self::Allowed>>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| tokio::spawn(self.check(rt.clone(), req.clone())))
            .collect();
        async move {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(
                    t.await
                        .unwrap_or_else(|e| Outcome::Failed(format!("check task: {e}"))),
                );
            }
            out
        }
        .boxed()
    }

    /// Release a runtime at the end of a vector (after its last step, also when a step failed).
    /// The default drops it; a driver is told to close it and must confirm.
    fn close(&self, rt: Arc<Self::Runtime>) -> Result<(), String> {
        drop(rt);
        Ok(())
    }
}

/// The vectors directory of this repository.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// The outcome of running a set of vectors.
#[derive(Debug, Default)]
pub struct Report {
    /// Vectors that passed.
    pub passed: usize,
    /// `"<id>: <why>"` for each vector that failed.
    pub failed: Vec<String>,
}

/// Run every vector (or the `AUTHSEC_VECTOR` subset) through `binding`; panics with the list of
/// failures if any vector fails.
pub async fn run_all<B: Binding>(binding: B) {
    run_all_shared(Arc::new(binding)).await
}

/// [`run_all`] for a binding the caller keeps (e.g. a driver to shut down afterwards).
pub async fn run_all_shared<B: Binding>(binding: Arc<B>) {
    let filter = std::env::var("AUTHSEC_VECTOR").unwrap_or_default();
    let name = binding.name();
    let report = run_dir(binding, &vectors_dir(), &filter).await;
    for f in &report.failed {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "conformance ({name}): {} passed, {} failed",
        report.passed,
        report.failed.len()
    );
    assert!(report.passed > 0, "no vector ran");
    assert!(
        report.failed.is_empty(),
        "{} vectors failed",
        report.failed.len()
    );
}

/// Run the vectors of `dir` whose id starts with `filter`. A file that is not a valid vector
/// (bad JSON, an unknown key, a wrong format version, an id that is not its file name) counts
/// as a failure.
pub async fn run_dir<B: Binding>(binding: Arc<B>, dir: &Path, filter: &str) -> Report {
    let mut files = Vec::new();
    for path in vector_files(dir) {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
        files.push((stem, text));
    }
    assert!(!files.is_empty(), "no vectors found in {}", dir.display());
    run_texts(binding, &files, filter).await
}

/// Run vectors given as `(file stem, JSON text)` pairs whose id starts with `filter`.
pub async fn run_texts<B: Binding>(
    binding: Arc<B>,
    files: &[(String, String)],
    filter: &str,
) -> Report {
    let fx = Fixture::start().await.expect("start fixture");
    let mut report = Report::default();
    for (stem, text) in files {
        if !stem.starts_with(filter) {
            continue;
        }
        match run_text(&binding, &fx, stem, text).await {
            Ok(()) => report.passed += 1,
            Err(e) => report.failed.push(format!("{stem}: {e}")),
        }
    }
    report
}

async fn run_text<B: Binding>(
    binding: &Arc<B>,
    fx: &Fixture,
    stem: &str,
    text: &str,
) -> Result<(), String> {
    let raw: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let v = Vector::parse(&raw).map_err(|e| format!("invalid vector: {e}"))?;
    if v.id != stem {
        return Err(format!("vector id {:?} must equal its file name", v.id));
    }
    run_vector(binding, fx, &raw).await
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The vectors [`mutation_check`] mutates: an in-band JSON-RPC answer, a rewritten SSE body and
/// the metadata document.
pub const MUTATION_CASES: [&str; 3] = [
    "jwt-expired-in-band-tool-error",
    "filter-sse-tools-list",
    "metadata-document",
];

/// Prove that a run through `binding` can fail: for each of [`MUTATION_CASES`], the vector as
/// written must pass, a copy with one byte of its first expected body changed must fail on that
/// body, and a copy with an unknown key in an expectation must fail naming the key. Panics
/// otherwise.
pub async fn mutation_check<B: Binding>(binding: B) {
    let binding = Arc::new(binding);
    for id in MUTATION_CASES {
        let path = vectors_dir().join(format!("{id}.json"));
        let text = std::fs::read_to_string(&path).expect("mutation case");
        let mut raw: Value = serde_json::from_str(&text).expect("mutation case JSON");
        let before = raw.to_string();
        assert!(mutate_expected_body(&mut raw), "{id}: no expected body");
        let after = raw.to_string();
        assert_eq!(before.len(), after.len(), "{id}: one byte changed");
        let differing = before
            .bytes()
            .zip(after.bytes())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 1, "{id}: exactly one byte differs");

        let files = [(id.to_string(), text), (id.to_string(), after)];
        let ok = run_texts(binding.clone(), &files[..1], "").await;
        assert_eq!(
            (ok.passed, ok.failed.len()),
            (1, 0),
            "{id} as written must pass ({}): {:?}",
            binding.name(),
            ok.failed
        );
        let bad = run_texts(binding.clone(), &files[1..], "").await;
        assert_eq!(
            (bad.passed, bad.failed.len()),
            (0, 1),
            "{id} with one expected byte changed must fail ({})",
            binding.name()
        );
        assert!(bad.failed[0].contains("body"), "{}", bad.failed[0]);

        // A typo in an expectation fails the run instead of weakening it.
        let mut typo: Value = serde_json::from_str(&files[0].1).expect("JSON");
        let expect = typo["steps"]
            .as_array_mut()
            .and_then(|s| s.iter_mut().find_map(|s| s.get_mut("expect")))
            .and_then(Value::as_object_mut)
            .expect("a step with expect");
        expect.insert("stauts".into(), Value::from(200));
        let typo = [(id.to_string(), typo.to_string())];
        let bad = run_texts(binding.clone(), &typo, "").await;
        assert_eq!((bad.passed, bad.failed.len()), (0, 1), "{id} with a typo");
        assert!(
            bad.failed[0].contains("unknown field `stauts`"),
            "{}",
            bad.failed[0]
        );
    }
    eprintln!(
        "mutation check ({}): {} mutated vectors and their typo copies failed, the originals passed",
        binding.name(),
        MUTATION_CASES.len()
    );
}

/// Change the last ASCII letter or digit of the first string leaf of the first expected body
/// (`body_json` or `body`) of the vector's steps.
fn mutate_expected_body(raw: &mut Value) -> bool {
    fn leaf(v: &mut Value) -> bool {
        match v {
            Value::String(s) => {
                let Some(i) = s.rfind(|c: char| c.is_ascii_alphanumeric()) else {
                    return false;
                };
                let c = if s.as_bytes()[i] == b'a' { "b" } else { "a" };
                s.replace_range(i..i + 1, c);
                true
            }
            Value::Array(a) => a.iter_mut().any(leaf),
            Value::Object(o) => o.values_mut().any(leaf),
            _ => false,
        }
    }
    let Some(steps) = raw.get_mut("steps").and_then(Value::as_array_mut) else {
        return false;
    };
    steps.iter_mut().any(|step| {
        let Some(e) = step.get_mut("expect") else {
            return false;
        };
        ["body_json", "body"]
            .iter()
            .any(|k| e.get_mut(*k).is_some_and(leaf))
    })
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

fn build_request(r: &vector::Request) -> Result<Req, String> {
    Ok(Req {
        method: r.method.clone().unwrap_or_else(|| "POST".into()),
        path: r.path.clone().unwrap_or_else(|| "/mcp".into()),
        headers: r.headers.clone(),
        body: r.body()?,
        oversized: r.oversized,
    })
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

fn check_response(resp: &Resp, e: &Expect) -> Result<(), String> {
    let body_text = String::from_utf8_lossy(&resp.body).to_string();
    if let Some(s) = e.status {
        if resp.status != s {
            return Err(format!(
                "status {} != expected {s}; body {body_text}",
                resp.status
            ));
        }
    }
    for (k, v) in e.headers.iter().flatten() {
        let got = resp.header(k);
        if got != Some(v.as_str()) {
            return Err(format!("header {k}: {got:?} != expected {v:?}"));
        }
    }
    let www = resp.header("www-authenticate");
    if e.no_www_authenticate == Some(true) && www.is_some() {
        return Err(format!("unexpected www-authenticate {www:?}"));
    }
    match &e.www_authenticate {
        Some(WwwExpect::Exact(exact)) if www != Some(exact.as_str()) => {
            return Err(format!(
                "www-authenticate {www:?}\n   != expected {exact:?}"
            ));
        }
        Some(WwwExpect::Params(params)) => check_challenge(www, params)?,
        _ => {}
    }
    if let Some(j) = &e.body_json {
        let want = serde_json::to_vec(j).map_err(|e| e.to_string())?;
        if resp.body != want {
            return Err(format!(
                "body\n   got      {body_text}\n   expected {}",
                String::from_utf8_lossy(&want)
            ));
        }
    }
    if let Some(b) = &e.body {
        if resp.body != b.as_bytes() {
            return Err(format!(
                "body\n   got      {body_text:?}\n   expected {b:?}"
            ));
        }
    }
    Ok(())
}

fn check_challenge(
    www: Option<&str>,
    params: &BTreeMap<String, Option<String>>,
) -> Result<(), String> {
    let h = www.ok_or("missing www-authenticate")?;
    let (scheme, got) = parse_challenge(h);
    for (k, v) in params {
        if k == "scheme" {
            if Some(&scheme) != v.as_ref() {
                return Err(format!("challenge scheme {scheme} != {v:?}"));
            }
            continue;
        }
        match (v, got.get(k)) {
            (None, None) => {}
            (None, Some(g)) => {
                return Err(format!("challenge param {k}={g:?} must be absent in {h}"))
            }
            (Some(want), Some(g)) if want == g => {}
            (want, g) => return Err(format!("challenge param {k}: {g:?} != {want:?} in {h}")),
        }
    }
    Ok(())
}

fn check_principal(got: &Value, want: &PrincipalExpect) -> Result<(), String> {
    let field = |k: &str, w: Option<Value>| match w {
        Some(w) if got.get(k) != Some(&w) => Err(format!("principal {k}: {:?} != {w}", got.get(k))),
        _ => Ok(()),
    };
    field("subject", want.subject.clone().map(Value::from))?;
    field("issuer", want.issuer.clone().map(Value::from))?;
    field("audience", want.audience.clone().map(Value::from))?;
    field("scopes", want.scopes.clone().map(Value::from))?;
    field("active", want.active.map(Value::from))?;
    for (ck, cv) in want.claims.iter().flatten() {
        if got["claims"].get(ck) != Some(cv) {
            return Err(format!(
                "principal claim {ck}: {:?} != {cv}",
                got["claims"].get(ck)
            ));
        }
    }
    Ok(())
}

fn check_outcome<A>(d: &Outcome<A>, e: &Expect, user_info: bool) -> Result<(), String> {
    let check_user_info = user_info;
    let want = e.decision.ok_or("expect.decision missing")?;
    match (want, d) {
        (DecisionKind::Respond, Outcome::Respond(r)) => check_response(r, e),
        (
            DecisionKind::Allow,
            Outcome::Allow {
                principal,
                filter_tools_list,
                user_info,
                ..
            },
        ) => {
            if let Some(p) = &e.principal {
                check_principal(principal, p)?;
            }
            if let Some(want) = e.user_info.as_ref().filter(|_| check_user_info) {
                let want = serde_json::to_string(want).map_err(|e| e.to_string())?;
                match user_info {
                    None => return Err("user_info: the binding gave none".into()),
                    Some(got) if got != want.as_bytes() => {
                        return Err(format!(
                            "user_info: {} != {want}",
                            String::from_utf8_lossy(got)
                        ))
                    }
                    Some(_) => {}
                }
            }
            match e.filter_tools_list {
                Some(f) if f != *filter_tools_list => {
                    Err(format!("filter_tools_list {filter_tools_list} != {f}"))
                }
                _ => Ok(()),
            }
        }
        (DecisionKind::PassThrough, Outcome::PassThrough) => Ok(()),
        (want, Outcome::Respond(r)) => Err(format!(
            "expected {want:?}, got respond {} {:?} {}",
            r.status,
            r.header("www-authenticate"),
            String::from_utf8_lossy(&r.body)
        )),
        (want, Outcome::Allow { principal, .. }) => {
            Err(format!("expected {want:?}, got allow {principal}"))
        }
        (want, Outcome::PassThrough) => Err(format!("expected {want:?}, got pass_through")),
        (_, Outcome::Failed(e)) => Err(format!("the call failed: {e}")),
    }
}

fn check_failure(err: &Failure, e: &ErrorExpect) -> Result<(), String> {
    if err.code != e.code {
        return Err(format!(
            "error code {} != {} ({})",
            err.code, e.code, err.message
        ));
    }
    if let Some(m) = &e.message {
        if &err.message != m {
            return Err(format!("error message {:?} != {m:?}", err.message));
        }
    }
    if let Some(m) = &e.message_contains {
        if !err.message.contains(m.as_str()) {
            return Err(format!("error message {:?} lacks {m:?}", err.message));
        }
    }
    Ok(())
}

fn check_filtered(out: Filtered, e: &Expect) -> Result<(), String> {
    match (e.result, out) {
        (Some(FilterKind::Unchanged), Filtered::Unchanged) => Ok(()),
        (Some(FilterKind::Rewritten), Filtered::Rewritten(b)) => {
            let n = b.len() as u64;
            let resp = Resp {
                status: 200,
                headers: vec![],
                body: b,
            };
            check_response(&resp, e)?;
            match e.content_length {
                Some(want) if want != n => Err(format!("content_length {n} != {want}")),
                _ => Ok(()),
            }
        }
        (Some(FilterKind::Respond), Filtered::Respond(r)) => check_response(&r, e),
        (want, got) => Err(format!("filter: expected {want:?}, got {got:?}")),
    }
}

/// Check a streamed result against a `filter` expectation (`unchanged`: the very bytes of the
/// handler; `rewritten`: the expected body; `respond`: the answer, after at most a prefix of
/// `forwarded_at_most`).
fn check_streamed(out: Streamed, input: &[u8], e: &Expect) -> Result<(), String> {
    if let Some(f) = out.failed {
        return Err(format!("the call failed: {f}"));
    }
    if let Some(want) = e.content_encoding_dropped {
        if want != out.drops_content_encoding {
            return Err(format!(
                "content_encoding_dropped {} != {want}",
                out.drops_content_encoding
            ));
        }
    }
    let forwarded_text = String::from_utf8_lossy(&out.forwarded).to_string();
    match (e.result, out.respond) {
        (Some(FilterKind::Unchanged), None)
            if out.forwarded == input && !out.drops_content_encoding =>
        {
            Ok(())
        }
        (Some(FilterKind::Rewritten), None) => {
            check_filtered(Filtered::Rewritten(out.forwarded), e)
        }
        (Some(FilterKind::Respond), Some(r)) => {
            // Chunking decides how much went out before the refusal; never more than this.
            let most = e.forwarded_at_most.as_deref().unwrap_or("");
            if !most.as_bytes().starts_with(&out.forwarded) {
                return Err(format!(
                    "forwarded before the refusal {forwarded_text:?}, not a prefix of {most:?}"
                ));
            }
            check_response(&r, e)
        }
        (want, Some(r)) => Err(format!(
            "stream: expected {want:?}, got respond {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )),
        (want, None) => Err(format!(
            "stream: expected {want:?}, forwarded {forwarded_text:?}"
        )),
    }
}

/// A `filter` step: the one-shot filter (when the answer has no Content-Encoding) and the
/// streaming filter under every chunking of the step.
fn run_filter_step<B: Binding>(
    binding: &B,
    rt: &B::Runtime,
    allowed: &B::Allowed,
    f: &vector::FilterInput,
    e: &Expect,
) -> Result<(), String> {
    let body = f.body()?;
    let ct = f.content_type.as_deref();
    let ce = f.content_encoding.as_deref();
    if ce.is_none() {
        check_filtered(binding.filter(rt, allowed, ct, &body), e)
            .map_err(|m| format!("one-shot: {m}"))?;
    }
    for sizes in f.chunkings(body.len())? {
        let mut chunks = Vec::with_capacity(sizes.len());
        let mut at = 0;
        for n in &sizes {
            chunks.push(&body[at..at + n]);
            at += n;
        }
        let out = binding.filter_stream(rt, allowed, ct, ce, &chunks);
        let label = if sizes.len() > 8 {
            format!("{} chunks", sizes.len())
        } else {
            format!("chunks {sizes:?}")
        };
        check_streamed(out, &body, e).map_err(|m| format!("stream ({label}): {m}"))?;
    }
    Ok(())
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
    let sub = substitute(raw, &fx.base_url, &tokens);
    let v = Vector::parse(&sub).map_err(|e| format!("after substitution: {e}"))?;
    fx.reset(
        sub.get("backend")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    )
    .await;

    let config = v.config.as_ref().map(Value::to_string).unwrap_or_default();
    let rt = match (binding.build(&config), &v.expect_config_error) {
        (Err(e), Some(want)) => return check_failure(&e, want),
        (Ok(rt), Some(_)) => {
            binding.close(Arc::new(rt))?;
            return Err("expected a config error, runtime was built".into());
        }
        (Err(e), None) => return Err(format!("runtime build failed: {e:?}")),
        (Ok(rt), None) => Arc::new(rt),
    };
    let audit = audit::Audit::new(tokens.values(), v.config.as_ref());
    let result = run_steps(binding, fx, &v, rt.clone(), audit).await;
    let closed = binding.close(rt);
    result.and(closed.map_err(|e| format!("close: {e}")))
}

async fn run_steps<B: Binding>(
    binding: &Arc<B>,
    fx: &Fixture,
    v: &Vector,
    rt: Arc<B::Runtime>,
    mut audit: audit::Audit,
) -> Result<(), String> {
    let started = binding.startup(rt.clone()).await;
    let startup_events = binding
        .events(&rt)
        .and_then(|lines| audit.take(lines))
        .map_err(|e| format!("startup: {e}"))?;
    if !startup_events.is_empty() {
        return Err(format!(
            "startup emitted decision events: {startup_events:?}"
        ));
    }
    match (started, &v.expect_startup_error) {
        (Err(e), Some(want)) => return check_failure(&e, want),
        (Ok(_), Some(_)) => return Err("expected a startup error".into()),
        (Err(e), None) => return Err(format!("startup failed: {e:?}")),
        (Ok(_), None) => {}
    }

    let mut last_allowed: Option<Arc<B::Allowed>> = None;
    for (i, step) in v.steps.iter().enumerate() {
        let at = |e: String| format!("step {i}: {e}");
        match step.kind().map_err(at)? {
            StepKind::Control(c) => {
                let method = c.method.as_deref().unwrap_or("POST");
                fx.control(method, &c.path, c.body.clone()).await;
            }
            StepKind::Request(r, n, expect) => {
                let req = Arc::new(build_request(r).map_err(at)?);
                let outcomes = binding.check_many(rt.clone(), req, n).await;
                let answers = outcomes.len();
                for outcome in outcomes {
                    check_outcome(&outcome, expect, binding.gives_user_info()).map_err(at)?;
                    if let Outcome::Allow { handle, .. } = outcome {
                        last_allowed = Some(Arc::new(handle));
                    }
                }
                if answers != n as usize {
                    return Err(at(format!("{answers} answers for {n} checks")));
                }
                let decisions = binding
                    .events(&rt)
                    .and_then(|lines| audit.take(lines))
                    .map_err(at)?;
                if binding.one_decision_per_check() {
                    audit::check_decisions(
                        &decisions,
                        n as usize,
                        expect.event.as_ref(),
                        expect.no_event == Some(true),
                    )
                    .map_err(at)?;
                } else if expect.no_event.is_none() {
                    let last = &decisions[decisions.len().saturating_sub(n as usize)..];
                    audit::check_decisions(last, n as usize, expect.event.as_ref(), false)
                        .map_err(at)?;
                }
            }
            StepKind::Filter(f, expect) => {
                let allowed = last_allowed
                    .clone()
                    .ok_or_else(|| at("filter step without a previous allow".into()))?;
                run_filter_step(&**binding, &rt, &allowed, f, expect).map_err(at)?;
            }
            StepKind::Canned(which, expect) => {
                let resp = binding.canned(which).map_err(at)?;
                check_response(&resp, expect).map_err(at)?;
            }
            StepKind::Metadata(expect) => {
                let resp = binding.metadata(&rt).map_err(at)?;
                check_response(&resp, expect).map_err(at)?;
            }
            StepKind::Counters(c) => {
                let got = fx.counters().await;
                for (k, want) in c {
                    if got.get(k) != Some(want) {
                        return Err(at(format!("counter {k}: {:?} != {want}", got.get(k))));
                    }
                }
            }
            StepKind::AwaitPolicyRefresh => {
                binding.wait_policy_refresh(rt.clone()).await.map_err(at)?
            }
            StepKind::AdvanceClock(s) => binding.advance_clock(&rt, s).map_err(at)?,
            StepKind::Events(want) => {
                let stray = binding
                    .events(&rt)
                    .and_then(|lines| audit.take(lines))
                    .map_err(at)?;
                if !stray.is_empty() && binding.one_decision_per_check() {
                    return Err(at(format!("decision events outside a check: {stray:?}")));
                }
                audit.check_lifecycle(want).map_err(at)?;
            }
        }
    }
    // Whatever arrived after the last step is checked for secrets too.
    let late = binding
        .events(&rt)
        .and_then(|lines| audit.take(lines))
        .map_err(|e| format!("after the last step: {e}"))?;
    if !late.is_empty() && binding.one_decision_per_check() {
        return Err(format!("decision events outside a check: {late:?}"));
    }
    Ok(())
}

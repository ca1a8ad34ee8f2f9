//! The conformance vectors through `authsec proxy`, over real HTTP: every request of a vector is
//! sent to a running proxy on 127.0.0.1 (the proxy the `authsec` binary serves, built from the
//! vector's config with a manual clock), and the outcome is what a client and the MCP server
//! behind it observe:
//!
//! - `respond`: the upstream was not called; the client got the core's answer (status, headers,
//!   body, byte for byte);
//! - `allow`: the upstream got the request with the caller's principal, and the identity
//!   headers it received say the same (subject, issuer, audience, scopes, every claim);
//!   `filter_tools_list` is observed, not asked: the upstream answers an SSE `tools/list` result
//!   with a tool no policy maps, and the answer is filtered exactly when that tool is gone;
//! - `pass_through`: the upstream got the request without a principal or identity headers;
//! - `filter` steps: the request is sent again and the upstream answers the vector's body (in
//!   the vector's chunks, with its Content-Encoding); what reaches the client is the filtered
//!   answer, or the core's refusal. A refusal after bytes went out cuts the stream: the client
//!   must see the cut, and the refusal is taken from the proxy's access record.
//!
//! The upstream is an in-process [`Upstream`], so chunk boundaries reach the filter exactly as
//! the vector gives them. `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec_cli::proxy::headers::decode_value;
use authsec_cli::proxy::upstream::{Body, BoxError, Forward, UpstreamError};
use authsec_cli::proxy::{IdentityHeaders, Proxy, ProxyOptions, Upstream};
use authsec_cli::telemetry::{AccessRecord, LogSink, Verdict};
use authsec_conformance::{Binding, Failure, Filtered, Outcome, Req, Resp, Streamed};
use authsec_core::{Config, ManualClock, Runtime};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};

/// Vectors this binding cannot run, and why.
const NOT_OVER_HTTP: [(&str, &str); 1] = [(
    "response-startup-failed-and-internal-error",
    "canned answers are written without a request (the proxy does not start when startup fails)",
)];

/// A tool name no vector's policy maps: its presence in a forwarded SSE list shows whether the
/// answer was filtered.
const PROBE: &str = "__authsec_probe_tool__";

/// The header that names each request this binding sends (the upstream and the access record
/// are matched by it); vectors use `x-request-id` themselves.
const SEQ: &str = "x-conformance-seq";

/// What the upstream answers next.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    content_encoding: Option<String>,
    chunks: Vec<Vec<u8>>,
}

fn probe_answer() -> Answer {
    let event = format!(
        "event: message\ndata: {}\n\n",
        json!({"jsonrpc": "2.0", "id": 0, "result": {"tools": [{"name": PROBE}]}})
    );
    Answer {
        status: 200,
        content_type: Some("text/event-stream".into()),
        content_encoding: None,
        chunks: vec![event.into_bytes()],
    }
}

/// What the upstream saw for one request id.
#[derive(Clone)]
struct Seen {
    principal: Option<Value>,
    identity: Value,
}

#[derive(Default)]
struct UpState {
    answers: Mutex<HashMap<String, Answer>>,
    seen: Mutex<HashMap<String, Seen>>,
}

#[derive(Clone, Default)]
struct TestUpstream(Arc<UpState>);

impl std::ops::Deref for TestUpstream {
    type Target = UpState;
    fn deref(&self) -> &UpState {
        &self.0
    }
}

/// The identity headers the upstream got, as JSON (absent headers absent).
fn identity_of(f: &Forward) -> Value {
    let get = |k: &str| {
        f.headers
            .get(format!("x-authsec-{k}"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let list = |k: &str| {
        get(k).map(|v| {
            Value::from(
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(decode_value)
                    .collect::<Vec<_>>(),
            )
        })
    };
    let mut o = serde_json::Map::new();
    if let Some(s) = get("subject") {
        o.insert("subject".into(), decode_value(&s).into());
    }
    if let Some(s) = get("issuer") {
        o.insert("issuer".into(), decode_value(&s).into());
    }
    if let Some(v) = list("audience") {
        o.insert("audience".into(), v);
    }
    if let Some(v) = list("scopes") {
        o.insert("scopes".into(), v);
    }
    if let Some(c) = get("claims") {
        let claims = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null);
        o.insert("claims".into(), claims);
    }
    Value::Object(o)
}

impl Upstream for TestUpstream {
    fn call(
        &self,
        req: Forward,
    ) -> BoxFuture<'static, Result<http::Response<Body>, UpstreamError>> {
        let id = req
            .headers
            .get(SEQ)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let seen = Seen {
            principal: req
                .principal
                .as_ref()
                .map(|p| serde_json::to_value(&**p).unwrap_or_default()),
            identity: identity_of(&req),
        };
        self.seen.lock().unwrap().insert(id.clone(), seen);
        let a = self
            .answers
            .lock()
            .unwrap()
            .remove(&id)
            .unwrap_or_else(probe_answer);
        Box::pin(async move {
            let chunks: Vec<Result<http_body::Frame<Bytes>, BoxError>> = a
                .chunks
                .into_iter()
                .map(|c| Ok(http_body::Frame::data(Bytes::from(c))))
                .collect();
            let mut r = http::Response::new(StreamBody::new(futures::stream::iter(chunks)).boxed());
            *r.status_mut() = http::StatusCode::from_u16(a.status).unwrap();
            if let Some(ct) = a.content_type {
                r.headers_mut().insert("content-type", ct.parse().unwrap());
            }
            if let Some(ce) = a.content_encoding {
                r.headers_mut()
                    .insert("content-encoding", ce.parse().unwrap());
            }
            Ok(r)
        })
    }
}

struct ProxyRt {
    clock: Arc<ManualClock>,
    rt: Runtime,
    base: String,
    upstream: TestUpstream,
    records: Arc<Mutex<HashMap<String, AccessRecord>>>,
    client: reqwest::Client,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// The core's audit lines (the runner checks one decision event per request).
    audit: Arc<Mutex<Vec<String>>>,
}

impl Drop for ProxyRt {
    fn drop(&mut self) {
        if let Some(s) = self.stop.lock().unwrap().take() {
            let _ = s.send(());
        }
    }
}

struct ProxyBinding {
    next: AtomicU64,
}

fn failure(e: authsec_core::Error) -> Failure {
    Failure {
        code: e.code().as_str().to_string(),
        message: e.message().to_string(),
    }
}

/// The client's view of one exchange.
struct Exchange {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body ended with an error (the proxy cut the stream).
    cut: bool,
}

impl Exchange {
    fn resp(&self) -> Resp {
        Resp {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

async fn send(rt: &ProxyRt, req: &Req, id: &str) -> Result<Exchange, String> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &req.headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("header name {k:?}: {e}"))?;
        let value = reqwest::header::HeaderValue::from_bytes(v.as_bytes())
            .map_err(|_| format!("header {k} cannot be sent over HTTP/1.1"))?;
        headers.append(name, value);
    }
    headers.insert(SEQ, id.parse().unwrap());
    let sent = rt
        .client
        .request(method, format!("{}{}", rt.base, req.path))
        .headers(headers)
        .body(req.body.clone())
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        // The proxy cut the answer before its head left hyper's write buffer (the upstream's
        // chunks are all ready at once here): the client got nothing at all.
        Err(e) if format!("{e:?}").contains("IncompleteMessage") => {
            return Ok(Exchange {
                status: 0,
                headers: Vec::new(),
                body: Vec::new(),
                cut: true,
            })
        }
        Err(e) => return Err(format!("HTTP request failed: {e:?}")),
    };
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut cut = false;
    let mut resp = resp;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            Ok(None) => break,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    Ok(Exchange {
        status,
        headers,
        body,
        cut,
    })
}

/// The access record of request `id` (written when its answer ended; waits for it).
async fn record(rt: &ProxyRt, id: &str) -> Result<AccessRecord, String> {
    for _ in 0..5000 {
        if let Some(r) = rt.records.lock().unwrap().remove(id) {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!("no access record for request {id}"))
}

impl ProxyBinding {
    fn id(&self) -> String {
        format!("c{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    async fn exchange(
        &self,
        rt: &ProxyRt,
        req: &Req,
        answer: Option<Answer>,
    ) -> Result<(String, Exchange, Option<Seen>, AccessRecord), String> {
        let id = self.id();
        if let Some(a) = answer {
            rt.upstream.answers.lock().unwrap().insert(id.clone(), a);
        }
        let ex = send(rt, req, &id).await?;
        let rec = record(rt, &id).await?;
        let seen = rt.upstream.seen.lock().unwrap().remove(&id);
        rt.upstream.answers.lock().unwrap().remove(&id);
        Ok((id, ex, seen, rec))
    }

    /// Resend an allowed request with the upstream answering `answer`; the client's view.
    fn resend(
        &self,
        rt: &ProxyRt,
        req: &Req,
        answer: Answer,
    ) -> Result<(Exchange, AccessRecord), String> {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let (_, ex, seen, rec) = self.exchange(rt, req, Some(answer)).await?;
                match seen {
                    Some(s) if s.principal.is_some() => Ok((ex, rec)),
                    _ => {
                        Err("the resent request did not reach the upstream as allowed".to_string())
                    }
                }
            })
        })
    }
}

impl Binding for ProxyBinding {
    const NAME: &'static str = "authsec proxy over HTTP";

    /// The upstream sees identity headers, not the core's user_info document.
    fn gives_user_info(&self) -> bool {
        false
    }
    type Runtime = ProxyRt;
    type Allowed = Req;

    fn build(&self, config_json: &str) -> Result<ProxyRt, Failure> {
        let clock = Arc::new(ManualClock::new());
        let rt = Config::from_json(config_json)
            .and_then(|c| {
                Runtime::builder(c)
                    .clock(clock.clone() as Arc<dyn authsec_core::Clock>)
                    .build()
            })
            .map_err(failure)?;
        let audit: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = audit.clone();
        rt.add_audit_sink(Arc::new(move |l: &str| {
            lines.lock().unwrap().push(l.to_string())
        }))
        .map_err(failure)?;
        let upstream = TestUpstream::default();
        let records: Arc<Mutex<HashMap<String, AccessRecord>>> = Arc::default();
        let sink = records.clone();
        let opts = ProxyOptions {
            identity: IdentityHeaders {
                claims: true,
                ..IdentityHeaders::default()
            },
            log: LogSink::Off,
            request_id_header: SEQ.into(),
            on_record: Some(Arc::new(move |r: &AccessRecord| {
                if let Some(id) = &r.request_id {
                    sink.lock().unwrap().insert(id.clone(), r.clone());
                }
            })),
            ..ProxyOptions::default()
        };
        let proxy = Proxy::new(rt.clone(), Arc::new(upstream.clone()), opts);
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            proxy
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        // No pooled connections: a cut answer closes its connection, and a pooled one could be
        // picked up by the next request before the close is seen.
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        Ok(ProxyRt {
            clock,
            rt,
            base: format!("http://{addr}"),
            upstream,
            records,
            client,
            stop: Mutex::new(Some(stop)),
            audit,
        })
    }

    fn startup(&self, rt: Arc<ProxyRt>) -> BoxFuture<'static, Result<(), Failure>> {
        async move { rt.rt.startup().await.map(drop).map_err(failure) }.boxed()
    }

    fn check(&self, rt: Arc<ProxyRt>, req: Arc<Req>) -> BoxFuture<'static, Outcome<Req>> {
        let id = self.id();
        async move {
            let ex = match send(&rt, &req, &id).await {
                Ok(e) => e,
                Err(e) => return Outcome::Failed(e),
            };
            let rec = match record(&rt, &id).await {
                Ok(r) => r,
                Err(e) => return Outcome::Failed(e),
            };
            let seen = rt.upstream.seen.lock().unwrap().remove(&id);
            let Some(seen) = seen else {
                if !matches!(rec.verdict, Verdict::Deny | Verdict::Metadata) {
                    return Outcome::Failed(format!(
                        "upstream not called, yet the record says {:?}",
                        rec.verdict
                    ));
                }
                return Outcome::Respond(ex.resp());
            };
            let Some(principal) = seen.principal else {
                if seen.identity != json!({}) {
                    return Outcome::Failed(format!(
                        "pass-through with identity headers {}",
                        seen.identity
                    ));
                }
                return Outcome::PassThrough;
            };
            // The identity headers must say what the principal says.
            for k in ["subject", "issuer", "audience", "scopes", "claims"] {
                if seen.identity.get(k) != principal.get(k) {
                    return Outcome::Failed(format!(
                        "identity header {k} {:?} != principal {:?}",
                        seen.identity.get(k),
                        principal.get(k)
                    ));
                }
            }
            if ex.cut {
                return Outcome::Failed("the probe answer was cut".into());
            }
            // The probe tool has no RBAC entry, so under `tool_rbac` with the open base policy the
            // filter keeps it although every answer is filtered: read the flag from the config.
            let filtered = ex.status != 200
                || !String::from_utf8_lossy(&ex.body).contains(PROBE)
                || rt.rt.config().tool_rbac.is_some();
            Outcome::Allow {
                principal,
                filter_tools_list: filtered,
                user_info: None,
                handle: (*req).clone(),
            }
        }
        .boxed()
    }

    fn filter(
        &self,
        rt: &ProxyRt,
        allowed: &Req,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Filtered {
        let answer = Answer {
            status: 200,
            content_type: content_type.map(str::to_string),
            content_encoding: None,
            chunks: vec![body.to_vec()],
        };
        match self.resend(rt, allowed, answer) {
            Err(e) => Filtered::Failed(e),
            Ok((ex, rec)) => {
                if ex.cut {
                    return Filtered::Failed("one-shot answer cut".into());
                }
                if rec.verdict == Verdict::Refused {
                    return Filtered::Respond(ex.resp());
                }
                if ex.body == body {
                    return Filtered::Unchanged;
                }
                match ex.header("content-length").map(|v| v.parse::<usize>()) {
                    Some(Ok(n)) if n == ex.body.len() => Filtered::Rewritten(ex.body),
                    None if content_type.is_some_and(|c| c.starts_with("text/event-stream")) => {
                        Filtered::Rewritten(ex.body)
                    }
                    other => Filtered::Failed(format!(
                        "content-length {other:?} for a rewritten body of {}",
                        ex.body.len()
                    )),
                }
            }
        }
    }

    fn filter_stream(
        &self,
        rt: &ProxyRt,
        allowed: &Req,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        chunks: &[&[u8]],
    ) -> Streamed {
        let answer = Answer {
            status: 200,
            content_type: content_type.map(str::to_string),
            content_encoding: content_encoding.map(str::to_string),
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
        };
        match self.resend(rt, allowed, answer) {
            Err(e) => Streamed {
                failed: Some(e),
                ..Streamed::default()
            },
            Ok((ex, rec)) => {
                let drops = content_encoding.is_some() && ex.header("content-encoding").is_none();
                if rec.verdict == Verdict::Refused {
                    return Streamed {
                        forwarded: Vec::new(),
                        drops_content_encoding: drops,
                        respond: Some(ex.resp()),
                        failed: None,
                    };
                }
                match (ex.cut, rec.cut) {
                    (true, Some(r)) => Streamed {
                        forwarded: ex.body,
                        drops_content_encoding: drops,
                        respond: Some(Resp {
                            status: r.status,
                            headers: r.headers,
                            body: r.body,
                        }),
                        failed: None,
                    },
                    (false, None) => Streamed {
                        forwarded: ex.body,
                        drops_content_encoding: drops,
                        respond: None,
                        failed: None,
                    },
                    (cut, r) => Streamed {
                        failed: Some(format!(
                            "client saw cut={cut}, record cut={:?}",
                            r.map(|r| r.status)
                        )),
                        ..Streamed::default()
                    },
                }
            }
        }
    }

    fn canned(&self, which: &str) -> Result<Resp, String> {
        Err(format!(
            "canned {which}: not a request the proxy can be sent"
        ))
    }

    fn metadata(&self, rt: &ProxyRt) -> Result<Resp, String> {
        let req = Req {
            method: "GET".into(),
            path: rt.rt.metadata_path().to_string(),
            headers: vec![],
            body: vec![],
            oversized: false,
        };
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let (_, ex, seen, _) = self.exchange(rt, &req, None).await?;
                if seen.is_some() {
                    return Err("the metadata request reached the upstream".to_string());
                }
                Ok(ex.resp())
            })
        })
    }

    fn advance_clock(&self, rt: &ProxyRt, seconds: f64) -> Result<(), String> {
        rt.clock.advance(Duration::from_secs_f64(seconds));
        Ok(())
    }

    /// Filter and metadata steps re-send requests through the proxy (and so the core).
    fn one_decision_per_check(&self) -> bool {
        false
    }

    fn events(&self, rt: &ProxyRt) -> Result<Vec<String>, String> {
        if !rt.rt.flush_audit(Duration::from_secs(30)) {
            return Err("audit flush timed out".into());
        }
        Ok(std::mem::take(&mut *rt.audit.lock().unwrap()))
    }

    fn wait_policy_refresh(&self, rt: Arc<ProxyRt>) -> BoxFuture<'static, Result<(), String>> {
        async move {
            rt.rt.wait_policy_refresh().await;
            Ok(())
        }
        .boxed()
    }
}

fn binding() -> ProxyBinding {
    ProxyBinding {
        next: AtomicU64::new(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_vectors_over_http() {
    let filter = std::env::var("AUTHSEC_VECTOR").unwrap_or_default();
    let dir = authsec_conformance::vectors_dir();
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
        if let Some((_, why)) = NOT_OVER_HTTP.iter().find(|(id, _)| *id == stem) {
            if stem.starts_with(&filter) {
                eprintln!("skip {stem}: {why}");
            }
            continue;
        }
        files.push((stem, std::fs::read_to_string(&p).unwrap()));
    }
    let report = authsec_conformance::run_texts(Arc::new(binding()), &files, &filter).await;
    for f in &report.failed {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "conformance (authsec proxy over HTTP): {} passed, {} failed, {} not runnable over HTTP",
        report.passed,
        report.failed.len(),
        NOT_OVER_HTTP.len()
    );
    assert!(report.passed > 0, "no vector ran");
    assert!(
        report.failed.is_empty(),
        "{} vectors failed",
        report.failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutation_check() {
    authsec_conformance::mutation_check(binding()).await;
}

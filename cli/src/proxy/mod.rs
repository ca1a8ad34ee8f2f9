//! `authsec proxy`: an HTTP front that puts the core in front of any MCP server.
//!
//! For each request: the core decides ([`authsec_core::Runtime::check`], on the whole body, read
//! up to `max_body_bytes`); a core answer (denial, challenge, metadata document) is written as the
//! core gave it; an allowed request goes to the [`Upstream`] with hop-by-hop fields removed, the
//! bearer token removed (unless `forward_token`) and the caller's identity in headers; the
//! upstream's answer streams back through the core's [`authsec_core::ResponseFilter`] (a JSON
//! `tools/list` answer held and filtered whole, SSE filtered event by event). Nothing reaches the
//! client before the filter has released it: the answer's headers wait for the filter's first
//! bytes, so a refusal before that is the core's whole answer (502/503); a refusal after it cuts
//! the stream (the client sees an incomplete answer; the log says what the core refused).
//!
//! `/healthz` and `/metrics` are served by the proxy itself.

pub mod headers;
pub mod stdio;
pub mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use authsec_core::{Decision, Principal, Request, Response, ResponseFilter, Runtime};
use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::StatusCode;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::telemetry::{reason_of, sanitize, AccessRecord, LogSink, Metrics, Verdict};
pub use headers::IdentityHeaders;
use upstream::{full, Body, BoxError, Forward};
pub use upstream::{HttpUpstream, Upstream};

/// A callback told about every finished request (tests, embedding hosts).
pub type RecordHook = Arc<dyn Fn(&AccessRecord) + Send + Sync>;

/// How the proxy forwards.
pub struct ProxyOptions {
    /// Identity headers for the upstream.
    pub identity: IdentityHeaders,
    /// Forward the caller's `Authorization` header (for an upstream that validates tokens
    /// itself). Off by default: see [`headers`].
    pub forward_token: bool,
    /// Access-log destination.
    pub log: LogSink,
    /// Called with every record after it is logged and counted.
    pub on_record: Option<RecordHook>,
    /// How long shutdown waits for requests in flight (SSE streams included).
    pub shutdown_grace: Duration,
    /// The request header whose value the access log records as `request_id` (lower case;
    /// default `x-request-id`).
    pub request_id_header: String,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            identity: IdentityHeaders::default(),
            forward_token: false,
            log: LogSink::Stderr,
            on_record: None,
            shutdown_grace: Duration::from_secs(10),
            request_id_header: "x-request-id".into(),
        }
    }
}

struct Inner {
    rt: Runtime,
    /// The identity header names of `opts.identity`, made once.
    identity_names: headers::IdentityNames,
    /// `opts.request_id_header` as a header name, made once (none if it cannot name one).
    request_id_name: Option<HeaderName>,
    upstream: Arc<dyn Upstream>,
    opts: ProxyOptions,
    metrics: Arc<Metrics>,
}

/// The proxy: cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

/// What the requests of one client connection share, made once per connection: the client's
/// address as its `X-Forwarded-For` value, and the identity headers of the last principal the
/// core allowed on it (a connection usually carries one caller's token, and the core hands out
/// the same cached principal for it; a principal never changes, so its headers are the same).
struct ConnCtx {
    peer_ip: Option<HeaderValue>,
    identity: std::sync::Mutex<Option<IdentityValues>>,
}

/// A principal and its identity headers ([`headers::IdentityHeaders::values`]).
type IdentityValues = (Arc<Principal>, Arc<[(HeaderName, HeaderValue)]>);

impl ConnCtx {
    fn new(peer: SocketAddr) -> ConnCtx {
        ConnCtx {
            peer_ip: HeaderValue::from_str(&peer.ip().to_string()).ok(),
            identity: std::sync::Mutex::new(None),
        }
    }
}

/// Per-request facts gathered for the access record.
struct Facts {
    start: Instant,
    request_id: Option<String>,
    method: String,
    path: String,
    decide: Duration,
    client: Option<String>,
    upstream_status: Option<u16>,
    upstream: Option<Duration>,
    filtered: bool,
}

impl Proxy {
    /// A proxy deciding with `rt` (started) and forwarding to `upstream`.
    pub fn new(rt: Runtime, upstream: Arc<dyn Upstream>, opts: ProxyOptions) -> Proxy {
        Proxy {
            inner: Arc::new(Inner {
                rt,
                identity_names: opts.identity.names(),
                request_id_name: HeaderName::from_bytes(opts.request_id_header.as_bytes()).ok(),
                upstream,
                opts,
                metrics: Arc::new(Metrics::default()),
            }),
        }
    }

    /// The counters served at `/metrics`.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    /// Serve connections from `listener` until `shutdown` completes, then stop accepting, let
    /// requests in flight finish for up to the shutdown grace, and stop the upstream.
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(_) => {
                            // Out of descriptors and the like: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let this = self.clone();
                    let conn = Arc::new(ConnCtx::new(peer));
                    let svc = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        let conn = conn.clone();
                        async move { Ok::<_, Infallible>(this.handle_on(req, &conn).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), svc);
                    let watched = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = watched.await;
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(self.inner.opts.shutdown_grace, graceful.shutdown()).await;
        self.inner.upstream.shutdown().await;
        self.inner.opts.log.flush();
        // The audit trail's last events (the core's `audit_log` sinks) before the process ends.
        self.inner.rt.flush_audit(Duration::from_secs(5));
    }

    /// Answer one request.
    pub async fn handle(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<Body> {
        self.handle_on(req, &ConnCtx::new(peer)).await
    }

    /// The identity headers of `p`, made once per principal on a connection.
    fn identity_values(
        &self,
        conn: &ConnCtx,
        p: &Arc<Principal>,
    ) -> Arc<[(HeaderName, HeaderValue)]> {
        let mut slot = conn.identity.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, values)) = slot.as_ref() {
            if Arc::ptr_eq(seen, p) {
                return values.clone();
            }
        }
        let values: Arc<[_]> = self
            .inner
            .opts
            .identity
            .values(&self.inner.identity_names, p)
            .into();
        *slot = Some((p.clone(), values.clone()));
        values
    }

    /// Answer one request of the connection `conn`.
    async fn handle_on(
        &self,
        req: http::Request<Incoming>,
        conn: &ConnCtx,
    ) -> http::Response<Body> {
        let start = Instant::now();
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_string();
        let mut facts = Facts {
            start,
            request_id: self
                .inner
                .request_id_name
                .as_ref()
                .and_then(|n| parts.headers.get(n))
                .map(|v| sanitize(&String::from_utf8_lossy(v.as_bytes()), 64)),
            method: sanitize(parts.method.as_str(), 16),
            path: sanitize(&path, 200),
            decide: Duration::ZERO,
            client: None,
            upstream_status: None,
            upstream: None,
            filtered: false,
        };
        if let Some(r) = self.admin(&parts.method, &path) {
            return self.finish(facts, r, Verdict::Admin, "ok".into());
        }

        // The core and the upstream must read the same headers: a value that is not UTF-8 is
        // replaced by its lossy text for both.
        let mut headers = parts.headers;
        for v in headers.values_mut() {
            if std::str::from_utf8(v.as_bytes()).is_err() {
                let lossy = String::from_utf8_lossy(v.as_bytes()).into_owned();
                *v = HeaderValue::from_bytes(lossy.as_bytes())
                    .unwrap_or(HeaderValue::from_static(""));
            }
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v.as_bytes()).unwrap_or("")))
            .collect();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_string());

        let limit = self.inner.rt.config().max_body_bytes;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body_bytes = if declared.is_some_and(|n| n > limit) {
            drain(body, limit).await;
            None
        } else {
            let cap = usize::try_from(limit).unwrap_or(usize::MAX);
            match Limited::new(body, cap).collect().await {
                Ok(c) => Some(c.to_bytes()),
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    None
                }
                Err(_) => {
                    // The client stopped sending; nothing was decided or forwarded.
                    return self.finish(
                        facts,
                        Response::internal_error(),
                        Verdict::Deny,
                        "client_body_error".into(),
                    );
                }
            }
        };
        let decided = Instant::now();
        // The core gets the query too: it ignores it except on the sign-in callback route,
        // which reads `code` and `state` from it.
        let request = Request {
            method: parts.method.as_str(),
            path: &path_and_query,
            headers: &pairs,
            body: body_bytes.as_deref().unwrap_or(&[]),
        };
        let decision = match &body_bytes {
            None => self.inner.rt.check_oversized(&request),
            Some(_) => self.inner.rt.check(&request).resolve().await,
        };
        facts.decide = decided.elapsed();
        drop(pairs);

        let principal = match decision {
            Decision::Respond(r) => {
                let verdict = if r.status == 200
                    && r.header("content-type") == Some("application/json")
                    && self.is_metadata(&path)
                {
                    Verdict::Metadata
                } else {
                    Verdict::Deny
                };
                let reason = if verdict == Verdict::Metadata {
                    "metadata".into()
                } else {
                    reason_of(&r)
                };
                return self.finish(facts, r, verdict, reason);
            }
            Decision::PassThrough => None,
            Decision::Allow(a) => Some(a),
            _ => {
                return self.finish(
                    facts,
                    Response::internal_error(),
                    Verdict::Deny,
                    "unknown_decision".into(),
                );
            }
        };

        // Forward.
        headers::strip_hop_by_hop(&mut headers);
        headers.remove(http::header::HOST);
        headers.remove(http::header::EXPECT);
        headers.remove(CONTENT_LENGTH);
        if !self.inner.opts.forward_token {
            headers.remove(http::header::AUTHORIZATION);
        }
        let id = &self.inner.opts.identity;
        id.strip(&mut headers);
        if let Some(a) = &principal {
            for (n, v) in self.identity_values(conn, &a.principal).iter() {
                headers.insert(n.clone(), v.clone());
            }
            facts.client = Some(sanitize(a.principal.client_id(), 64));
        }
        append_forwarded_for(&mut headers, conn.peer_ip.as_ref());
        headers::add_via(&mut headers);
        let fwd_method = parts.method.clone();
        let fwd = Forward {
            method: parts.method,
            path_and_query,
            headers,
            body: body_bytes.unwrap_or_default(),
            principal: principal.as_ref().map(|a| a.principal.clone()),
        };
        let sent = Instant::now();
        let answer = self.inner.upstream.call(fwd).await;
        facts.upstream = Some(sent.elapsed());
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let _ = writeln_stderr(&format!("authsec proxy: upstream: {}", e.0));
                return self.finish(
                    facts,
                    Response::upstream_unavailable(),
                    Verdict::UpstreamError,
                    "upstream_unavailable".into(),
                );
            }
        };
        facts.upstream_status = Some(answer.status().as_u16());
        let verdict = if principal.is_some() {
            Verdict::Allow
        } else {
            Verdict::PassThrough
        };
        let reason = if principal.is_some() {
            "ok"
        } else {
            "handshake_pass_through"
        };
        let (mut head, body) = answer.into_parts();
        // The server named a new session in its answer to this caller: the id is theirs from
        // now on, before any request carries it (docs/sessions.md).
        if let (Some(a), Some(id)) = (&principal, head.headers.get("mcp-session-id")) {
            if let Ok(id) = id.to_str() {
                self.inner.rt.bind_session(id, &a.principal);
            }
        }
        headers::strip_hop_by_hop(&mut head.headers);
        headers::add_via(&mut head.headers);

        let ct = head.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        // The core says whether this answer is read at all (usually not: a tools/call's JSON).
        let filter = principal.filter(|a| a.reads_response(ct)).map(|a| {
            let ce = head
                .headers
                .get(CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok());
            self.inner
                .rt
                .response_filter(a.principal.clone(), a.tools_list_request, ct, ce)
        });
        let Some(mut filter) = filter.filter(|f| !f.passthrough()) else {
            // A small answer that is not an event stream (a tools/call's JSON) is read whole
            // first, so its head and body leave in one write (else hyper writes the head and
            // the first bytes, then the end of a chunked body, separately).
            let body = if gathers(&fwd_method, head.status, &head.headers) {
                match gather(body, GATHER_MAX).await {
                    Ok(b) => b,
                    Err(e) => {
                        return self.upstream_body_failed(facts, &e);
                    }
                }
            } else {
                body
            };
            let resp = http::Response::from_parts(head, body);
            return self.track(facts, resp, verdict, reason.into());
        };
        facts.filtered = true;
        head.headers.remove(CONTENT_LENGTH);
        if filter.drops_content_encoding() {
            head.headers.remove(CONTENT_ENCODING);
        }
        // Hold the head until the filter releases its first bytes (or refuses).
        let mut body = body;
        let mut first = Vec::new();
        let mut ended = false;
        while first.is_empty() && !ended {
            let step = match body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(d) => filter.feed(&d),
                    Err(_) => continue, // trailers: dropped (the filtered body is a new body)
                },
                Some(Err(e)) => {
                    return self.upstream_body_failed(facts, &e);
                }
                None => {
                    ended = true;
                    filter.finish()
                }
            };
            match step {
                Ok(b) => first = b,
                Err(r) => {
                    let reason = reason_of(&r);
                    return self.finish(facts, r, Verdict::Refused, reason);
                }
            }
        }
        if ended || filter.holds_body() {
            head.headers
                .insert(CONTENT_LENGTH, HeaderValue::from(first.len()));
        }
        let rest = Filtered {
            first: (!first.is_empty()).then(|| Bytes::from(first)),
            body: if ended { None } else { Some(body) },
            filter,
        };
        let resp = http::Response::from_parts(head, rest.boxed());
        self.track(facts, resp, verdict, reason.into())
    }

    fn is_metadata(&self, path: &str) -> bool {
        let m = self.inner.rt.metadata_path();
        path.strip_prefix(m)
            .is_some_and(|r| r.is_empty() || r == "/")
    }

    fn admin(&self, method: &http::Method, path: &str) -> Option<Response> {
        if method != http::Method::GET && method != http::Method::HEAD {
            return None;
        }
        let mut r = Response::internal_error();
        match path {
            "/healthz" => {
                r.status = 200;
                r.body = br#"{"status":"ok"}"#.to_vec();
            }
            "/metrics" => {
                r.status = 200;
                r.headers = vec![(
                    "content-type".into(),
                    authsec_core::METRICS_CONTENT_TYPE.into(),
                )];
                // The proxy's own counters, then the core's (decisions, backend calls and their
                // latencies, cache hit rates, policy age, the audit queue).
                let mut text = self.inner.metrics.render();
                text.push_str(&self.inner.rt.metrics_text());
                r.body = text.into_bytes();
            }
            _ => return None,
        }
        Some(r)
    }

    /// The upstream's body failed before anything was sent: the cause is logged, the client
    /// gets the core's 502.
    fn upstream_body_failed(&self, facts: Facts, e: &BoxError) -> http::Response<Body> {
        let _ = writeln_stderr(&format!("authsec proxy: upstream body: {e}"));
        self.finish(
            facts,
            Response::upstream_unavailable(),
            Verdict::UpstreamError,
            "upstream_body_error".into(),
        )
    }

    /// Write a core answer (or an admin answer) and account for it.
    fn finish(
        &self,
        facts: Facts,
        r: Response,
        verdict: Verdict,
        reason: String,
    ) -> http::Response<Body> {
        let mut resp = http::Response::new(full(r.body));
        *resp.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (k, v) in r.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().append(n, v);
            }
        }
        self.track(facts, resp, verdict, reason)
    }

    /// Wrap the answer so its record is written when the last byte went out (or the client left).
    fn track(
        &self,
        facts: Facts,
        resp: http::Response<Body>,
        verdict: Verdict,
        reason: String,
    ) -> http::Response<Body> {
        let status = resp.status().as_u16();
        let record = AccessRecord {
            request_id: facts.request_id,
            method: facts.method,
            path: facts.path,
            status,
            verdict,
            reason,
            client: facts.client,
            upstream_status: facts.upstream_status,
            decide: facts.decide,
            upstream: facts.upstream,
            total: Duration::ZERO,
            bytes_out: 0,
            filtered: facts.filtered,
            cut: None,
        };
        let inner = self.inner.clone();
        resp.map(|b| {
            Tracked {
                body: b,
                record: Some(record),
                start: facts.start,
                inner,
            }
            .boxed()
        })
    }
}

/// Read and discard an oversized request body (at most `4 * limit`, 16 MiB at least, within 10 s)
/// before the 413 goes out: a client still sending when the connection closes would see a reset
/// instead of the answer (the "lingering close" of HTTP servers).
async fn drain(mut body: Incoming, limit: u64) {
    let cap = limit.saturating_mul(4).max(16 * 1024 * 1024);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = 0u64;
        while let Some(Ok(f)) = body.frame().await {
            seen += f.data_ref().map_or(0, |d| d.len() as u64);
            if seen > cap {
                break;
            }
        }
    })
    .await;
}

/// At most this much of an unfiltered answer is read before its head goes out (see [`gather`]).
const GATHER_MAX: usize = 64 * 1024;

/// Whether an unfiltered answer is gathered before it is sent: it has a body (not a `HEAD`
/// answer, a 1xx, 204 or 304), is not an event stream (SSE passes event by event as it comes)
/// and does not declare a length above [`GATHER_MAX`].
fn gathers(method: &http::Method, status: StatusCode, h: &HeaderMap) -> bool {
    if method == http::Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return false;
    }
    let sse = h
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });
    let too_long = h
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > GATHER_MAX as u64);
    !sse && !too_long
}

/// Read an answer's body until it ends or more than `max` bytes arrived (the way a buffering
/// reverse proxy reads a small upstream answer): a whole body becomes one of known length (one
/// write, with Content-Length); a longer one streams on after the bytes read so far (a trailers
/// frame met on the way is passed on after them).
async fn gather(mut body: Body, max: usize) -> Result<Body, BoxError> {
    let mut buf = bytes::BytesMut::new();
    loop {
        match body.frame().await {
            None => return Ok(full(buf.freeze())),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => {
                    buf.extend_from_slice(&d);
                    if buf.len() > max {
                        let first = futures::stream::iter([Ok(Frame::data(buf.freeze()))]);
                        return Ok(chain(first, body));
                    }
                }
                Err(trailers) => {
                    let first =
                        futures::stream::iter([Ok(Frame::data(buf.freeze())), Ok(trailers)]);
                    return Ok(chain(first, body));
                }
            },
        }
    }
}

/// `first`'s frames, then the rest of `body`.
fn chain(
    first: impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + Sync + 'static,
    body: Body,
) -> Body {
    let rest = futures::StreamExt::chain(first, http_body_util::BodyStream::new(body));
    http_body_util::StreamBody::new(rest).boxed()
}

fn writeln_stderr(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr().lock(), "{s}")
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Append the client's address (`ip`, the connection's, made once) to `X-Forwarded-For`.
fn append_forwarded_for(h: &mut HeaderMap, ip: Option<&HeaderValue>) {
    let Some(ip) = ip else { return };
    match h.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => {
            let value = format!("{prev}, {}", ip.to_str().unwrap_or_default());
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(X_FORWARDED_FOR, v);
            }
        }
        _ => {
            h.insert(X_FORWARDED_FOR, ip.clone());
        }
    }
}

/// The rest of a filtered answer: the first released bytes, then each upstream frame through
/// the filter, then the filter's last bytes. A refusal ends the body with an error (hyper cuts
/// the response) and is kept for the access record.
struct Filtered {
    first: Option<Bytes>,
    body: Option<Body>,
    filter: ResponseFilter,
}

/// The error a cut stream ends with (carries what the core refused).
#[derive(Debug)]
pub struct StreamCut(pub Response);

impl std::fmt::Display for StreamCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answer refused by the filter ({})", self.0.status)
    }
}

impl std::error::Error for StreamCut {}

impl http_body::Body for Filtered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(b) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        loop {
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            let step = match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(d) => this.filter.feed(&d),
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    this.filter.finish()
                }
            };
            match step {
                Ok(b) if b.is_empty() => continue,
                Ok(b) => return Poll::Ready(Some(Ok(Frame::data(Bytes::from(b))))),
                Err(r) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(Box::new(StreamCut(r)))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.body.is_none()
    }
}

/// A body that writes its access record when it ends or is dropped.
struct Tracked {
    body: Body,
    record: Option<AccessRecord>,
    start: Instant,
    inner: Arc<Inner>,
}

impl Tracked {
    fn emit(&mut self, cut: Option<Response>) {
        if let Some(mut r) = self.record.take() {
            r.total = self.start.elapsed();
            if cut.is_some() {
                r.cut = cut;
            }
            self.inner.opts.log.write(&r);
            self.inner.metrics.record(&r);
            if let Some(h) = &self.inner.opts.on_record {
                h(&r);
            }
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let (Some(d), Some(r)) = (f.data_ref(), this.record.as_mut()) {
                    r.bytes_out += d.len() as u64;
                }
                if this.body.is_end_stream() {
                    this.emit(None);
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                let cut = e.downcast_ref::<StreamCut>().map(|c| c.0.clone());
                this.emit(cut);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.emit(None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.emit(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    fn frames(parts: Vec<Frame<Bytes>>) -> Body {
        let s = futures::stream::iter(parts.into_iter().map(Ok::<_, BoxError>));
        http_body_util::StreamBody::new(s).boxed()
    }

    fn data(s: &str) -> Frame<Bytes> {
        Frame::data(Bytes::from(s.to_string()))
    }

    async fn all_frames(mut b: Body) -> Vec<Frame<Bytes>> {
        let mut out = Vec::new();
        while let Some(f) = b.frame().await {
            out.push(f.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_small_answer_is_gathered_into_one_body_of_known_length() {
        let b = gather(frames(vec![data("ab"), data("cd"), data("e")]), 8)
            .await
            .unwrap();
        assert_eq!(
            b.size_hint().exact(),
            Some(5),
            "hyper writes it with Content-Length"
        );
        let f = all_frames(b).await;
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].data_ref().unwrap().as_ref(), b"abcde");
    }

    #[tokio::test]
    async fn a_longer_answer_streams_on_after_what_was_read_and_keeps_its_trailers() {
        let b = gather(frames(vec![data("abcd"), data("efgh"), data("ij")]), 6)
            .await
            .unwrap();
        assert_eq!(b.size_hint().exact(), None);
        let f = all_frames(b).await;
        let got: Vec<&[u8]> = f.iter().map(|f| f.data_ref().unwrap().as_ref()).collect();
        assert_eq!(got, [&b"abcdefgh"[..], b"ij"]);

        let mut t = HeaderMap::new();
        t.insert("x-t", HeaderValue::from_static("1"));
        let b = gather(frames(vec![data("ab"), Frame::trailers(t), data("c")]), 8)
            .await
            .unwrap();
        let f = all_frames(b).await;
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].data_ref().unwrap().as_ref(), b"ab");
        assert_eq!(f[1].trailers_ref().unwrap()["x-t"], "1");
        assert_eq!(f[2].data_ref().unwrap().as_ref(), b"c");
    }

    #[tokio::test]
    async fn a_body_error_while_gathering_is_an_error() {
        let s = futures::stream::iter([
            Ok(data("ab")),
            Err::<Frame<Bytes>, BoxError>("reset".into()),
        ]);
        let b = http_body_util::StreamBody::new(s).boxed();
        assert!(gather(b, 8).await.is_err());
    }

    #[test]
    fn event_streams_empty_answers_and_long_ones_are_not_held() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        let post = http::Method::POST;
        let json = h(&[("content-type", "application/json")]);
        assert!(gathers(&post, StatusCode::OK, &json));
        assert!(gathers(&post, StatusCode::OK, &HeaderMap::new()));
        assert!(gathers(
            &post,
            StatusCode::OK,
            &h(&[("content-length", "65536")])
        ));
        assert!(!gathers(
            &post,
            StatusCode::OK,
            &h(&[("content-length", "65537")])
        ));
        assert!(!gathers(
            &post,
            StatusCode::OK,
            &h(&[("content-type", "Text/Event-Stream; charset=utf-8")])
        ));
        assert!(!gathers(&http::Method::HEAD, StatusCode::OK, &json));
        for s in [
            StatusCode::CONTINUE,
            StatusCode::NO_CONTENT,
            StatusCode::NOT_MODIFIED,
        ] {
            assert!(!gathers(&post, s, &json), "{s}");
        }
    }
}

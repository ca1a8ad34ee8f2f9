//! What the proxy tells its operator: one access-log line per request (method, path, status, the
//! decision and its reason, timings; never a token, a secret or a body) and the Prometheus text
//! exposition served at `/metrics` (requests by decision and reason, decision and upstream
//! latencies, upstream failures, cut streams, stdio sessions).
//!
//! The reason of a denial is read from the core's own answer (`reason`, else `error`, of the JSON
//! body or of the in-band `_meta.authsec` / `error.data.authsec` object), so the log says what
//! the client was told, in the core's words.
//!
//! These counters are the proxy's own (what only the proxy sees: upstream latencies, refused
//! answers, cut streams, stdio children); `/metrics` serves them followed by the core's
//! (`Runtime::metrics_text`: decisions, backend calls and latencies, cache hit rates).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Allowed and forwarded with the caller's identity.
    Allow,
    /// MCP handshake with an invalid token: forwarded without an identity.
    PassThrough,
    /// Refused by the core (401, 403, 413, 400, 503, in-band denials).
    Deny,
    /// The RFC 9728 document, answered by the core.
    Metadata,
    /// Allowed, but the upstream's answer was refused by the core's filter (502, 503).
    Refused,
    /// Allowed, but the upstream could not be reached or failed.
    UpstreamError,
    /// `/healthz` or `/metrics`.
    Admin,
}

impl Verdict {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::PassThrough => "pass_through",
            Verdict::Deny => "deny",
            Verdict::Metadata => "metadata",
            Verdict::Refused => "refused_answer",
            Verdict::UpstreamError => "upstream_error",
            Verdict::Admin => "admin",
        }
    }
}

/// One finished request, as logged and counted.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// The client's `x-request-id`, sanitized (printable ASCII, at most 64 characters).
    pub request_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path without the query string, sanitized.
    pub path: String,
    /// Status sent to the client.
    pub status: u16,
    /// What happened.
    pub verdict: Verdict,
    /// The reason in the core's words (`ok` for an allow).
    pub reason: String,
    /// The caller's client id (allowed requests only), sanitized.
    pub client: Option<String>,
    /// Status the upstream answered, if it was called.
    pub upstream_status: Option<u16>,
    /// Time the core took to decide.
    pub decide: Duration,
    /// Time until the upstream's headers arrived.
    pub upstream: Option<Duration>,
    /// Whole request, until the last byte went out.
    pub total: Duration,
    /// Bytes of the answer sent to the client.
    pub bytes_out: u64,
    /// The answer went through the core's response filter (the decision's `reads_response`
    /// said the core reads it: a `tools/list` answer, any SSE stream under a policy).
    pub filtered: bool,
    /// The core's refusal of an answer whose first bytes had already gone out: the stream was
    /// cut (the client sees an incomplete answer); this is what the core would have answered.
    pub cut: Option<authsec_core::Response>,
}

/// Keep printable ASCII (no quotes or backslashes), at most `max` characters.
pub fn sanitize(s: &str, max: usize) -> String {
    let kept = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
    // The usual case (a plain method, path or id): nothing to drop, one copy.
    if s.len() <= max && s.bytes().all(|b| kept(b as char)) {
        return s.to_owned();
    }
    s.chars().filter(|c| kept(*c)).take(max).collect()
}

impl AccessRecord {
    /// The log line: `key=value` pairs, values quoted.
    pub fn line(&self) -> String {
        let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1000.0);
        let mut s = format!(
            "authsec access method={} path=\"{}\" status={} decision={} reason=\"{}\"",
            self.method,
            self.path,
            self.status,
            self.verdict.as_str(),
            self.reason
        );
        if let Some(c) = &self.client {
            s.push_str(&format!(" client=\"{c}\""));
        }
        if let Some(u) = self.upstream_status {
            s.push_str(&format!(" upstream_status={u}"));
        }
        s.push_str(&format!(" decide_ms={}", ms(self.decide)));
        if let Some(u) = self.upstream {
            s.push_str(&format!(" upstream_ms={}", ms(u)));
        }
        s.push_str(&format!(
            " total_ms={} bytes={}",
            ms(self.total),
            self.bytes_out
        ));
        if self.filtered {
            s.push_str(" filtered=true");
        }
        if let Some(c) = &self.cut {
            s.push_str(&format!(" stream_cut={}", c.status));
        }
        if let Some(id) = &self.request_id {
            s.push_str(&format!(" request_id=\"{id}\""));
        }
        s
    }
}

/// The reason a core answer gives: `reason`, else `error`, of the JSON body or of the in-band
/// authsec object (the first element of a batch); `status_<n>` when the body says none.
pub fn reason_of(resp: &authsec_core::Response) -> String {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let first = match &v {
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    let candidates = [
        &first,
        &first["result"]["_meta"]["authsec"],
        &first["error"]["data"]["authsec"],
    ];
    for c in candidates {
        for k in ["reason", "error"] {
            if let Some(r) = c.get(k).and_then(Value::as_str) {
                return sanitize(r, 64);
            }
        }
    }
    if first["error"]["code"] == -32020 {
        return "header_mismatch".into();
    }
    format!("status_{}", resp.status)
}

const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += s;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}\n",
                self.counts[i]
            ));
        }
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}\n",
            self.count
        ));
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        out.push_str(&format!("{name}_sum{braces} {}\n", self.sum));
        out.push_str(&format!("{name}_count{braces} {}\n", self.count));
    }
}

#[derive(Default)]
struct State {
    /// By decision, then reason (looked up by `&str`: counting allocates only a new reason).
    requests: BTreeMap<Verdict, BTreeMap<String, u64>>,
    decide: Histogram,
    upstream: Histogram,
    cut: u64,
    sessions_started: u64,
    sessions_open: i64,
}

/// The proxy's counters; [`Metrics::render`] is the Prometheus text format (version 0.0.4).
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Count a finished request.
    pub fn record(&self, r: &AccessRecord) {
        self.with(|s| {
            let by_reason = s.requests.entry(r.verdict).or_default();
            match by_reason.get_mut(r.reason.as_str()) {
                Some(n) => *n += 1,
                None => {
                    by_reason.insert(r.reason.clone(), 1);
                }
            }
            if r.verdict != Verdict::Admin {
                s.decide.observe(r.decide);
            }
            if let Some(u) = r.upstream {
                s.upstream.observe(u);
            }
            if r.cut.is_some() {
                s.cut += 1;
            }
        })
    }

    /// A stdio child was started (+1) or ended (-1).
    pub fn session(&self, delta: i64) {
        self.with(|s| {
            if delta > 0 {
                s.sessions_started += delta as u64;
            }
            s.sessions_open += delta;
        })
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.with(|s| {
            let mut out = String::new();
            out.push_str("# HELP authsec_proxy_requests_total Requests by decision and reason.\n");
            out.push_str("# TYPE authsec_proxy_requests_total counter\n");
            for (v, by_reason) in &s.requests {
                for (reason, n) in by_reason {
                    out.push_str(&format!(
                        "authsec_proxy_requests_total{{decision=\"{}\",reason=\"{}\"}} {n}\n",
                        v.as_str(),
                        reason
                    ));
                }
            }
            out.push_str("# HELP authsec_proxy_decision_seconds Time the core took to decide a request (JWKS fetches and introspection included).\n");
            out.push_str("# TYPE authsec_proxy_decision_seconds histogram\n");
            s.decide.render(&mut out, "authsec_proxy_decision_seconds", "");
            out.push_str("# HELP authsec_proxy_upstream_seconds Time until the upstream's answer headers arrived.\n");
            out.push_str("# TYPE authsec_proxy_upstream_seconds histogram\n");
            s.upstream.render(&mut out, "authsec_proxy_upstream_seconds", "");
            out.push_str("# HELP authsec_proxy_streams_cut_total Answers cut after their first bytes because the core refused the rest.\n");
            out.push_str("# TYPE authsec_proxy_streams_cut_total counter\n");
            out.push_str(&format!("authsec_proxy_streams_cut_total {}\n", s.cut));
            out.push_str("# HELP authsec_proxy_stdio_sessions_total stdio server processes started.\n");
            out.push_str("# TYPE authsec_proxy_stdio_sessions_total counter\n");
            out.push_str(&format!("authsec_proxy_stdio_sessions_total {}\n", s.sessions_started));
            out.push_str("# HELP authsec_proxy_stdio_sessions_open stdio server processes running.\n");
            out.push_str("# TYPE authsec_proxy_stdio_sessions_open gauge\n");
            out.push_str(&format!("authsec_proxy_stdio_sessions_open {}\n", s.sessions_open));
            out
        })
    }
}

/// Where access-log lines go.
pub enum LogSink {
    /// Standard error, buffered: lines are appended to a buffer that goes out in one write when
    /// it holds 16 KiB, every 100 ms (a thread of its own), and on [`LogSink::flush`], so a
    /// request does not pay a write of its own.
    Stderr,
    /// Nowhere.
    Off,
}

/// The access log's buffer for standard error.
static STDERR_LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Buffered lines go out at this size without waiting for the flusher.
const STDERR_FLUSH_AT: usize = 16 * 1024;

fn flush_stderr_lines() {
    let mut buf = STDERR_LINES.lock().unwrap_or_else(|p| p.into_inner());
    if !buf.is_empty() {
        let _ = std::io::stderr().lock().write_all(&buf);
        buf.clear();
    }
}

impl LogSink {
    /// Write one record.
    pub fn write(&self, r: &AccessRecord) {
        if let LogSink::Stderr = self {
            static FLUSHER: std::sync::Once = std::sync::Once::new();
            FLUSHER.call_once(|| {
                let _ = std::thread::Builder::new()
                    .name("authsec-access-log".into())
                    .spawn(|| loop {
                        std::thread::sleep(Duration::from_millis(100));
                        flush_stderr_lines();
                    });
            });
            let line = r.line();
            let mut buf = STDERR_LINES.lock().unwrap_or_else(|p| p.into_inner());
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            if buf.len() >= STDERR_FLUSH_AT {
                let _ = std::io::stderr().lock().write_all(&buf);
                buf.clear();
            }
        }
    }

    /// Write out whatever is buffered (the proxy calls it when it stops).
    pub fn flush(&self) {
        if let LogSink::Stderr = self {
            flush_stderr_lines();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> authsec_core::Response {
        let mut r = authsec_core::Response::internal_error();
        r.status = status;
        r.body = body.as_bytes().to_vec();
        r
    }

    #[test]
    fn reasons_come_from_the_core_answer() {
        assert_eq!(
            reason_of(&resp(
                401,
                r#"{"error":"invalid_token","error_description":"x","reason":"token_expired"}"#
            )),
            "token_expired"
        );
        assert_eq!(
            reason_of(&resp(
                200,
                r#"{"jsonrpc":"2.0","id":1,"result":{"isError":true,"_meta":{"authsec":{"error":"insufficient_scope"}}}}"#
            )),
            "insufficient_scope"
        );
        assert_eq!(
            reason_of(&resp(
                200,
                r#"[{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"data":{"authsec":{"error":"invalid_audience"}}}}]"#
            )),
            "invalid_audience"
        );
        assert_eq!(reason_of(&resp(200, r#"{"resource":"x"}"#)), "status_200");
        assert_eq!(reason_of(&resp(413, "not json")), "status_413");
        assert_eq!(
            reason_of(&resp(401, r#"{"error":"in\"valid\n tok"}"#)),
            "invalidtok"
        );
    }

    #[test]
    fn line_and_metrics() {
        let r = AccessRecord {
            request_id: Some("abc".into()),
            method: "POST".into(),
            path: "/mcp".into(),
            status: 401,
            verdict: Verdict::Deny,
            reason: "no_token".into(),
            client: None,
            upstream_status: None,
            decide: Duration::from_micros(20),
            upstream: None,
            total: Duration::from_micros(50),
            bytes_out: 10,
            filtered: false,
            cut: None,
        };
        let l = r.line();
        assert!(l.starts_with("authsec access method=POST path=\"/mcp\" status=401 decision=deny reason=\"no_token\" decide_ms=0.020"), "{l}");
        let m = Metrics::default();
        m.record(&r);
        m.record(&r);
        let t = m.render();
        assert!(
            t.contains("authsec_proxy_requests_total{decision=\"deny\",reason=\"no_token\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("authsec_proxy_decision_seconds_bucket{le=\"0.0001\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("authsec_proxy_decision_seconds_count 2\n"),
            "{t}"
        );
        assert!(
            t.contains("authsec_proxy_upstream_seconds_count 0\n"),
            "{t}"
        );
    }
}

//! `authsec proxy --stdio -- <command>`: a stdio MCP server served as Streamable HTTP, behind the
//! same protection as an HTTP upstream (this module only plays the MCP server's transport; the
//! core has decided before a request gets here, and filters what leaves).
//!
//! Sessions (2025-06-18 and 2025-11-25 clients): an `initialize` without `Mcp-Session-Id` starts
//! one child process and a new random session id; later requests name it; `DELETE` ends it; a
//! child that exits ends its session (`404` afterwards, so the client re-initializes). A session
//! belongs to the caller that first authenticated on it (issuer and subject): a request from
//! anyone else gets `404` as for an unknown session, so a leaked session id does not hand over
//! a child that holds another user's state.
//!
//! Stateless clients (2026-07-28: no `initialize`, no sessions): each request gets a child of its
//! own, which the bridge initializes itself (protocol 2025-11-25, the newest a stdio server is
//! likely to speak), gives the request, and stops when the answer is complete. A child per request
//! costs a process start, but a stdio server has no notion of callers, so sharing one between
//! callers' requests would share whatever it keeps in memory; isolation wins.
//!
//! Answers: `text/event-stream` when the client accepts it (each message one SSE event, server
//! requests and notifications sent during the call included), else one JSON body. Messages the
//! child sends outside any call go to the session's `GET` stream when one is open.
//!
//! The child's environment is the proxy's minus the configuration's variables (the `AUTHSEC_`
//! prefix: the introspection secret must not reach the MCP server); its stderr is the proxy's.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authsec_core::Principal;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::upstream::{full, Body, BoxError, Forward, Upstream, UpstreamError};

/// Longest line a child may write (one JSON-RPC message).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// The protocol version the bridge initializes stateless children with.
const BRIDGE_PROTOCOL: &str = "2025-11-25";

type Sink = mpsc::UnboundedSender<Value>;
/// Session id -> session.
type Sessions = Arc<Mutex<HashMap<String, Arc<Session>>>>;
/// Told +1 / -1 as children start and end.
type SessionHook = Arc<dyn Fn(i64) + Send + Sync>;

struct Session {
    stdin: tokio::sync::Mutex<ChildStdin>,
    /// JSON-RPC id (as JSON text) -> where its answer goes.
    pending: Mutex<HashMap<String, Sink>>,
    /// Streams open for messages that answer no call: newest last.
    listeners: Mutex<Vec<Sink>>,
    owner: Mutex<Option<(String, String)>>,
    child: Mutex<Option<Child>>,
    alive: std::sync::atomic::AtomicBool,
    /// Last time a request named this session.
    last_used: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Nothing in flight and no open stream, and unused since `before`.
    fn idle_since(&self, before: Instant) -> bool {
        let quiet = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
            && {
                let mut ls = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
                ls.retain(|l| !l.is_closed());
                ls.is_empty()
            };
        quiet && *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) <= before
    }

    fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
        if let Some(mut c) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = c.start_kill();
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn route(&self, msg: Value) {
        let is_answer = msg.get("method").is_none()
            && (msg.get("result").is_some() || msg.get("error").is_some());
        if is_answer {
            let key = msg.get("id").map(Value::to_string).unwrap_or_default();
            let sink = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            if let Some(s) = sink {
                let _ = s.send(msg);
            }
            return;
        }
        // A notification or a server request: to the newest open call stream, else a GET stream.
        let mut ls = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        ls.retain(|s| !s.is_closed());
        if let Some(s) = ls.last() {
            let _ = s.send(msg);
        }
    }

    async fn write(&self, line: &[u8]) -> Result<(), UpstreamError> {
        let mut w = self.stdin.lock().await;
        let r = async {
            w.write_all(line).await?;
            w.write_all(b"\n").await?;
            w.flush().await
        }
        .await;
        r.map_err(|e| UpstreamError(format!("stdio server input: {e}")))
    }
}

/// Stops a stateless request's child when its answer is complete or abandoned (the client
/// went away mid-answer): without it the child would wait on its stdin for ever.
struct KillOnDrop(Option<Arc<Session>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.kill();
        }
    }
}

/// The stdio bridge.
pub struct StdioUpstream {
    command: Vec<String>,
    env_prefix: String,
    timeout: Duration,
    sessions: Sessions,
    max_sessions: usize,
    max_per_caller: usize,
    idle_timeout: Duration,
    reaper: std::sync::Once,
    counter: AtomicU64,
    on_session: Mutex<Option<SessionHook>>,
}

/// Stop and forget the sessions idle since `before` (see [`Session::idle_since`]).
fn reap(sessions: &Sessions, before: Instant) -> usize {
    let idle: Vec<Arc<Session>> = {
        let mut map = sessions.lock().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<String> = map
            .iter()
            .filter(|(_, s)| s.idle_since(before))
            .map(|(k, _)| k.clone())
            .collect();
        ids.iter().filter_map(|k| map.remove(k)).collect()
    };
    for s in &idle {
        s.kill();
    }
    idle.len()
}

fn session_id() -> String {
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // No randomness: refuse to make guessable ids (the caller answers 503).
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A JSON-RPC error answer of the bridge (the MCP server's transport errors).
fn rpc_error(status: StatusCode, code: i64, message: &str) -> http::Response<Body> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    let mut r = http::Response::new(full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl StdioUpstream {
    /// Run `command` (program and arguments) per session; `timeout` bounds the wait for a call's
    /// answers.
    pub fn new(command: Vec<String>, timeout: Duration) -> StdioUpstream {
        StdioUpstream {
            command,
            env_prefix: authsec_core::DEFAULT_PREFIX.to_string(),
            timeout,
            sessions: Arc::new(Mutex::new(HashMap::new())),
            max_sessions: 256,
            max_per_caller: 16,
            idle_timeout: Duration::from_secs(1800),
            reaper: std::sync::Once::new(),
            counter: AtomicU64::new(0),
            on_session: Mutex::new(None),
        }
    }

    /// At most this many sessions per caller (issuer and subject; default 16).
    pub fn max_per_caller(mut self, n: usize) -> Self {
        self.max_per_caller = n;
        self
    }

    /// Stop a session nobody used for this long, when nothing is in flight and no stream is
    /// open on it (default 30 minutes; checked every minute).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Stop the sessions idle since `before` now; returns how many (the minute-by-minute reaper
    /// calls this with now minus the idle timeout).
    pub fn reap_idle_since(&self, before: Instant) -> usize {
        reap(&self.sessions, before)
    }

    fn start_reaper(&self) {
        let weak = Arc::downgrade(&self.sessions);
        let idle = self.idle_timeout;
        self.reaper.call_once(|| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let Some(sessions) = weak.upgrade() else {
                        return;
                    };
                    if let Some(before) = Instant::now().checked_sub(idle) {
                        reap(&sessions, before);
                    }
                }
            });
        });
    }

    /// Variables with this prefix are not passed to the child (default `AUTHSEC_`).
    pub fn env_prefix(mut self, prefix: &str) -> Self {
        self.env_prefix = prefix.to_string();
        self
    }

    /// At most this many sessions at once (default 256); more `initialize` calls get 503.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }

    /// Told +1 when a child starts and -1 when it ends (the proxy's metrics).
    pub fn on_session(&self, f: Arc<dyn Fn(i64) + Send + Sync>) {
        *self.on_session.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn spawn(&self, sessions: Option<(String, Sessions)>) -> Result<Arc<Session>, UpstreamError> {
        let (prog, args) = self
            .command
            .split_first()
            .ok_or_else(|| UpstreamError("no stdio command".into()))?;
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with(&self.env_prefix) {
                cmd.env_remove(&k);
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| UpstreamError(format!("cannot start {prog}: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| UpstreamError("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| UpstreamError("no stdout".into()))?;
        let s = Arc::new(Session {
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(HashMap::new()),
            listeners: Mutex::new(Vec::new()),
            owner: Mutex::new(None),
            child: Mutex::new(Some(child)),
            alive: std::sync::atomic::AtomicBool::new(true),
            last_used: Mutex::new(Instant::now()),
        });
        self.counter.fetch_add(1, Ordering::Relaxed);
        let hook = self
            .on_session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(h) = &hook {
            h(1);
        }
        let reader = s.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match (&mut r)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut line)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.len() > MAX_LINE => break,
                    Ok(_) => {}
                }
                let text = line.trim_ascii();
                if text.is_empty() {
                    continue;
                }
                // A line that is not JSON is not MCP (a stray print): skipped.
                if let Ok(v) = serde_json::from_slice::<Value>(text) {
                    match v {
                        Value::Array(items) => items.into_iter().for_each(|m| reader.route(m)),
                        m => reader.route(m),
                    }
                }
            }
            reader.kill();
            if let Some((id, map)) = sessions {
                map.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            }
            if let Some(h) = hook {
                h(-1);
            }
        });
        Ok(s)
    }

    /// Initialize a fresh child for one stateless request.
    async fn initialize_for_bridge(&self, s: &Session) -> Result<(), UpstreamError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let id = "\"authsec-bridge-init\"".to_string();
        s.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let init = serde_json::json!({"jsonrpc": "2.0", "id": "authsec-bridge-init", "method": "initialize",
            "params": {"protocolVersion": BRIDGE_PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "authsec-proxy", "version": env!("CARGO_PKG_VERSION")}}});
        s.write(init.to_string().as_bytes()).await?;
        let answer = tokio::time::timeout(self.timeout, rx.recv())
            .await
            .map_err(|_| UpstreamError("stdio server did not answer initialize".into()))?
            .ok_or_else(|| UpstreamError("stdio server exited during initialize".into()))?;
        if answer.get("error").is_some() {
            return Err(UpstreamError("stdio server refused initialize".into()));
        }
        s.write(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await
    }

    async fn post(&self, req: Forward) -> Result<http::Response<Body>, UpstreamError> {
        let parsed: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return Ok(rpc_error(StatusCode::BAD_REQUEST, -32700, "Parse error")),
        };
        let messages: Vec<&Value> = match &parsed {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let has_init = messages
            .iter()
            .any(|m| m.get("method") == Some(&Value::from("initialize")));
        let sid = req
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let owner = req
            .principal
            .as_ref()
            .map(|p: &Arc<Principal>| (p.issuer.clone(), p.subject.clone()));
        let version = req
            .headers
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (session, new_id, ephemeral) = match (&sid, has_init) {
            (None, true) => {
                if self.session_count() >= self.max_sessions {
                    return Ok(rpc_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -32000,
                        "Too many sessions",
                    ));
                }
                if let Some(o) = &owner {
                    let mine = self
                        .sessions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .values()
                        .filter(|s| {
                            s.owner.lock().unwrap_or_else(|p| p.into_inner()).as_ref() == Some(o)
                        })
                        .count();
                    if mine >= self.max_per_caller {
                        return Ok(rpc_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            -32000,
                            "Too many sessions for this caller",
                        ));
                    }
                }
                self.start_reaper();
                let id = session_id();
                if id.is_empty() {
                    return Ok(rpc_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -32000,
                        "No session available",
                    ));
                }
                let s = self.spawn(Some((id.clone(), self.sessions.clone())))?;
                *s.owner.lock().unwrap_or_else(|p| p.into_inner()) = owner.clone();
                self.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.clone(), s.clone());
                (s, Some(id), false)
            }
            (Some(id), _) => {
                let s = self
                    .sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(id)
                    .cloned();
                let Some(s) = s.filter(|s| s.alive.load(Ordering::SeqCst)) else {
                    return Ok(rpc_error(
                        StatusCode::NOT_FOUND,
                        -32001,
                        "Session not found",
                    ));
                };
                if !self.owned_by(&s, &owner) {
                    return Ok(rpc_error(
                        StatusCode::NOT_FOUND,
                        -32001,
                        "Session not found",
                    ));
                }
                (s, None, false)
            }
            (None, false) if version >= "2026-07-28" => {
                let s = self.spawn(None)?;
                if let Err(e) = self.initialize_for_bridge(&s).await {
                    s.kill();
                    return Err(e);
                }
                (s, None, true)
            }
            (None, false) => {
                return Ok(rpc_error(
                    StatusCode::BAD_REQUEST,
                    -32000,
                    "Bad Request: No valid session ID provided",
                ));
            }
        };

        let kill = KillOnDrop(ephemeral.then(|| session.clone()));
        // Register the answers expected before writing.
        let (tx, rx) = mpsc::unbounded_channel();
        let mut expected = 0usize;
        {
            let mut p = session.pending.lock().unwrap_or_else(|p| p.into_inner());
            for m in &messages {
                if m.get("method").is_some() {
                    if let Some(id) = m.get("id") {
                        p.insert(id.to_string(), tx.clone());
                        expected += 1;
                    }
                }
            }
        }
        // JSON cannot hold a raw line end outside strings' escapes: replacing them with spaces keeps
        // the message and makes it one line, as the stdio transport requires.
        let line: Vec<u8> = req
            .body
            .iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
            .collect();
        if expected > 0 {
            session
                .listeners
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(tx.clone());
        }
        drop(tx);
        session.write(&line).await?;
        if expected == 0 {
            let mut r = http::Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::ACCEPTED;
            drop(kill);
            return Ok(r);
        }
        let sse = req
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/event-stream"));
        let mut resp = if sse {
            self.sse_answer(rx, expected, kill)
        } else {
            self.json_answer(rx, expected, matches!(parsed, Value::Array(_)), kill)
                .await?
        };
        if let Some(id) = new_id {
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert("mcp-session-id", v);
            }
        }
        Ok(resp)
    }

    /// Whether `who` may use `s` (and then the session counts as used now).
    fn owned_by(&self, s: &Session, who: &Option<(String, String)>) -> bool {
        let ok = Self::may_use(s, who);
        if ok {
            s.touch();
        }
        ok
    }

    fn may_use(s: &Session, who: &Option<(String, String)>) -> bool {
        let mut owner = s.owner.lock().unwrap_or_else(|p| p.into_inner());
        match (&*owner, who) {
            // A handshake pass-through (invalid token; the core lets only handshake methods
            // through) may use a session nobody has authenticated on yet, never an owned one.
            (None, None) => true,
            (Some(_), None) => false,
            (None, Some(w)) => {
                *owner = Some(w.clone());
                true
            }
            (Some(o), Some(w)) => o == w,
        }
    }

    fn sse_answer(
        &self,
        rx: mpsc::UnboundedReceiver<Value>,
        expected: usize,
        kill: KillOnDrop,
    ) -> http::Response<Body> {
        let timeout = self.timeout;
        let stream = futures::stream::unfold(
            (rx, expected, kill),
            move |(mut rx, left, kill)| async move {
                if left == 0 {
                    return None; // `kill` dropped here: a stateless child stops
                }
                match tokio::time::timeout(timeout, rx.recv()).await {
                    Ok(Some(m)) => {
                        let answers = m.get("method").is_none();
                        let event = format!("event: message\ndata: {m}\n\n");
                        let left = if answers { left - 1 } else { left };
                        Some((
                            Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(event))),
                            (rx, left, kill),
                        ))
                    }
                    _ => None,
                }
            },
        );
        let mut r = http::Response::new(StreamBody::new(stream).boxed());
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
        r
    }

    async fn json_answer(
        &self,
        mut rx: mpsc::UnboundedReceiver<Value>,
        expected: usize,
        batch: bool,
        kill: KillOnDrop,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let mut answers = Vec::new();
        let deadline = tokio::time::Instant::now() + self.timeout;
        while answers.len() < expected {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) if m.get("method").is_none() => answers.push(m),
                Ok(Some(_)) => {} // no stream to carry server messages: dropped
                Ok(None) => break,
                Err(_) => break,
            }
        }
        drop(kill);
        if answers.len() < expected {
            return Err(UpstreamError(
                "stdio server did not answer every request".into(),
            ));
        }
        let body = if batch || answers.len() > 1 {
            Value::Array(answers)
        } else {
            answers.pop().unwrap_or(Value::Null)
        };
        let mut r = http::Response::new(full(body.to_string()));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(r)
    }

    fn get(&self, req: &Forward) -> http::Response<Body> {
        let sid = req
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok());
        let owner = req
            .principal
            .as_ref()
            .map(|p| (p.issuer.clone(), p.subject.clone()));
        let Some(s) = sid.and_then(|id| {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .cloned()
        }) else {
            let mut r = rpc_error(StatusCode::METHOD_NOT_ALLOWED, -32000, "Method Not Allowed");
            r.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static("POST, DELETE"),
            );
            return r;
        };
        if !self.owned_by(&s, &owner) {
            return rpc_error(StatusCode::NOT_FOUND, -32001, "Session not found");
        }
        let (tx, rx) = mpsc::unbounded_channel::<Value>();
        // Inserted first, so call streams (pushed later) take precedence.
        s.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(0, tx);
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            let m = rx.recv().await?;
            let event = format!("event: message\ndata: {m}\n\n");
            Some((
                Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(event))),
                rx,
            ))
        });
        let mut r = http::Response::new(StreamBody::new(stream).boxed());
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
        r
    }

    fn delete(&self, req: &Forward) -> http::Response<Body> {
        let sid = req
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let owner = req
            .principal
            .as_ref()
            .map(|p| (p.issuer.clone(), p.subject.clone()));
        let s = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sid)
            .cloned();
        match s {
            Some(s) if self.owned_by(&s, &owner) => {
                self.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(sid);
                s.kill();
                let mut r = http::Response::new(full(Bytes::new()));
                *r.status_mut() = StatusCode::OK;
                r
            }
            _ => rpc_error(StatusCode::NOT_FOUND, -32001, "Session not found"),
        }
    }
}

impl Upstream for Arc<StdioUpstream> {
    fn call(
        &self,
        req: Forward,
    ) -> BoxFuture<'static, Result<http::Response<Body>, UpstreamError>> {
        let this = self.clone();
        Box::pin(async move {
            match req.method {
                Method::POST => this.post(req).await,
                Method::GET => Ok(this.get(&req)),
                Method::DELETE => Ok(this.delete(&req)),
                _ => {
                    let mut r =
                        rpc_error(StatusCode::METHOD_NOT_ALLOWED, -32000, "Method Not Allowed");
                    r.headers_mut().insert(
                        http::header::ALLOW,
                        HeaderValue::from_static("GET, POST, DELETE"),
                    );
                    Ok(r)
                }
            }
        })
    }

    fn shutdown(&self) -> BoxFuture<'static, ()> {
        let sessions: Vec<_> = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        Box::pin(async move {
            for s in sessions {
                s.kill();
            }
        })
    }
}

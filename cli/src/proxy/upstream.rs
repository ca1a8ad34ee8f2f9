//! Where allowed requests go: an [`Upstream`] takes the request as the proxy forwards it and
//! answers with the MCP server's response, whose body streams. Two exist: [`HttpUpstream`] (a
//! Streamable HTTP server, through hyper's client) and the stdio bridge (`super::stdio`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Uri};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The error type of bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A streaming body.
pub type Body = BoxBody<Bytes, BoxError>;

/// A whole body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

/// A request on its way to the MCP server (headers already rewritten by the proxy).
#[derive(Debug)]
pub struct Forward {
    /// Method.
    pub method: Method,
    /// Path and query as the client sent them.
    pub path_and_query: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// The whole body (the core decided on it).
    pub body: Bytes,
    /// The caller, when the core allowed the request (none for a handshake pass-through).
    pub principal: Option<std::sync::Arc<authsec_core::Principal>>,
}

/// Why the upstream gave no answer (logged, never sent: the client gets the core's 502).
#[derive(Debug)]
pub struct UpstreamError(pub String);

/// An MCP server behind the proxy.
pub trait Upstream: Send + Sync + 'static {
    /// Send `req` and return the answer's head and streaming body.
    fn call(&self, req: Forward)
        -> BoxFuture<'static, Result<http::Response<Body>, UpstreamError>>;
    /// Stop whatever the upstream runs (stdio children); called once at shutdown.
    fn shutdown(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// A Streamable HTTP MCP server at an `http://` URL, over a pool of kept-alive HTTP/1.1
/// connections (hyper's connection API: a connection is taken for one request, and goes back
/// to the pool when its answer's body has ended).
pub struct HttpUpstream {
    pool: Arc<Pool>,
    addr: String,
    host: HeaderValue,
    /// The upstream URL's path (and query) as a request target, made once.
    upstream_target: Uri,
    upstream_path: String,
    resource_path: String,
    header_timeout: Duration,
}

/// How long a connection may wait in the pool before it is closed.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections, the most recently used last (taken first: it is the one most likely
/// still open).
#[derive(Default)]
struct Pool {
    idle: Mutex<VecDeque<(Sender, Instant)>>,
}

impl Pool {
    fn idle(&self) -> std::sync::MutexGuard<'_, VecDeque<(Sender, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used open connection, if any (closed ones are dropped).
    fn take(&self) -> Option<Sender> {
        let mut idle = self.idle();
        while let Some((tx, since)) = idle.pop_back() {
            if !tx.is_closed() && since.elapsed() < POOL_IDLE {
                return Some(tx);
            }
        }
        None
    }

    /// Put back a connection whose answer has ended; close those idle too long.
    fn put(&self, tx: Sender) {
        if tx.is_closed() {
            return;
        }
        let mut idle = self.idle();
        while idle
            .front()
            .is_some_and(|(t, since)| t.is_closed() || since.elapsed() >= POOL_IDLE)
        {
            idle.pop_front();
        }
        idle.push_back((tx, Instant::now()));
    }
}

impl HttpUpstream {
    /// Forward to `url` (the MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`): a request for
    /// `resource_path` (the path of the configured `resource_uri`) goes to the URL's path, any
    /// other path to the same path on the URL's origin. `header_timeout` bounds the wait for
    /// the answer's headers (not its body: SSE streams may last).
    pub fn new(
        url: &str,
        resource_path: &str,
        header_timeout: Duration,
    ) -> Result<HttpUpstream, String> {
        let u = url::Url::parse(url).map_err(|e| format!("--upstream {url:?}: {e}"))?;
        if u.scheme() != "http" {
            return Err(format!(
                "--upstream must be an http:// URL (got {}://): run the proxy next to the MCP server",
                u.scheme()
            ));
        }
        let host = u.host_str().ok_or("--upstream needs a host")?;
        let port = u.port_or_known_default().unwrap_or(80);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let authority: http::uri::Authority = format!("{host}:{port}")
            .parse()
            .map_err(|e| format!("--upstream authority: {e}"))?;
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let upstream_target: Uri = path
            .parse()
            .map_err(|e| format!("--upstream path {path:?}: {e}"))?;
        Ok(HttpUpstream {
            pool: Arc::new(Pool::default()),
            addr: authority.to_string(),
            host: HeaderValue::from_str(authority.as_str())
                .map_err(|e| format!("--upstream authority: {e}"))?,
            upstream_target,
            upstream_path: path,
            resource_path: resource_path.to_string(),
            header_timeout,
        })
    }

    /// The upstream path for a client's path and query.
    fn target(&self, path_and_query: &str) -> String {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        if path == self.resource_path {
            let mut t = self.upstream_path.clone();
            if let Some(q) = query {
                t.push(if t.contains('?') { '&' } else { '?' });
                t.push_str(q);
            }
            t
        } else {
            path_and_query.to_string()
        }
    }

    /// The request target (origin form) for a client's path and query.
    fn target_uri(&self, path_and_query: &str) -> Result<Uri, http::uri::InvalidUri> {
        if path_and_query == self.resource_path {
            return Ok(self.upstream_target.clone());
        }
        self.target(path_and_query).parse()
    }
}

/// A new connection to `addr`, its I/O driven by a task of its own.
async fn connect(addr: &str) -> Result<Sender, UpstreamError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| {
            UpstreamError(format!(
                "connecting to {addr} took over {CONNECT_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| UpstreamError(format!("upstream request failed: connect {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| UpstreamError(format!("upstream request failed: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(tx)
}

/// Send `req` on a pooled connection (or a new one), and once more on a new connection when
/// the pooled one closed before the request was written (an upstream closing idle
/// connections): never a request the upstream may have read.
async fn send(
    pool: &Pool,
    addr: &str,
    req: http::Request<Full<Bytes>>,
) -> Result<(http::Response<Incoming>, Sender), UpstreamError> {
    let failed = |e: hyper::Error| UpstreamError(format!("upstream request failed: {e}"));
    let mut req = req;
    let mut fresh = false;
    loop {
        let mut tx = match pool.take() {
            Some(tx) if !fresh => tx,
            _ => {
                fresh = true;
                connect(addr).await?
            }
        };
        if let Err(e) = tx.ready().await {
            if fresh {
                return Err(failed(e));
            }
            fresh = true;
            continue;
        }
        match tx.try_send_request(req).await {
            Ok(resp) => return Ok((resp, tx)),
            Err(mut e) => match e.take_message() {
                Some(back) if !fresh => {
                    req = back;
                    fresh = true;
                }
                _ => return Err(failed(e.into_error())),
            },
        }
    }
}

impl Upstream for HttpUpstream {
    fn call(
        &self,
        req: Forward,
    ) -> BoxFuture<'static, Result<http::Response<Body>, UpstreamError>> {
        let uri = self.target_uri(&req.path_and_query);
        let pool = self.pool.clone();
        let addr = self.addr.clone();
        let host = self.host.clone();
        let timeout = self.header_timeout;
        Box::pin(async move {
            let uri = uri.map_err(|e| UpstreamError(format!("upstream URI: {e}")))?;
            let mut r = http::Request::new(Full::new(req.body));
            *r.method_mut() = req.method;
            *r.uri_mut() = uri;
            *r.headers_mut() = req.headers;
            r.headers_mut().insert(http::header::HOST, host);
            let (resp, tx) = tokio::time::timeout(timeout, send(&pool, &addr, r))
                .await
                .map_err(|_| UpstreamError(format!("no answer headers within {timeout:?}")))??;
            Ok(resp.map(|body| {
                let mut b = PooledBody {
                    body,
                    back: Some((tx, pool)),
                };
                // An answer without a body (a HEAD answer, 204, 304, length 0) frees its
                // connection now: hyper may never poll a body that has ended.
                if b.body.is_end_stream() {
                    b.release();
                }
                b.boxed()
            }))
        })
    }
}

/// An answer's body that puts its connection back in the pool once it has ended (a body
/// dropped before its end takes the connection with it: hyper closes it).
struct PooledBody {
    body: Incoming,
    back: Option<(Sender, Arc<Pool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((tx, pool)) = self.back.take() {
            pool.put(tx);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if this.body.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.back = None;
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => {
                this.release();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_upstream() {
        let u =
            HttpUpstream::new("http://127.0.0.1:3000/mcp", "/mcp", Duration::from_secs(1)).unwrap();
        assert_eq!(u.target("/mcp"), "/mcp");
        let u = HttpUpstream::new(
            "http://127.0.0.1:3000/api/v1/mcp?k=1",
            "/mcp",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(u.target("/mcp"), "/api/v1/mcp?k=1");
        assert_eq!(u.target("/mcp?x=2"), "/api/v1/mcp?k=1&x=2");
        assert_eq!(u.target("/other?y"), "/other?y");
        assert!(HttpUpstream::new("https://x/mcp", "/mcp", Duration::from_secs(1)).is_err());
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A raw HTTP/1.1 server on 127.0.0.1: answers every request on a connection with `answer`
    /// (`Content-Length` framed), closing the connection after each answer when `close_after`.
    /// Returns its URL and a counter of accepted connections.
    async fn server(
        answer: &'static str,
        close_after: bool,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", l.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: its head, then Content-Length bytes of body.
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        while buf.len() < end + 4 + len {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + 4 + len);
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                        if close_after {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    fn forward(body: &'static str) -> Forward {
        Forward {
            method: Method::POST,
            path_and_query: "/mcp".into(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
            principal: None,
        }
    }

    async fn body_of(u: &HttpUpstream, body: &'static str) -> Bytes {
        let resp = u.call(forward(body)).await.expect("an answer");
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn answered_connections_are_reused() {
        let (url, accepted) = server(r#"{"ok":1}"#, false).await;
        let u = HttpUpstream::new(&url, "/mcp", Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            assert_eq!(body_of(&u, "{}").await.as_ref(), br#"{"ok":1}"#);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_replaced_not_an_error() {
        // The server closes each connection right after its answer (as an upstream closing
        // idle keep-alive connections does): every request still gets its answer, each on a
        // new connection.
        let (url, accepted) = server(r#"{"ok":2}"#, true).await;
        let u = HttpUpstream::new(&url, "/mcp", Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            assert_eq!(body_of(&u, "{}").await.as_ref(), br#"{"ok":2}"#);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_connection_whose_answer_was_abandoned_is_not_reused() {
        let (url, accepted) = server(r#"{"ok":3}"#, false).await;
        let u = HttpUpstream::new(&url, "/mcp", Duration::from_secs(5)).unwrap();
        // The answer's head arrived, its body was never read: that connection is not pooled.
        drop(u.call(forward("{}")).await.expect("an answer"));
        assert_eq!(body_of(&u, "{}").await.as_ref(), br#"{"ok":3}"#);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The connection of a read answer is.
        assert_eq!(body_of(&u, "{}").await.as_ref(), br#"{"ok":3}"#);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_without_a_body_frees_its_connection_at_once() {
        let (url, accepted) = server("", false).await;
        let u = HttpUpstream::new(&url, "/mcp", Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            // Never polled, as hyper's server treats a body that has ended.
            let resp = u.call(forward("{}")).await.expect("an answer");
            assert!(resp.body().is_end_stream());
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_upstream_that_refuses_connections_is_an_error() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", l.local_addr().unwrap());
        drop(l);
        let u = HttpUpstream::new(&url, "/mcp", Duration::from_secs(5)).unwrap();
        let Err(e) = u.call(forward("{}")).await else {
            panic!("an answer from a closed port")
        };
        assert!(
            e.0.starts_with("upstream request failed: connect "),
            "{}",
            e.0
        );
    }
}

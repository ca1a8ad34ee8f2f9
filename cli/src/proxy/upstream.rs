//! Where allowed requests go: an [`Upstream`] takes the request as the proxy forwards it and
//! answers with the MCP server's response, whose body streams. Two exist: [`HttpUpstream`] (a
//! Streamable HTTP server, through hyper's client) and the stdio bridge (`super::stdio`).

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, Method, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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

/// A Streamable HTTP MCP server at an `http://` URL.
pub struct HttpUpstream {
    client: Client<HttpConnector, Full<Bytes>>,
    scheme_authority: String,
    authority: http::uri::Authority,
    upstream_path: String,
    resource_path: String,
    header_timeout: Duration,
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
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        Ok(HttpUpstream {
            client,
            scheme_authority: format!("http://{authority}"),
            authority,
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
}

impl Upstream for HttpUpstream {
    fn call(
        &self,
        req: Forward,
    ) -> BoxFuture<'static, Result<http::Response<Body>, UpstreamError>> {
        let uri: Result<Uri, _> = format!(
            "{}{}",
            self.scheme_authority,
            self.target(&req.path_and_query)
        )
        .parse();
        let client = self.client.clone();
        let host = self.authority.to_string();
        let timeout = self.header_timeout;
        Box::pin(async move {
            let uri = uri.map_err(|e| UpstreamError(format!("upstream URI: {e}")))?;
            let mut r = http::Request::new(Full::new(req.body));
            *r.method_mut() = req.method;
            *r.uri_mut() = uri;
            *r.headers_mut() = req.headers;
            if let Ok(h) = http::HeaderValue::from_str(&host) {
                r.headers_mut().insert(http::header::HOST, h);
            }
            let resp = tokio::time::timeout(timeout, client.request(r))
                .await
                .map_err(|_| UpstreamError(format!("no answer headers within {timeout:?}")))?
                .map_err(|e| UpstreamError(format!("upstream request failed: {e}")))?;
            Ok(resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed()))
        })
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
}

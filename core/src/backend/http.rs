//! The one outbound HTTP client of a runtime (reqwest + rustls), with the configured timeout, no
//! redirects, and a cap on response size. Errors name the failure, never a credential.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::audit::metrics::Endpoint;
use crate::audit::Observer;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Largest response body read from the authorization server or the backend.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why an outbound call failed.
#[derive(Debug, Clone)]
pub struct HttpError(String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Basic credentials for one call.
pub(crate) struct Basic<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

impl Basic<'_> {
    fn header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.user, self.password))
        )
    }
}

/// A cheap-to-clone HTTP client. Every call is counted and timed per endpoint in the runtime's
/// metrics and runs in an `authsec.backend` tracing span.
#[derive(Clone)]
pub(crate) struct HttpClient {
    inner: reqwest::Client,
    observer: Arc<Observer>,
}

impl HttpClient {
    pub(crate) fn new(timeout: Duration, observer: Arc<Observer>) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authsec-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError(format!("cannot build HTTP client: {e}")))?;
        Ok(HttpClient { inner, observer })
    }

    /// The runtime's observer (for the layers that hold this client).
    pub(crate) fn observer(&self) -> &Arc<Observer> {
        &self.observer
    }

    /// `GET url` accepting JSON; returns the status and the body.
    pub(crate) async fn get_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        auth: Option<Basic<'_>>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let mut req = self
            .inner
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(a) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, a.header());
        }
        self.send(endpoint, req).await
    }

    /// `POST url` with a form body and Basic auth; returns the status and the body.
    pub(crate) async fn post_form(
        &self,
        endpoint: Endpoint,
        url: &str,
        form: &[(&str, &str)],
        auth: Basic<'_>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        self.post_form_as(endpoint, url, form, Some(auth)).await
    }

    /// `POST url` with a form body, with Basic auth or none (an OAuth public client sends its
    /// `client_id` in the form); returns the status and the body.
    pub(crate) async fn post_form_as(
        &self,
        endpoint: Endpoint,
        url: &str,
        form: &[(&str, &str)],
        auth: Option<Basic<'_>>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let body = form_urlencoded(form);
        let mut req = self
            .inner
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some(a) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, a.header());
        }
        self.send(endpoint, req).await
    }

    /// `GET url` accepting JSON with `Authorization: Bearer <token>` (the OIDC userinfo
    /// endpoint); returns the status and the body.
    pub(crate) async fn get_json_bearer(
        &self,
        endpoint: Endpoint,
        url: &str,
        token: &str,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let req = self
            .inner
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
        self.send(endpoint, req).await
    }

    /// `PUT url` with a JSON body and Basic auth; returns the status and the body.
    pub(crate) async fn put_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        body: Vec<u8>,
        auth: Basic<'_>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let req = self
            .inner
            .put(url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::AUTHORIZATION, auth.header())
            .body(body);
        self.send(endpoint, req).await
    }

    /// `POST url` with a JSON body and extra headers (no credentials); returns the status and
    /// the body.
    pub(crate) async fn post_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        body: Vec<u8>,
        headers: &[(&'static str, &str)],
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let mut req = self
            .inner
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(endpoint, req).await
    }

    async fn send(
        &self,
        endpoint: Endpoint,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let span = tracing::info_span!(
            "authsec.backend",
            endpoint = endpoint.as_str(),
            status = tracing::field::Empty
        );
        let start = Instant::now();
        let result = Self::exchange(req).instrument(span.clone()).await;
        let status = result.as_ref().ok().map(|(s, _)| *s);
        if let Some(s) = status {
            span.record("status", s);
        }
        self.observer
            .metrics
            .backend(endpoint, status, start.elapsed());
        result
    }

    async fn exchange(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), HttpError> {
        let mut resp = req.send().await.map_err(describe)?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpError(format!(
                    "response larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// Log an upstream error answer (status and the first 200 characters of its body) at `warn`
/// through `tracing`. Client-visible answers carry only the status.
pub(crate) fn log_upstream_error(
    endpoint: &'static str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) {
    let snippet = upstream_snippet(body, secrets);
    tracing::warn!(endpoint, status, body = %snippet, "upstream answered an error");
}

/// The loggable form of an upstream body: every occurrence of a secret we sent (the token being
/// introspected, the client secret: an upstream may echo them) replaced by `<redacted>`, control
/// characters replaced by spaces, cut to 200 characters.
fn upstream_snippet(body: &[u8], secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s, "<redacted>");
    }
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Describe a transport error without the URL's query or any header value.
fn describe(e: reqwest::Error) -> HttpError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "could not read the response"
    } else {
        "request failed"
    };
    HttpError(kind.to_string())
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
    }
    out
}

fn encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_snippets_redact_what_we_sent() {
        let body = b"{\"error\":\"bad token tok-123 for client secret-1\"}\r\n";
        let s = upstream_snippet(body, &["tok-123", "secret-1", ""]);
        assert_eq!(
            s,
            "{\"error\":\"bad token <redacted> for client <redacted>\"}  "
        );
        assert_eq!(upstream_snippet(&[b'a'; 500], &[]).len(), 200);
    }
}

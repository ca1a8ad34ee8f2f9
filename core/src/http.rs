//! The one outbound HTTP client of a runtime (reqwest + rustls), with the configured timeout, no
//! redirects, and a cap on response size. Errors name the failure, never a credential.

use std::fmt;
use std::time::Duration;

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

/// A cheap-to-clone HTTP client.
#[derive(Clone)]
pub(crate) struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub(crate) fn new(timeout: Duration) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authsec-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError(format!("cannot build HTTP client: {e}")))?;
        Ok(HttpClient { inner })
    }

    /// `GET url` accepting JSON; returns the status and the body.
    pub(crate) async fn get_json(
        &self,
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
        Self::send(req).await
    }

    /// `POST url` with a form body and Basic auth; returns the status and the body.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        auth: Basic<'_>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let body = form_urlencoded(form);
        let req = self
            .inner
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::AUTHORIZATION, auth.header())
            .body(body);
        Self::send(req).await
    }

    /// `PUT url` with a JSON body and Basic auth; returns the status and the body.
    pub(crate) async fn put_json(
        &self,
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
        Self::send(req).await
    }

    async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), HttpError> {
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

/// Log an upstream error answer (status and the first 200 characters of its body, control
/// characters replaced) at `warn` through `tracing`. Client-visible answers carry only the status.
pub(crate) fn log_upstream_error(endpoint: &'static str, status: u16, body: &[u8]) {
    let snippet: String = String::from_utf8_lossy(body)
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    tracing::warn!(endpoint, status, body = %snippet, "upstream answered an error");
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

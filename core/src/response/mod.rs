//! Presentation: every byte a client sees. The [`Response`] type and the answers a host writes
//! when it has no decision to write (startup failed, internal error); denial bodies and in-band
//! MCP errors (`denial`); `WWW-Authenticate` challenges (`challenge`); the RFC 9728 document
//! (`metadata`); CORS preflights and headers for browser clients (`cors`); and the handler's
//! answer with what the caller may not see removed (`filter`).
//! Decisions are made in the layers below; this layer turns them into bytes.

pub(crate) mod challenge;
pub(crate) mod cors;
pub(crate) mod denial;
pub(crate) mod filter;
pub(crate) mod metadata;

use serde_json::json;

/// An answer the runtime writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(status: u16, error: &str, description: &str) -> Response {
        let body = json!({"error": error, "error_description": description});
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// What a host answers while the runtime cannot decide because its startup failed (for
    /// example `remote_required` without a first policy): 503 `temporarily_unavailable`, no
    /// challenge (the token was never looked at).
    pub fn startup_failed() -> Response {
        Response::json(
            503,
            "temporarily_unavailable",
            "authorization is not available",
        )
    }

    /// What a host answers when a call into the runtime failed (a non-OK status, a thrown error,
    /// a bug): 500 `server_error` with a fixed description (no detail reaches the client).
    pub fn internal_error() -> Response {
        Response::json(500, "server_error", "internal error")
    }

    /// What a gateway host (the `authsec proxy` command) answers when the MCP server behind it
    /// could not be reached or failed before its answer began: 502 `bad_gateway` with a fixed
    /// description (the cause is logged by the host, never sent to the client), no challenge.
    pub fn upstream_unavailable() -> Response {
        Response::json(502, "bad_gateway", "the MCP server did not answer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_answers() {
        let r = Response::startup_failed();
        assert_eq!(r.status, 503);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.body,
            br#"{"error":"temporarily_unavailable","error_description":"authorization is not available"}"#
        );
        let r = Response::internal_error();
        assert_eq!(r.status, 500);
        assert_eq!(
            r.body,
            br#"{"error":"server_error","error_description":"internal error"}"#
        );
        assert_eq!(r.header("www-authenticate"), None);
        let r = Response::upstream_unavailable();
        assert_eq!(r.status, 502);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.body,
            br#"{"error":"bad_gateway","error_description":"the MCP server did not answer"}"#
        );
        assert_eq!(r.header("www-authenticate"), None);
    }
}

//! CORS for browser-based MCP clients: preflights are never challenged, the core answers them
//! when origins are configured, and the core's own answers to an allowed origin let the page
//! read them (the `WWW-Authenticate` challenge included).
//!
//! - A preflight is `OPTIONS` with `Origin` and `Access-Control-Request-Method` (Fetch
//!   standard). On the metadata path the core always answers it (the document is public, served
//!   with `Access-Control-Allow-Origin: *`). Elsewhere, without `cors_allowed_origins`, it
//!   passes to the host's handler (no principal, never a 401); with them, the core answers: 204
//!   with the allowed methods and headers (`Authorization`, `Mcp-Method`, `Mcp-Name`,
//!   `MCP-Protocol-Version`, `Mcp-Session-Id`, ...) for an allowed origin, 403 for another.
//! - With `cors_allowed_origins`, a request whose `Origin` is not allowed is refused with 403
//!   (the MCP transport's Origin check against DNS rebinding); the core's answers to an allowed
//!   origin carry `Access-Control-Allow-Origin`, `Vary: Origin` and
//!   `Access-Control-Expose-Headers: WWW-Authenticate, Mcp-Session-Id`.

use crate::config::Config;
use crate::response::denial::json_response;
use crate::Response;

/// Methods a browser may use on the MCP endpoint (DELETE ends a legacy session).
pub const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Request headers an MCP client sends, allowed on preflights.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Accept, Mcp-Method, Mcp-Name, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID";
/// Response headers a browser-based client must be able to read.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id";
/// How long a browser may cache a preflight answer, seconds.
pub const MAX_AGE: &str = "600";

/// The CORS configuration of one runtime.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cors {
    origins: Vec<String>,
    any: bool,
}

impl Cors {
    pub(crate) fn new(cfg: &Config) -> Cors {
        let origins: Vec<String> = cfg
            .cors_allowed_origins
            .iter()
            .map(|o| o.trim().to_string())
            .collect();
        Cors {
            any: origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    /// Whether origins are configured (the core answers preflights and checks `Origin`).
    pub(crate) fn configured(&self) -> bool {
        !self.origins.is_empty()
    }

    /// Whether `origin` may call (exact, ASCII case-insensitive: origins serialize scheme and
    /// host in lower case, a browser never sends otherwise).
    pub(crate) fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// `Access-Control-Allow-Origin` (and `Vary`) for an allowed origin.
    fn allow_origin(&self, origin: &str, headers: &mut Vec<(String, String)>) {
        if self.any {
            headers.push(("access-control-allow-origin".into(), "*".into()));
        } else {
            headers.push(("access-control-allow-origin".into(), origin.to_string()));
            headers.push(("vary".into(), "Origin".into()));
        }
    }

    /// The answer to a preflight from `origin` on the MCP endpoint: 204 with the allowed
    /// methods and headers, or 403 for an origin that is not allowed. `requested` is the
    /// `Access-Control-Request-Headers` value: `Mcp-Param-*` names in it (headers a tool
    /// mirrors its arguments into) are allowed too.
    pub(crate) fn preflight(&self, origin: &str, requested: Option<&str>) -> Response {
        if !self.allows(origin) {
            return forbidden_origin();
        }
        let mut headers = Vec::new();
        self.allow_origin(origin, &mut headers);
        let mut allow = ALLOW_HEADERS.to_string();
        for h in requested.unwrap_or("").split(',').map(str::trim) {
            let param = h
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case("mcp-param-"));
            if param && h.len() > 10 && h.bytes().all(is_tchar) {
                allow.push_str(", ");
                allow.push_str(h);
            }
        }
        headers.push(("access-control-allow-methods".into(), ALLOW_METHODS.into()));
        headers.push(("access-control-allow-headers".into(), allow));
        headers.push(("access-control-max-age".into(), MAX_AGE.into()));
        Response {
            status: 204,
            headers,
            body: Vec::new(),
        }
    }

    /// Let the page of an allowed origin read one of the core's answers (a 401/403 challenge
    /// included).
    pub(crate) fn decorate(&self, origin: &str, r: &mut Response) {
        if !self.allows(origin) {
            return;
        }
        self.allow_origin(origin, &mut r.headers);
        r.headers.push((
            "access-control-expose-headers".into(),
            EXPOSE_HEADERS.into(),
        ));
    }
}

/// The preflight answer on the metadata path: public, any origin.
pub(crate) fn metadata_preflight() -> Response {
    Response {
        status: 204,
        headers: vec![
            ("access-control-allow-origin".into(), "*".into()),
            (
                "access-control-allow-methods".into(),
                "GET, HEAD, OPTIONS".into(),
            ),
            ("access-control-allow-headers".into(), ALLOW_HEADERS.into()),
            ("access-control-max-age".into(), MAX_AGE.into()),
        ],
        body: Vec::new(),
    }
}

/// 403 for a request whose `Origin` is not allowed (MCP transport security: an invalid Origin
/// MUST get 403). The origin is not echoed.
pub(crate) fn forbidden_origin() -> Response {
    json_response(
        403,
        Vec::new(),
        &serde_json::json!({"error": "invalid_request", "error_description": "request Origin is not allowed"}),
    )
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str]) -> Cors {
        Cors::new(&Config {
            cors_allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        })
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn preflight_answers() {
        let c = cors(&["https://app.example.com"]);
        let r = c.preflight(
            "https://app.example.com",
            Some("authorization, mcp-param-region, x-evil"),
        );
        assert_eq!(r.status, 204);
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(header(&r, "vary"), Some("Origin"));
        assert_eq!(
            header(&r, "access-control-allow-headers").unwrap(),
            format!("{ALLOW_HEADERS}, mcp-param-region")
        );
        assert_eq!(c.preflight("https://evil.example", None).status, 403);
        let any = cors(&["*"]);
        let r = any.preflight("https://x.example", None);
        assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&r, "vary"), None);
        let mut d = forbidden_origin();
        c.decorate("https://app.example.com", &mut d);
        assert_eq!(
            header(&d, "access-control-expose-headers"),
            Some(EXPOSE_HEADERS)
        );
        let mut d = forbidden_origin();
        c.decorate("https://evil.example", &mut d);
        assert_eq!(header(&d, "access-control-allow-origin"), None);
    }
}

//! MCP protocol revisions and the request-metadata headers they define.
//!
//! Clients of 2025-06-18, 2025-11-25 (legacy: an `initialize` handshake and sessions) and
//! 2026-07-28 (modern: stateless, every request carries its version) reach one endpoint. The
//! revision of a request comes from its `MCP-Protocol-Version` header; without one the request
//! is legacy (the 2026-07-28 transport lets a server treat a header-less request as 2025-03-26,
//! and an `initialize` request is legacy by definition: it negotiates the version in its body).
//! A header naming a revision this module does not know as legacy gets the modern rules (deny
//! on doubt: the newer rules are the stricter ones).
//!
//! What changes with the revision (the table is in `docs/protocol-revisions.md`):
//! - modern requests MUST carry `Mcp-Method` (every message) and `Mcp-Name` (`tools/call`,
//!   `prompts/get`: `params.name`; `resources/read`: `params.uri`); missing is `400` with the
//!   JSON-RPC error `-32020` (HeaderMismatch), as is a batch (the headers describe one message);
//! - the discovery call a present-but-invalid token may still make is `server/discover` for
//!   modern requests and the handshake (`initialize`, `notifications/initialized`, `ping`) for
//!   legacy ones;
//! - for every revision, headers that are present must match the body (`Mcp-Name` decoded from
//!   the Base64 sentinel form `=?base64?...?=` first), and each may appear once.

use base64::Engine;

use crate::request::jsonrpc::{Body, Envelope};

/// The revisions that establish a session with `initialize` (and earlier drafts of the
/// Streamable HTTP transport). Any other `MCP-Protocol-Version` value gets the modern rules.
pub const LEGACY_REVISIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest revision this core implements.
pub const MODERN_REVISION: &str = "2026-07-28";

/// Which set of rules a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25 and earlier, or no `MCP-Protocol-Version` header: `initialize` and sessions.
    Legacy,
    /// 2026-07-28 (and any revision not known as legacy): stateless, headers required.
    Modern,
}

/// Methods a present but invalid token may still call, per era: the discovery a client makes
/// before it can know it must (re-)authenticate. Nothing else passes.
pub const LEGACY_DISCOVERY: [&str; 3] = ["initialize", "notifications/initialized", "ping"];
/// See [`LEGACY_DISCOVERY`].
pub const MODERN_DISCOVERY: [&str; 1] = ["server/discover"];

impl Era {
    /// The era of a request from its `MCP-Protocol-Version` header (`None` when absent).
    pub fn of(protocol_version: Option<&str>) -> Era {
        match protocol_version.map(str::trim) {
            None => Era::Legacy,
            Some(v) if LEGACY_REVISIONS.contains(&v) => Era::Legacy,
            Some(_) => Era::Modern,
        }
    }

    /// The methods a present-but-invalid token may call in this era.
    pub fn discovery_methods(self) -> &'static [&'static str] {
        match self {
            Era::Legacy => &LEGACY_DISCOVERY,
            Era::Modern => &MODERN_DISCOVERY,
        }
    }
}

/// The request-metadata headers as the request carries them.
#[derive(Debug, Clone, Copy, Default)]
pub struct McpHeaders<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Method`.
    pub method: Option<&'a str>,
    /// `Mcp-Name` as sent (possibly in the Base64 sentinel form).
    pub name: Option<&'a str>,
}

/// The methods whose `Mcp-Name` is `params.name`.
const NAMED_BY_NAME: [&str; 2] = ["tools/call", "prompts/get"];
/// The methods whose `Mcp-Name` is `params.uri`.
const NAMED_BY_URI: [&str; 3] = [
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
];
/// The methods a modern client MUST send `Mcp-Name` for.
const NAME_REQUIRED: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// Decode `Mcp-Name`: a value of the form `=?base64?<standard Base64>?=` is the UTF-8 text it
/// encodes (the markers are case-sensitive); any other value is itself. `Err` when the sentinel
/// form does not decode to UTF-8 text.
pub fn decode_name(value: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    let Some(inner) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Ok(std::borrow::Cow::Borrowed(value));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(inner)
        .map_err(|_| {
            "Mcp-Name header is not valid Base64 in its =?base64?...?= form".to_string()
        })?;
    String::from_utf8(bytes)
        .map(std::borrow::Cow::Owned)
        .map_err(|_| "Mcp-Name header does not decode to UTF-8 text".to_string())
}

/// The body value `Mcp-Name` stands for, for a method that has one.
fn named_value(env: &Envelope) -> Option<&str> {
    let m = env.method.as_deref()?;
    if NAMED_BY_NAME.contains(&m) {
        env.name.as_deref()
    } else if NAMED_BY_URI.contains(&m) {
        env.uri.as_deref()
    } else {
        None
    }
}

/// Check the request-metadata headers of a parsed body under the rules of `era`; `Some(detail)`
/// is a `400` HeaderMismatch (`-32020`) with that text.
pub fn check_headers(era: Era, body: &Body, h: McpHeaders<'_>) -> Option<String> {
    let env = match body {
        Body::Empty => return None,
        Body::Batch(_) if era == Era::Modern => {
            return Some(format!(
                "a batch cannot carry the Mcp-Method/Mcp-Name headers that MCP-Protocol-Version {} requires",
                h.protocol_version.unwrap_or(MODERN_REVISION).trim()
            ))
        }
        Body::Batch(_) if h.method.is_none() && h.name.is_none() => return None,
        Body::Batch(_) => return Some("Mcp-Method/Mcp-Name headers cannot describe a batch".into()),
        Body::Single(e) => e,
    };
    if era == Era::Modern {
        if h.method.is_none() {
            return Some("required header Mcp-Method is missing".into());
        }
        if h.name.is_none()
            && env
                .method
                .as_deref()
                .is_some_and(|m| NAME_REQUIRED.contains(&m))
        {
            return Some("required header Mcp-Name is missing".into());
        }
    }
    if let Some(m) = h.method {
        if env.method.as_deref() != Some(m) {
            return Some(format!(
                "Mcp-Method header {m:?} does not match the body method {:?}",
                env.method.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(raw) = h.name {
        let name = match decode_name(raw) {
            Ok(n) => n,
            Err(e) => return Some(e),
        };
        let from_body = named_value(env);
        if from_body != Some(name.as_ref()) {
            return Some(format!(
                "Mcp-Name header {:?} does not match the body ({:?})",
                name.as_ref(),
                from_body.unwrap_or("")
            ));
        }
    }
    None
}

/// Whether every message of `body` is a discovery call of `era` (the pass-through rule for a
/// present but invalid token). An empty body or batch is not.
pub fn all_discovery(era: Era, body: &Body) -> bool {
    let methods = era.discovery_methods();
    let one = |e: &Envelope| e.method.as_deref().is_some_and(|m| methods.contains(&m));
    match body {
        Body::Empty => false,
        Body::Single(e) => one(e),
        Body::Batch(items) => {
            !items.is_empty()
                && items.iter().all(|i| match i {
                    crate::request::jsonrpc::Item::Object(e) => one(e),
                    crate::request::jsonrpc::Item::Other => false,
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::jsonrpc::parse;

    fn h<'a>(v: Option<&'a str>, m: Option<&'a str>, n: Option<&'a str>) -> McpHeaders<'a> {
        McpHeaders {
            protocol_version: v,
            method: m,
            name: n,
        }
    }

    #[test]
    fn era_from_the_header() {
        assert_eq!(Era::of(None), Era::Legacy);
        assert_eq!(Era::of(Some("2025-06-18")), Era::Legacy);
        assert_eq!(Era::of(Some(" 2025-11-25 ")), Era::Legacy);
        assert_eq!(Era::of(Some("2026-07-28")), Era::Modern);
        assert_eq!(Era::of(Some("2027-01-01")), Era::Modern);
        assert_eq!(Era::of(Some("garbage")), Era::Modern);
    }

    #[test]
    fn base64_sentinel() {
        assert_eq!(decode_name("get_weather").unwrap(), "get_weather");
        assert_eq!(
            decode_name("=?base64?SGVsbG8sIOS4lueVjA==?=").unwrap(),
            "Hello, \u{4e16}\u{754c}"
        );
        assert_eq!(
            decode_name("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").unwrap(),
            "=?base64?literal?="
        );
        // Markers are case-sensitive: an upper-case form is a plain value.
        assert_eq!(decode_name("=?BASE64?eA==?=").unwrap(), "=?BASE64?eA==?=");
        assert!(decode_name("=?base64?***?=").is_err());
        assert!(decode_name("=?base64?/w==?=").is_err()); // 0xFF is not UTF-8
    }

    #[test]
    fn modern_requires_the_headers() {
        let call =
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}"#)
                .unwrap();
        let m = Era::Modern;
        assert!(check_headers(m, &call, h(None, None, None))
            .unwrap()
            .contains("Mcp-Method is missing"));
        assert!(check_headers(m, &call, h(None, Some("tools/call"), None))
            .unwrap()
            .contains("Mcp-Name is missing"));
        assert!(check_headers(m, &call, h(None, Some("tools/call"), Some("a"))).is_none());
        assert!(check_headers(
            m,
            &call,
            h(None, Some("tools/call"), Some("=?base64?YQ==?="))
        )
        .is_none());
        assert!(check_headers(
            m,
            &call,
            h(None, Some("tools/call"), Some("=?base64?Yg==?="))
        )
        .is_some());
        // Legacy: absent headers are fine, present ones must match.
        assert!(check_headers(Era::Legacy, &call, h(None, None, None)).is_none());
        assert!(check_headers(Era::Legacy, &call, h(None, None, Some("b"))).is_some());
        let list = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert!(check_headers(m, &list, h(None, Some("tools/list"), None)).is_none());
        let batch = parse(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#).unwrap();
        assert!(check_headers(m, &batch, h(None, Some("tools/list"), None)).is_some());
        assert!(check_headers(m, &batch, h(None, None, None)).is_some());
        assert!(check_headers(Era::Legacy, &batch, h(None, None, None)).is_none());
        assert!(check_headers(m, &Body::Empty, h(None, None, None)).is_none());
    }

    #[test]
    fn discovery_per_era() {
        let d = parse(br#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#).unwrap();
        let i = parse(br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#).unwrap();
        assert!(all_discovery(Era::Modern, &d));
        assert!(!all_discovery(Era::Legacy, &d));
        assert!(all_discovery(Era::Legacy, &i));
        assert!(!all_discovery(Era::Modern, &i));
    }
}

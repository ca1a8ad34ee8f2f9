//! Header rules of the proxy: hop-by-hop fields (RFC 9110 §7.6.1) removed in both directions,
//! `Via` added (§7.6.3), the bearer token kept from the upstream unless asked for, and the
//! caller's identity handed to the upstream in headers of its own prefix, which a client can
//! never set itself.
//!
//! Why the token is not forwarded by default: the MCP authorization spec forbids token
//! passthrough ("the MCP server MUST NOT pass through the token it received from the MCP
//! client"): a token is issued for this resource (its audience), and an upstream that accepts it
//! or sends it on widens where it is valid. The upstream gets who the caller is instead.

use authsec_core::Principal;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Header fields that describe one connection and never cross a proxy (RFC 9110 §7.6.1; the
/// obsolete `Proxy-Connection` and `Keep-Alive` included), plus the proxy's own credentials.
const HOP_BY_HOP: [HeaderName; 9] = [
    http::header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    http::header::TE,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::TRAILER,
    http::header::PROXY_AUTHORIZATION,
    http::header::PROXY_AUTHENTICATE,
];

/// Remove hop-by-hop fields: the fixed list and every field named in `Connection`. One look
/// over the names first: most messages carry none, or only `Connection: keep-alive`.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let mut doomed: Vec<HeaderName> = h
        .keys()
        .filter(|k| HOP_BY_HOP.contains(k))
        .cloned()
        .collect();
    if doomed.is_empty() {
        // No `Connection` field either, so no field it names.
        return;
    }
    let named = h
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        // from_bytes folds the name to lower case; an empty or invalid token names nothing.
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !HOP_BY_HOP.contains(n));
    doomed.extend(named);
    for n in doomed {
        h.remove(n);
    }
}

/// Append this proxy to `Via` (`1.1 authsec`).
pub fn add_via(h: &mut HeaderMap) {
    h.append(http::header::VIA, HeaderValue::from_static("1.1 authsec"));
}

/// How the upstream learns who is calling.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// Prefix of every identity header, lower case (default `x-authsec-`). Incoming headers with
    /// this prefix are always removed, so a client cannot claim an identity.
    pub prefix: String,
    /// Send the identity at all (off: the prefix is still stripped).
    pub enabled: bool,
    /// Also send every claim, as base64url JSON in `<prefix>claims`.
    pub claims: bool,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            prefix: "x-authsec-".into(),
            enabled: true,
            claims: false,
        }
    }
}

/// Percent-encode what may not stand in a header value as it is: bytes outside `!`..`~`, and
/// `%` itself. So a subject with spaces, quotes of other scripts or control characters cannot
/// split or forge a header; plain ASCII identifiers pass unchanged.
pub fn encode_value(s: &str) -> String {
    if s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'%') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode [`encode_value`] (for upstreams and tests written in Rust).
pub fn decode_value(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl IdentityHeaders {
    /// Refuse a prefix that could not name headers of its own: it must be lower-case token
    /// characters ending in `-` (e.g. `x-authsec-`), so that stripping it never removes a
    /// standard field (an empty prefix would strip every header, `content-` every content field).
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.prefix;
        let token = p
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if p.len() < 3 || !token || !p.ends_with('-') || !p.starts_with("x-") {
            return Err(format!(
                "--identity-header-prefix {p:?}: must start with \"x-\", end with \"-\" and hold only a-z, 0-9 and -"
            ));
        }
        Ok(())
    }

    /// Remove every incoming header with the identity prefix.
    pub fn strip(&self, h: &mut HeaderMap) {
        let doomed: Vec<HeaderName> = h
            .keys()
            .filter(|k| k.as_str().starts_with(&self.prefix))
            .cloned()
            .collect();
        for k in doomed {
            h.remove(k);
        }
    }

    /// Add the caller's identity: `subject`, `issuer`, `client-id`, `scopes` and `audience`
    /// (space-separated, each item encoded), `expires-at` when the token has `exp`,
    /// `spiffe-id` for a workload (JWT-SVID) caller, and `claims` when enabled.
    pub fn add(&self, h: &mut HeaderMap, p: &Principal) {
        self.add_named(&self.names(), h, p);
    }

    /// The header names under this prefix, made once (a proxy keeps them; see
    /// [`IdentityHeaders::add_named`]).
    pub fn names(&self) -> IdentityNames {
        let n =
            |name: &str| HeaderName::from_bytes(format!("{}{name}", self.prefix).as_bytes()).ok();
        IdentityNames {
            subject: n("subject"),
            issuer: n("issuer"),
            client_id: n("client-id"),
            scopes: n("scopes"),
            audience: n("audience"),
            expires_at: n("expires-at"),
            spiffe_id: n("spiffe-id"),
            claims: n("claims"),
        }
    }

    /// [`IdentityHeaders::add`] with names made by [`IdentityHeaders::names`] of this prefix.
    pub fn add_named(&self, names: &IdentityNames, h: &mut HeaderMap, p: &Principal) {
        for (n, v) in self.values(names, p) {
            h.insert(n, v);
        }
    }

    /// The identity headers of `p` as name/value pairs (none when disabled), for
    /// [`IdentityHeaders::add_named`] or a caller that keeps them: a principal never changes,
    /// so a proxy computes them once per principal and inserts clones.
    pub fn values(&self, names: &IdentityNames, p: &Principal) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::with_capacity(8);
        if !self.enabled {
            return out;
        }
        let list = |items: &[String]| {
            items
                .iter()
                .map(|s| encode_value(s))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // A name the prefix cannot make (a prefix `validate` refuses) is left out.
        let mut put = |name: &Option<HeaderName>, value: String| {
            if let (Some(n), Ok(v)) = (name, HeaderValue::try_from(value)) {
                out.push((n.clone(), v));
            }
        };
        put(&names.subject, encode_value(&p.subject));
        put(&names.issuer, encode_value(&p.issuer));
        put(&names.client_id, encode_value(p.client_id()));
        put(&names.scopes, list(&p.scopes));
        put(&names.audience, list(&p.audience));
        if let Some(exp) = p.expires_at() {
            put(&names.expires_at, exp.to_string());
        }
        if let Some(id) = p.spiffe_id() {
            put(&names.spiffe_id, encode_value(id));
        }
        if self.claims {
            let json = serde_json::to_vec(&p.claims).unwrap_or_default();
            put(&names.claims, URL_SAFE_NO_PAD.encode(json));
        }
        out
    }
}

/// The identity header names of one prefix ([`IdentityHeaders::names`]).
#[derive(Debug, Clone)]
pub struct IdentityNames {
    subject: Option<HeaderName>,
    issuer: Option<HeaderName>,
    client_id: Option<HeaderName>,
    scopes: Option<HeaderName>,
    audience: Option<HeaderName>,
    expires_at: Option<HeaderName>,
    spiffe_id: Option<HeaderName>,
    claims: Option<HeaderName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_fields_go() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic abc"),
            ("content-type", "application/json"),
            ("mcp-session-id", "s1"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        // Sorted: the order of fields with different names carries no meaning (RFC 9110 §5.3).
        let mut left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "mcp-session-id"]);
    }

    #[test]
    fn a_message_without_hop_by_hop_fields_is_left_as_it_is() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "application/json"),
            ("x-keep", "1"),
            ("x-keep", "2"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
        // A field named by `Connection` goes, whatever its case in `Connection`.
        h.append("connection", HeaderValue::from_static("close, X-KEEP"));
        strip_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["content-type"]);
    }

    #[test]
    fn values_are_encoded_so_they_cannot_forge_headers() {
        assert_eq!(encode_value("user@example.com"), "user@example.com");
        assert_eq!(
            encode_value("a b\r\nx-authsec-subject: admin"),
            "a%20b%0D%0Ax-authsec-subject:%20admin"
        );
        assert_eq!(encode_value("50%"), "50%25");
        assert_eq!(encode_value("ü"), "%C3%BC");
        for s in ["a b\r\nc", "50%", "ü", "%zz", "x%4"] {
            assert_eq!(decode_value(&encode_value(s)), s);
        }
    }

    #[test]
    fn prefixes_that_could_strip_standard_fields_are_refused() {
        let with = |p: &str| IdentityHeaders {
            prefix: p.into(),
            ..IdentityHeaders::default()
        };
        assert!(with("x-authsec-").validate().is_ok());
        assert!(with("x-user-").validate().is_ok());
        for bad in ["", "-", "x-", "content-", "x-Auth-", "x-a b-", "x-authsec"] {
            assert!(with(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn identity_is_stripped_then_added() {
        let id = IdentityHeaders {
            claims: true,
            ..IdentityHeaders::default()
        };
        let mut h = HeaderMap::new();
        h.insert("x-authsec-subject", HeaderValue::from_static("forged"));
        h.insert("x-authsec-role", HeaderValue::from_static("admin"));
        id.strip(&mut h);
        assert!(h.is_empty());
        let claims =
            serde_json::json!({"sub": "u 1", "client_id": "c1", "exp": 5, "iss": "https://as"});
        let p = Principal {
            subject: "u 1".into(),
            issuer: "https://as".into(),
            audience: vec!["https://mcp/mcp".into()],
            scopes: vec!["a:read".into(), "b".into()],
            claims: claims.as_object().unwrap().clone(),
            active: true,
            spiffe_id: None,
            hierarchy: None,
        };
        id.add(&mut h, &p);
        let get = |k: &str| h.get(k).unwrap().to_str().unwrap().to_string();
        assert_eq!(get("x-authsec-subject"), "u%201");
        assert_eq!(get("x-authsec-client-id"), "c1");
        assert_eq!(get("x-authsec-scopes"), "a:read b");
        assert_eq!(get("x-authsec-audience"), "https://mcp/mcp");
        assert_eq!(get("x-authsec-expires-at"), "5");
        assert!(
            h.get("x-authsec-spiffe-id").is_none(),
            "an OAuth caller has no SPIFFE ID"
        );
        let c = URL_SAFE_NO_PAD.decode(get("x-authsec-claims")).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&c).unwrap(),
            claims
        );
    }
}

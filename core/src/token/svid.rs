//! JWT-SVIDs (SPIFFE JWT-SVID specification) as bearer tokens: workloads calling the MCP server
//! authenticate with the JWT-SVID their SPIRE agent issued for this server's resource URI.
//!
//! A JWT-SVID goes through the same JWT code as any access token (strict parsing, the
//! algorithm allow-list, the alg-fits-key rule, keys parsed once, the verified-token cache, the
//! audience binding), with three differences that come from the specification:
//! - its keys are the trust domain's JWT authorities (the SPIFFE bundle endpoint's keys with
//!   `"use": "jwt-svid"`, or the Workload API's JWT bundle), never the OAuth issuer's JWKS;
//! - `iss` is not checked (the specification leaves it optional); instead `sub` must be a
//!   SPIFFE ID of the configured trust domain, `kid`, `exp` and `aud` are required, and `typ`,
//!   when present, is `JWT` or `JOSE`;
//! - it grants no scopes: the principal carries `spiffe_id`, and policy names workloads.
//!
//! Which path a token takes is decided from its unverified claims: `sub` is a SPIFFE ID and
//! `iss` is not the configured OAuth issuer. Routing cannot raise privileges: each path only
//! trusts its own keys, so a token on the wrong path fails verification.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::config::spiffe_id_in;
use crate::token::error::AuthError;
use crate::token::jwt::{self, ParsedJwt};

fn invalid(msg: impl std::fmt::Display) -> AuthError {
    AuthError::invalid_token(format!("invalid JWT-SVID: {msg}"))
}

/// True when these (unverified) claims are to be validated as a JWT-SVID: `sub` starts with
/// `spiffe://` and `iss` is not the OAuth issuer (an authorization server may issue access
/// tokens to workloads with a SPIFFE ID as subject; those stay OAuth tokens).
pub(crate) fn routes_here(claims: &Map<String, Value>, issuer: &str) -> bool {
    let spiffe_sub =
        matches!(claims.get("sub"), Some(Value::String(s)) if s.starts_with("spiffe://"));
    let oauth_iss = matches!(claims.get("iss"), Some(Value::String(s)) if s == issuer);
    spiffe_sub && !oauth_iss
}

/// The header checks, before a key is looked up: `kid` present (JWT-SVID §3: the bundle is
/// looked up by it), an algorithm of the specification (RS*, PS*, ES256/384: not EdDSA), and
/// `typ`, if present, `JWT` or `JOSE`.
pub(crate) fn check_header(parsed: &ParsedJwt<'_>) -> Result<(), AuthError> {
    if parsed.kid.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("header has no kid"));
    }
    if parsed.alg == Algorithm::EdDSA {
        return Err(invalid(format_args!(
            "algorithm {} is not allowed for JWT-SVIDs",
            crate::text::sanitize(parsed.alg_name)
        )));
    }
    match &parsed.typ {
        None => Ok(()),
        Some(Some(t)) if t == "JWT" || t == "JOSE" => Ok(()),
        Some(_) => Err(invalid("typ must be JWT or JOSE")),
    }
}

/// The claim checks after the signature: `sub` a SPIFFE ID of `trust_domain` naming a workload
/// (a path after the trust domain), `exp` required and not passed, `nbf`, and a non-empty
/// `aud` (compared with the resource URI by the validator). Returns the SPIFFE ID and `exp`.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    trust_domain: &str,
    skew: u64,
    now: Duration,
) -> Result<(String, u64), AuthError> {
    let sub = match claims.get("sub") {
        Some(Value::String(s)) => s,
        _ => return Err(invalid("token has no sub claim")),
    };
    match spiffe_id_in(sub, trust_domain) {
        Some(path) if !path.is_empty() => {}
        _ => {
            return Err(invalid(format_args!(
                "subject {} is not a workload SPIFFE ID of trust domain {trust_domain}",
                crate::text::sanitize(sub)
            )))
        }
    }
    let exp = jwt::check_times(claims, true, skew, now)?
        .ok_or_else(|| invalid("token has no exp claim"))?;
    Ok((sub.clone(), exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn routing() {
        let i = "https://as.example.com";
        assert!(routes_here(&c(json!({"sub": "spiffe://td/w"})), i));
        assert!(routes_here(
            &c(json!({"sub": "spiffe://td/w", "iss": "https://other"})),
            i
        ));
        assert!(!routes_here(
            &c(json!({"sub": "spiffe://td/w", "iss": i})),
            i
        ));
        assert!(!routes_here(&c(json!({"sub": "user-1"})), i));
        assert!(!routes_here(&c(json!({"sub": 5})), i));
    }

    #[test]
    fn claims() {
        let now = Duration::from_secs(1_000_000);
        let ok = check_claims(
            &c(json!({"sub": "spiffe://td/ns/w", "exp": 1_000_100, "aud": ["x"]})),
            "td",
            0,
            now,
        )
        .unwrap();
        assert_eq!(ok, ("spiffe://td/ns/w".to_string(), 1_000_100));
        let e = |v: Value| check_claims(&c(v), "td", 0, now).unwrap_err().description;
        assert_eq!(
            e(json!({"sub": "spiffe://other/w", "exp": 1_000_100})),
            "invalid JWT-SVID: subject spiffe://other/w is not a workload SPIFFE ID of trust domain td"
        );
        assert!(e(json!({"sub": "spiffe://td", "exp": 1_000_100})).contains("not a workload"));
        assert!(e(json!({"sub": "spiffe://td/a//b", "exp": 1_000_100})).contains("not a workload"));
        assert!(
            e(json!({"sub": "spiffe://td/a/../b", "exp": 1_000_100})).contains("not a workload")
        );
        assert_eq!(e(json!({"sub": "spiffe://td/w"})), "token has no exp claim");
        assert_eq!(
            e(json!({"sub": "spiffe://td/w", "exp": 999_999})),
            "token expired"
        );
        assert_eq!(
            e(json!({"exp": 1_000_100})),
            "invalid JWT-SVID: token has no sub claim"
        );
    }
}

//! JWT access tokens: compact-form parsing (strict JSON, duplicate header or claim names refused),
//! the algorithm allow-list, the rule that the algorithm must fit the key, signature verification
//! (delegated to `jsonwebtoken`'s aws-lc backend), and the `iss` / `exp` / `nbf` checks.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::token::error::{AuthError, Reason};
use crate::token::jwks::{Jwk, KeyType};

/// True when the token has the JWT compact shape (exactly two dots), as the reference decides.
pub fn is_jwt_shaped(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// A signed JWT split into its parts, with header and claims decoded.
pub(crate) struct ParsedJwt<'a> {
    pub alg: Algorithm,
    /// The header `alg` string as sent (e.g. `EdDSA` or `Ed25519`).
    pub alg_name: String,
    pub kid: Option<String>,
    /// The header `typ`: `None` when absent, `Some(None)` when not a string.
    pub typ: Option<Option<String>>,
    pub claims: Map<String, Value>,
    /// `base64(header) "." base64(claims)`: the signed bytes.
    pub message: &'a str,
    pub signature: &'a str,
}

fn invalid(msg: impl fmt::Display) -> AuthError {
    AuthError::invalid_token(format!("invalid JWT: {msg}"))
}

/// Map a header `alg` to a verification algorithm; `none`, HS* and unknown names are refused.
pub(crate) fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" | "Ed25519" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Split and decode a compact JWT. Nothing is trusted yet.
pub(crate) fn parse(token: &str) -> Result<ParsedJwt<'_>, AuthError> {
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| invalid("not a compact JWT"))?;
    let (header_b64, claims_b64) = message
        .split_once('.')
        .ok_or_else(|| invalid("not a compact JWT"))?;
    let header = decode_object(header_b64).map_err(|e| invalid(format_args!("header {e}")))?;
    let alg_name = match header.get("alg") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(invalid("header has no alg")),
    };
    let alg = algorithm(&alg_name).ok_or_else(|| {
        invalid(format_args!(
            "algorithm {} is not allowed",
            crate::text::sanitize(&alg_name)
        ))
    })?;
    if header.contains_key("crit") {
        return Err(invalid("critical header parameters are not supported"));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("kid is not a string")),
    };
    let typ = header.get("typ").map(|v| v.as_str().map(str::to_string));
    if signature.is_empty() {
        return Err(invalid("missing signature"));
    }
    let claims = decode_object(claims_b64).map_err(|e| invalid(format_args!("claims {e}")))?;
    Ok(ParsedJwt {
        alg,
        alg_name,
        kid,
        typ,
        claims,
        message,
        signature,
    })
}

/// Check that `key` may verify a token of this algorithm, then verify the signature.
pub(crate) fn verify_signature(jwt: &ParsedJwt<'_>, key: &Jwk) -> Result<(), AuthError> {
    if !key_fits(jwt.alg, key) {
        return Err(invalid(format_args!(
            "algorithm {} does not fit the key {}",
            jwt.alg_name,
            crate::text::sanitize(key.kid.as_deref().unwrap_or("(no kid)"))
        )));
    }
    // One fixed description whatever failed (undecodable or wrong signature): no library text
    // or signature bytes reach the client.
    let valid = URL_SAFE_NO_PAD
        .decode(jwt.signature)
        .is_ok_and(|sig| key.key.verify(jwt.alg, jwt.message.as_bytes(), &sig));
    if valid {
        Ok(())
    } else {
        Err(invalid("signature verification failed"))
    }
}

/// The algorithm family must match the key type and curve, and a key that names its `alg` must
/// name this one.
pub(crate) fn key_fits(alg: Algorithm, key: &Jwk) -> bool {
    let type_ok = matches!(
        (alg, &key.kty),
        (
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            KeyType::Rsa,
        ) | (Algorithm::ES256, KeyType::P256)
            | (Algorithm::ES384, KeyType::P384)
            | (Algorithm::EdDSA, KeyType::Ed25519)
    );
    type_ok
        && match key.alg.as_deref() {
            None => true,
            Some(named) => algorithm(named) == Some(alg),
        }
}

/// The media type without an `application/` prefix, lower-cased (RFC 7515 §4.1.9: the prefix may
/// be omitted, and media types compare case-insensitively).
fn media_type(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    match t.strip_prefix("application/") {
        Some(rest) => rest.to_string(),
        None => t,
    }
}

/// When `required` is not empty, the header `typ` must name the same media type (`at+jwt`
/// accepts `at+jwt`, `AT+JWT` and `application/at+jwt`). A missing or non-string `typ` fails.
pub(crate) fn check_typ(jwt: &ParsedJwt<'_>, required: &str) -> Result<(), AuthError> {
    if required.trim().is_empty() {
        return Ok(());
    }
    match &jwt.typ {
        Some(Some(t)) if media_type(t) == media_type(required.trim()) => Ok(()),
        _ => Err(invalid(format_args!(
            "typ must be {}",
            crate::text::sanitize(required.trim())
        ))),
    }
}

/// The time-independent and time-dependent claim checks: `iss` exact, `exp` (required unless
/// configured otherwise), `nbf`.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    require_exp: bool,
    skew: u64,
    now: Duration,
) -> Result<Option<u64>, AuthError> {
    match claims.get("iss") {
        Some(Value::String(s)) if s == issuer => {}
        Some(Value::String(s)) => {
            return Err(AuthError::invalid_token(format!(
                "invalid issuer: expected {issuer}, got {s}"
            )))
        }
        _ => {
            return Err(AuthError::invalid_token(
                "invalid issuer: token has no iss claim",
            ))
        }
    }
    check_times(claims, require_exp, skew, now)
}

/// The time checks of [`check_claims`] alone: `exp` (required unless configured otherwise),
/// `nbf`, and `iat` numeric. Returns `exp`.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    require_exp: bool,
    skew: u64,
    now: Duration,
) -> Result<Option<u64>, AuthError> {
    let now_s = now.as_secs_f64();
    let exp = match claims.get("exp") {
        None if require_exp => return Err(AuthError::invalid_token("token has no exp claim")),
        None => None,
        Some(v) => Some(numeric(v, "exp")?),
    };
    if let Some(exp) = exp {
        if now_s >= exp + skew as f64 {
            return Err(AuthError::with_reason(
                Reason::TokenExpired,
                "token expired",
            ));
        }
    }
    if let Some(v) = claims.get("nbf") {
        if numeric(v, "nbf")? > now_s + skew as f64 {
            return Err(AuthError::invalid_token("token not yet valid"));
        }
    }
    if let Some(v) = claims.get("iat") {
        numeric(v, "iat")?;
    }
    Ok(exp.map(|e| e.max(0.0) as u64))
}

fn numeric(v: &Value, name: &str) -> Result<f64, AuthError> {
    v.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| invalid(format_args!("{name} claim is not a number")))
}

/// Decode one base64url segment into a JSON object, refusing duplicate member names.
fn decode_object(segment: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| "is not base64url".to_string())?;
    // Valid UTF-8 is read as a `str` (one UTF-8 check for the segment, not one per string);
    // anything else takes the byte reader, whose error is what it always was.
    let map = match std::str::from_utf8(&bytes) {
        Ok(text) => read_object(serde_json::Deserializer::from_str(text)),
        Err(_) => read_object(serde_json::Deserializer::from_slice(&bytes)),
    }
    .map_err(|e| format!("is not a JSON object ({e})"))?;
    Ok(map)
}

/// One strict object, then nothing but whitespace.
fn read_object<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> serde_json::Result<Map<String, Value>> {
    de.deserialize_map(StrictObject)
        .and_then(|m| de.end().map(|_| m))
}

struct StrictObject;

impl<'de> Visitor<'de> for StrictObject {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value::<Value>()?;
            // One lookup decides and inserts (a claims object has a dozen members).
            match map.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(taken) => {
                    return Err(serde::de::Error::custom(format_args!(
                        "duplicate member {}",
                        crate::text::sanitize(taken.key())
                    )));
                }
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seg(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn shape() {
        assert!(is_jwt_shaped("a.b.c"));
        assert!(!is_jwt_shaped("a.b"));
        assert!(!is_jwt_shaped("a.b.c.d"));
    }

    #[test]
    fn refuses_none_hs_and_duplicates() {
        let claims = seg(r#"{"iss":"i"}"#);
        for alg in ["none", "HS256", "RS1", "ES512"] {
            let t = format!("{}.{claims}.c2ln", seg(&format!(r#"{{"alg":"{alg}"}}"#)));
            assert!(parse(&t).is_err(), "{alg}");
        }
        let t = format!("{}.{claims}.", seg(r#"{"alg":"RS256"}"#));
        assert!(parse(&t).is_err(), "empty signature");
        let t = format!(
            "{}.{}.c2ln",
            seg(r#"{"alg":"RS256"}"#),
            seg(r#"{"iss":"i","iss":"j"}"#)
        );
        assert!(parse(&t).is_err(), "duplicate claim");
        let t = format!("{}.{claims}.c2ln", seg(r#"{"alg":"RS256","alg":"none"}"#));
        assert!(parse(&t).is_err(), "duplicate header");
        let t = format!("{}.{claims}.c2ln", seg(r#"{"alg":"Ed25519","kid":"k"}"#));
        let p = parse(&t).unwrap();
        assert_eq!(p.alg, Algorithm::EdDSA);
        assert_eq!(p.kid.as_deref(), Some("k"));
    }

    #[test]
    fn typ_comparison() {
        let claims = seg(r#"{"iss":"i"}"#);
        let with = |h: &str| format!("{}.{claims}.c2ln", seg(h));
        for ok in [
            r#"{"alg":"RS256","typ":"at+jwt"}"#,
            r#"{"alg":"RS256","typ":"AT+JWT"}"#,
            r#"{"alg":"RS256","typ":"application/at+jwt"}"#,
            r#"{"alg":"RS256","typ":"Application/AT+jwt"}"#,
        ] {
            let t = with(ok);
            check_typ(&parse(&t).unwrap(), "at+jwt").unwrap();
            check_typ(&parse(&t).unwrap(), "application/at+jwt").unwrap();
        }
        for bad in [
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"RS256","typ":7}"#,
            r#"{"alg":"RS256","typ":"at+jwt "}"#,
            r#"{"alg":"RS256","typ":"application/application/at+jwt"}"#,
        ] {
            let t = with(bad);
            let e = check_typ(&parse(&t).unwrap(), "at+jwt").unwrap_err();
            assert_eq!(e.description, "invalid JWT: typ must be at+jwt", "{bad}");
        }
        let t = with(r#"{"alg":"RS256","typ":"JWT"}"#);
        check_typ(&parse(&t).unwrap(), "").unwrap();
    }

    #[test]
    fn claims_checks() {
        let now = Duration::from_secs(1_000_000);
        let c = |v: Value| v.as_object().unwrap().clone();
        assert!(check_claims(&c(json!({"iss":"i","exp":1_000_100})), "i", true, 0, now).is_ok());
        let e = |v: Value, req: bool| {
            check_claims(&c(v), "i", req, 0, now)
                .unwrap_err()
                .description
        };
        assert_eq!(e(json!({"iss":"i","exp":1_000_000}), true), "token expired");
        assert_eq!(e(json!({"iss":"i"}), true), "token has no exp claim");
        assert!(check_claims(&c(json!({"iss":"i"})), "i", false, 0, now).is_ok());
        assert_eq!(
            e(json!({"iss":"i","exp":2_000_000,"nbf":1_000_050}), true),
            "token not yet valid"
        );
        assert!(e(json!({"iss":"x","exp":2_000_000}), true).starts_with("invalid issuer"));
        assert!(e(json!({"iss":"i","exp":"soon"}), true).contains("not a number"));
        assert!(check_claims(&c(json!({"iss":"i","exp":999_990})), "i", true, 30, now).is_ok());
    }
}

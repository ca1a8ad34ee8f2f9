//! JWT access tokens: compact-form parsing (strict JSON, duplicate header or claim names refused;
//! the JOSE header read into a typed, borrowed struct, the claims into the principal's map), the
//! algorithm allow-list, the rule that the algorithm must fit the key, signature verification
//! (delegated to `jsonwebtoken`'s aws-lc backend), and the `iss` / `exp` / `nbf` checks.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::json;
use crate::token::error::{AuthError, Reason};
use crate::token::jwks::{Jwk, KeyType};

/// True when the token has the JWT compact shape (exactly two dots), as the reference decides.
pub fn is_jwt_shaped(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// A signed JWT split into its parts, with header and claims decoded.
pub(crate) struct ParsedJwt<'a> {
    pub alg: Algorithm,
    /// The header `alg` string as sent (e.g. `EdDSA` or `Ed25519`): one of the allowed names.
    pub alg_name: &'static str,
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

/// The allowed header `alg` names, each with its verification algorithm; `none`, HS* and
/// unknown names are not among them.
const ALLOWED: [(&str, Algorithm); 10] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
    ("Ed25519", Algorithm::EdDSA),
];

/// The allowed entry for a header `alg`, its name as a `&'static str`.
fn allowed(name: &str) -> Option<(&'static str, Algorithm)> {
    ALLOWED.iter().find(|(n, _)| *n == name).copied()
}

/// Map a header `alg` to a verification algorithm; `none`, HS* and unknown names are refused.
pub(crate) fn algorithm(name: &str) -> Option<Algorithm> {
    allowed(name).map(|(_, a)| a)
}

/// Split and decode a compact JWT. Nothing is trusted yet.
pub(crate) fn parse(token: &str) -> Result<ParsedJwt<'_>, AuthError> {
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| invalid("not a compact JWT"))?;
    let (header_b64, claims_b64) = message
        .split_once('.')
        .ok_or_else(|| invalid("not a compact JWT"))?;
    let header_bytes =
        decode_segment(header_b64).map_err(|e| invalid(format_args!("header {e}")))?;
    let header = json::read(&header_bytes, StrictObject(JoseHeader::default()))
        .map_err(|e| invalid(format_args!("header is not a JSON object ({e})")))?;
    let (alg_name, alg) = match &header.alg {
        Some(Member::Str(name)) => allowed(name).ok_or_else(|| {
            invalid(format_args!(
                "algorithm {} is not allowed",
                crate::text::sanitize(name)
            ))
        })?,
        _ => return Err(invalid("header has no alg")),
    };
    if header.crit {
        return Err(invalid("critical header parameters are not supported"));
    }
    let kid = match header.kid {
        None => None,
        Some(Member::Str(s)) => Some(s.into_owned()),
        Some(Member::Other) => return Err(invalid("kid is not a string")),
    };
    let typ = header.typ.map(|t| match t {
        Member::Str(s) => Some(s.into_owned()),
        Member::Other => None,
    });
    if signature.is_empty() {
        return Err(invalid("missing signature"));
    }
    let claims_bytes =
        decode_segment(claims_b64).map_err(|e| invalid(format_args!("claims {e}")))?;
    // Sized once from the segment (a member takes at least ~20 bytes in practice): the map is
    // not grown and re-indexed member by member.
    let members = (claims_bytes.len() / 20).clamp(4, 32);
    let claims = json::read(&claims_bytes, StrictObject(Map::with_capacity(members)))
        .map_err(|e| invalid(format_args!("claims is not a JSON object ({e})")))?;
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

/// Decode one base64url segment.
fn decode_segment(segment: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| "is not base64url")
}

/// One strict object (duplicate member names refused), then nothing but whitespace, its
/// members gathered by `M`.
struct StrictObject<M>(M);

impl<'de, M: Members<'de>> json::JsonRead<'de> for StrictObject<M> {
    type Output = M;

    fn read<R: serde_json::de::Read<'de>>(
        self,
        mut de: serde_json::Deserializer<R>,
    ) -> serde_json::Result<M> {
        de.deserialize_map(self).and_then(|m| de.end().map(|_| m))
    }
}

impl<'de, M: Members<'de>> Visitor<'de> for StrictObject<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<M, A::Error> {
        let mut members = self.0;
        while let Some(name) = access.next_key_seed(NameSeed)? {
            if let Some(taken) = members.take(name, &mut access)? {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate member {}",
                    crate::text::sanitize(&taken)
                )));
            }
        }
        Ok(members)
    }
}

/// Where the members of a [`StrictObject`] go.
trait Members<'de> {
    /// Read the value of member `name` from `access`; the name back when it was already
    /// taken (the value is read first, so a malformed value is reported before the duplicate,
    /// as a full parse would).
    fn take<A: MapAccess<'de>>(
        &mut self,
        name: Cow<'de, str>,
        access: &mut A,
    ) -> Result<Option<Cow<'de, str>>, A::Error>;
}

/// Claims: every member kept (they become the principal's claims).
impl<'de> Members<'de> for Map<String, Value> {
    fn take<A: MapAccess<'de>>(
        &mut self,
        name: Cow<'de, str>,
        access: &mut A,
    ) -> Result<Option<Cow<'de, str>>, A::Error> {
        let value = access.next_value::<Value>()?;
        // One lookup decides and inserts (a claims object has a dozen members).
        Ok(match self.entry(name.into_owned()) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(value);
                None
            }
            serde_json::map::Entry::Occupied(taken) => Some(Cow::Owned(taken.key().clone())),
        })
    }
}

/// The JOSE header members the core reads, borrowed from the decoded header where they carry
/// no escape. Every other member is still read in full (as `serde_json::Value`, so what the
/// header accepts and refuses is what it was when the whole header was a map) and dropped.
#[derive(Default)]
struct JoseHeader<'h> {
    alg: Option<Member<'h>>,
    kid: Option<Member<'h>>,
    typ: Option<Member<'h>>,
    crit: bool,
    /// The names of the other members (duplicates are refused among them too).
    others: BTreeSet<Cow<'h, str>>,
}

/// A header member's value: a string, or anything else.
enum Member<'h> {
    Str(Cow<'h, str>),
    Other,
}

impl<'de> Members<'de> for JoseHeader<'de> {
    fn take<A: MapAccess<'de>>(
        &mut self,
        name: Cow<'de, str>,
        access: &mut A,
    ) -> Result<Option<Cow<'de, str>>, A::Error> {
        let slot = match &*name {
            "alg" => &mut self.alg,
            "kid" => &mut self.kid,
            "typ" => &mut self.typ,
            _ => {
                access.next_value::<Value>()?;
                let fresh = if name == "crit" {
                    !std::mem::replace(&mut self.crit, true)
                } else {
                    self.others.insert(name.clone())
                };
                return Ok((!fresh).then_some(name));
            }
        };
        let value = access.next_value_seed(MemberSeed)?;
        if slot.is_some() {
            return Ok(Some(name));
        }
        *slot = Some(value);
        Ok(None)
    }
}

/// A member name, borrowed when it has no escape.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(CowStr)
    }
}

struct CowStr;

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A header member's value: a string is kept; anything else is read exactly as
/// `serde_json::Value` reads it (same acceptance, same errors, and a string when `Value` would
/// make one) and otherwise dropped.
struct MemberSeed;

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Member<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<Self::Value, S::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|_| Member::Other)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        // `Value` reads an object whose one member is serde_json's RawValue marker as the
        // JSON its string holds, which may be a string (docs/fuzzing.md): so does this.
        Ok(match Value::deserialize(MapAccessDeserializer::new(map))? {
            Value::String(s) => Member::Str(Cow::Owned(s)),
            _ => Member::Other,
        })
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

    /// `alg_name`, `kid` and `typ` of a parsed header.
    type HeaderAnswer = (&'static str, Option<String>, Option<Option<String>>);

    /// The header as the core read it before the typed header: the whole header a strict
    /// map, then `alg`, `crit`, `kid` and `typ` taken from it in that order.
    fn header_by_map(header: &[u8]) -> Result<HeaderAnswer, String> {
        let header = json::read(header, StrictObject(Map::new()))
            .map_err(|e| invalid(format_args!("header is not a JSON object ({e})")).description)?;
        let name = match header.get("alg") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(invalid("header has no alg").description),
        };
        let (alg_name, _) = allowed(&name).ok_or_else(|| {
            invalid(format_args!(
                "algorithm {} is not allowed",
                crate::text::sanitize(&name)
            ))
            .description
        })?;
        if header.contains_key("crit") {
            return Err(invalid("critical header parameters are not supported").description);
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid("kid is not a string").description),
        };
        Ok((
            alg_name,
            kid,
            header.get("typ").map(|v| v.as_str().map(str::to_string)),
        ))
    }

    #[test]
    fn the_typed_header_answers_like_the_map() {
        let claims = seg(r#"{"iss":"i"}"#);
        let headers: Vec<Vec<u8>> = [
            r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#,
            r#"{"alg":"Ed25519"}"#,
            r#"{"alg":"RS256","kid":"k\u00e9\"q","typ":"a\/b"}"#,
            r#"{"\u0061lg":"ES256","kid":"k"}"#,
            r#"{"alg":"RS256","\u0061lg":"none"}"#,
            r#"{"alg":"RS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"RS256","typ":1,"typ":2}"#,
            r#"{"alg":"RS256","x5t":"a","x5t":{"b":1}}"#,
            r#"{"alg":"RS256","x":1,"y":2,"x":[1]}"#,
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","crit":null,"crit":null}"#,
            r#"{"alg":"RS256","crit":1e400}"#,
            r#"{"alg":"RS256","x":1e400}"#,
            r#"{"alg":"RS256","kid":1e400}"#,
            r#"{"alg":"RS256","x":"\ud800"}"#,
            r#"{"alg":"RS256","kid":"\udc00"}"#,
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"alg":"RS256","kid":["k"]}"#,
            r#"{"alg":"RS256","kid":{"$serde_json::private::RawValue":"\t:"}}"#,
            r#"{"alg":"RS256","x":{"$serde_json::private::RawValue":"\t:"}}"#,
            r#"{"alg":"RS256","x":{"$serde_json::private::RawValue":"[1]"}}"#,
            r#"{"alg":{"$serde_json::private::RawValue":"\"RS256\""}}"#,
            r#"{"alg":"RS256","kid":{"$serde_json::private::RawValue":"\"k\""}}"#,
            r#"{"alg":"RS256","typ":{"$serde_json::private::RawValue":"\"at+jwt\""}}"#,
            r#"{"alg":"RS256","crit":{"$serde_json::private::RawValue":"1"}}"#,
            r#"{"alg":"RS256","typ":null}"#,
            r#"{"alg":["RS256"]}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"rs256"}"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":"RS256","d":[[[[[[[[1]]]]]]]]}"#,
            r#"{"alg":"RS256"} x"#,
            r#"{"alg":"RS256",}"#,
            r#"["RS256"]"#,
            r#""alg""#,
            r#"{"alg":"RS256""#,
            "",
            " {\"alg\" : \"PS256\" } \n",
        ]
        .iter()
        .map(|h| h.as_bytes().to_vec())
        .chain([
            b"{\"alg\":\"RS256\",\"kid\":\"\xff\"}".to_vec(),
            b"{\"alg\":\"RS256\",\"\xc3\":1}".to_vec(),
            b"{\"alg\":\"RS\xe9256\"}".to_vec(),
            format!(
                r#"{{"alg":"RS256","d":{}1{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            )
            .into_bytes(),
        ])
        .collect();
        for h in &headers {
            let token = format!("{}.{claims}.c2ln", URL_SAFE_NO_PAD.encode(h));
            let typed = parse(&token)
                .map(|p| (p.alg_name, p.kid, p.typ))
                .map_err(|e| e.description);
            assert_eq!(typed, header_by_map(h), "{}", String::from_utf8_lossy(h));
        }
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

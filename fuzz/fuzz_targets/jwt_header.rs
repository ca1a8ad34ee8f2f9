//! Compact-JWT and JOSE header parsing, and JWK reading.
//!
//! Input: byte 0 picks the form. Even: the rest is the token text. Odd, bit 1 clear: the rest is
//! `header JSON \n claims JSON \n signature`, base64url-encoded here into a token, so the fuzzer
//! works on the JSON. Odd, bit 1 set: the rest is one JWK (JSON) read as an OAuth JWKS reads it.
//!
//! Invariants:
//! - the parser accepts a token exactly when, decoded independently here, it has three
//!   dot-separated segments, a header and claims that are JSON objects without a repeated
//!   top-level member, a string `alg` on the allow-list (RS/PS 256-512, ES256, ES384, EdDSA /
//!   Ed25519: never `none` or HS*), no `crit`, a string `kid` when there is one, and a non-empty
//!   signature;
//! - when it accepts, it reports that `alg`, `kid`, `typ` and claims, and the signed message is
//!   the first two segments;
//! - a JWK is usable only with `use` absent or `sig` and a key type it can verify with.

#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use authsec_core::fuzzing::{is_jwt_shaped, jwt_algorithm_allowed, parse_jwk, parse_jwt};

const ALLOWED_ALGS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "Ed25519",
];

/// A JSON object's members in order, repeats kept (values as `serde_json` reads them).
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, Value>()? {
                    v.push(e);
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// One segment as a JSON object without repeated members, decoded independently.
fn object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    let Members(m) = serde_json::from_slice(&bytes).ok()?;
    let mut out = Map::new();
    for (k, v) in m {
        if out.insert(k, v).is_some() {
            return None;
        }
    }
    Some(out)
}

/// What the parser must report for `token`, or `None` when it must refuse it.
type Expected = (
    String,
    Option<String>,
    Option<Option<String>>,
    Map<String, Value>,
);

fn expected(token: &str) -> Option<Expected> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, sig] = parts[..] else { return None };
    let header = object(h)?;
    let alg = header.get("alg")?.as_str()?.to_string();
    if !ALLOWED_ALGS.contains(&alg.as_str()) || header.contains_key("crit") {
        return None;
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let typ = header.get("typ").map(|v| v.as_str().map(str::to_string));
    if sig.is_empty() {
        return None;
    }
    Some((alg, kid, typ, object(c)?))
}

fn check_token(token: &str) {
    let ours = parse_jwt(token);
    match (expected(token), ours) {
        (None, Err(description)) => {
            assert!(!description.is_empty());
        }
        (Some((alg, kid, typ, claims)), Ok(parts)) => {
            assert!(is_jwt_shaped(token));
            assert!(jwt_algorithm_allowed(&parts.alg_name));
            assert_eq!(parts.alg_name, alg);
            assert_eq!(parts.kid, kid);
            assert_eq!(parts.typ, typ);
            assert_eq!(parts.claims, claims);
            let (message, signature) = token.rsplit_once('.').expect("two dots");
            assert_eq!(parts.message, message);
            assert_eq!(parts.signature, signature);
        }
        (Some(_), Err(e)) => panic!("refused a well-formed token: {e}"),
        (None, Ok(p)) => panic!("accepted a token it must refuse: alg {:?}", p.alg_name),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    for name in ALLOWED_ALGS {
        assert!(jwt_algorithm_allowed(name));
    }
    if mode & 1 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            assert_eq!(jwt_algorithm_allowed(token), ALLOWED_ALGS.contains(&token));
            check_token(token);
        }
        return;
    }
    if mode & 2 == 0 {
        let mut parts = rest.splitn(3, |b| *b == b'\n');
        let header = parts.next().unwrap_or_default();
        let claims = parts.next().unwrap_or_default();
        let sig = parts.next().unwrap_or_default();
        let Ok(sig) = std::str::from_utf8(sig) else {
            return;
        };
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
            sig
        );
        check_token(&token);
        return;
    }
    let Ok(jwk) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    if let Some((kid, alg)) = parse_jwk(&jwk) {
        let obj = jwk.as_object().expect("a usable JWK is an object");
        assert!(
            matches!(obj.get("use"), None | Some(Value::Null))
                || obj.get("use").and_then(Value::as_str) == Some("sig")
        );
        assert!(matches!(
            obj.get("kty").and_then(Value::as_str),
            Some("RSA" | "EC" | "OKP")
        ));
        if let Some(alg) = alg {
            assert_eq!(obj.get("alg").and_then(Value::as_str), Some(alg.as_str()));
        }
        if let Some(kid) = kid {
            assert!(
                obj.get("kid").is_some(),
                "a kid the JWK does not carry: {kid}"
            );
        }
    }
});

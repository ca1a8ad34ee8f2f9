//! Entry points for the coverage-guided fuzz targets of `fuzz/` (cargo feature `fuzzing`, off by
//! default, `#[doc(hidden)]`): the crate's private parsers behind a small surface, so the targets
//! exercise the very code the runtime runs. Not part of the API; nothing here is stable.

use serde_json::{Map, Value};

pub use crate::request::jsonrpc::{Body, Envelope, Id, Item, ParseError};
pub use crate::response::challenge::ChallengeBuilder;
pub use crate::text::{sanitize, MAX_ATTRIBUTE_CHARS};
pub use crate::token::jwt::is_jwt_shaped;

/// The strict JSON-RPC envelope reader the decision uses.
pub fn parse_jsonrpc(body: &[u8]) -> Result<Body, ParseError> {
    crate::request::jsonrpc::parse(body)
}

/// What the compact-JWT parser read from a token (header fields and claims; nothing verified).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtParts {
    /// The header `alg` as sent.
    pub alg_name: String,
    /// The header `kid`.
    pub kid: Option<String>,
    /// The header `typ`: `None` when absent, `Some(None)` when not a string.
    pub typ: Option<Option<String>>,
    /// The decoded claims.
    pub claims: Map<String, Value>,
    /// The signed bytes: `base64(header) "." base64(claims)`.
    pub message: String,
    /// The signature segment.
    pub signature: String,
}

/// The compact-JWT and JOSE header parser; the error is the `error_description` a client sees.
pub fn parse_jwt(token: &str) -> Result<JwtParts, String> {
    crate::token::jwt::parse(token)
        .map(|j| JwtParts {
            alg_name: j.alg_name.to_string(),
            kid: j.kid,
            typ: j.typ,
            claims: j.claims,
            message: j.message.to_string(),
            signature: j.signature.to_string(),
        })
        .map_err(|e| e.description)
}

/// Whether a header `alg` is on the verification allow-list.
pub fn jwt_algorithm_allowed(name: &str) -> bool {
    crate::token::jwt::algorithm(name).is_some()
}

/// One JWK as an OAuth JWKS reads it (`use` absent or `sig`): `Some((kid, alg))` when usable.
pub fn parse_jwk(v: &Value) -> Option<(Option<String>, Option<String>)> {
    crate::token::jwks::parse_key(v, crate::token::jwks::KeyUse::Sig).map(|k| (k.kid, k.alg))
}

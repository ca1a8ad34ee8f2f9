//! What a sign-in session is: its id, the keys it is stored under, and the serialized record.
//!
//! A session id is 256 bits from aws-lc-rs's random generator, shown to the client as 43
//! base64url characters. The store never sees the id: a session is stored under the SHA-256 of
//! its id ([`session_key`]), a pending sign-in's `state` under the SHA-256 of the state
//! ([`state_key`]), so a dump of the store names no usable id. On every lookup the record's
//! own digest of the id is compared with the presented one in constant time.
//!
//! The record is serde JSON with a version number; its secrets (tokens, the PKCE verifier, the
//! nonce) are [`SecretText`], which serializes as the text (the store needs it; the Redis store
//! encrypts the whole value) but never shows in `Debug`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};

/// The version of [`SessionRecord`]'s serialized form; a record of another version is treated
/// as absent (sign in again), never guessed at.
pub const RECORD_VERSION: u32 = 1;

/// The number of random bytes in a session id (256 bits).
pub const SESSION_ID_BYTES: usize = 32;

/// The length of a session id's text form (base64url without padding).
pub const SESSION_ID_CHARS: usize = 43;

/// A session id: 256 random bits. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; SESSION_ID_BYTES]);

impl SessionId {
    /// A fresh id from the system's cryptographic random generator.
    pub fn generate() -> Result<SessionId> {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| Error::new(ErrorCode::Internal, "no randomness for a session id"))?;
        Ok(SessionId(bytes))
    }

    /// Reads the text form; anything but 43 base64url characters decoding to 32 bytes is
    /// `None` (the caller answers "invalid session", never echoing the input).
    pub fn parse(text: &str) -> Option<SessionId> {
        if text.len() != SESSION_ID_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let bytes: [u8; SESSION_ID_BYTES] = bytes.try_into().ok()?;
        // Reject non-canonical encodings (trailing bits set), so one id has one text form.
        (URL_SAFE_NO_PAD.encode(bytes) == text).then_some(SessionId(bytes))
    }

    /// The text form handed to the client.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The SHA-256 of the id, base64url: what a record keeps to check the id against.
    pub fn digest(&self) -> String {
        digest_text(&self.0)
    }

    /// Whether `record_digest` (a record's `id_digest`) is this id's digest, compared in
    /// constant time.
    pub fn matches(&self, record_digest: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.digest().as_bytes(),
            record_digest.as_bytes(),
        )
        .is_ok()
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// 256 random bits as base64url text: a `state`, a nonce or a PKCE verifier (RFC 7636: 43
/// characters from the unreserved set).
pub fn random_text() -> Result<SecretText> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::new(ErrorCode::Internal, "no randomness for a sign-in secret"))?;
    Ok(SecretText(URL_SAFE_NO_PAD.encode(bytes)))
}

/// base64url(SHA-256(bytes)).
pub fn digest_text(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// The store key of a session: a digest of its id, never the id.
pub fn session_key(id: &SessionId) -> String {
    format!("session:{}", id.digest())
}

/// The store key of a pending sign-in's `state`: a digest of the state. Its value is the
/// session's [`session_key`]; the callback `take`s it, so a state (and the code that came with
/// it) works once.
pub fn state_key(state: &str) -> String {
    format!("state:{}", digest_text(state.as_bytes()))
}

/// Text that must not show in logs or `Debug` (a token, a PKCE verifier, a nonce). Serializes
/// as the plain text: the store needs it back (the Redis store encrypts the whole value).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl SecretText {
    /// The text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One sign-in session as stored (serde JSON, [`RECORD_VERSION`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// [`RECORD_VERSION`].
    pub v: u32,
    /// [`SessionId::digest`] of the session's id, checked in constant time on every lookup.
    pub id_digest: String,
    /// When the session was created (Unix seconds).
    pub created_at: u64,
    /// When the session ends (Unix seconds): the sign-in window while pending, then the token's
    /// expiry (or the refresh token's lifetime when one exists). The store's TTL follows it.
    pub expires_at: u64,
    /// The MCP session (`Mcp-Session-Id`) that called `oauth_start`, if the transport had one:
    /// a `tools/list` on that MCP session is answered for this sign-in session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_session: Option<String>,
    /// The sign-in in progress (between `oauth_start` and the callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingSignIn>,
    /// The validated tokens, once signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<SessionTokens>,
}

/// What `oauth_start` remembers for the callback.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingSignIn {
    /// The digest of the `state` sent to the authorization server, checked in constant time.
    pub state_digest: String,
    /// The OIDC `nonce` sent, checked against the ID token's `nonce` claim.
    pub nonce: SecretText,
    /// The PKCE `code_verifier` (S256 challenge sent).
    pub code_verifier: SecretText,
    /// The `redirect_uri` sent (the token request repeats it).
    pub redirect_uri: String,
    /// Where the success page sends the browser afterwards, if the client asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// How a session's tokens were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The authorization code flow's callback.
    AuthorizationCode,
    /// `oauth_authenticate` with a pasted token.
    Pasted,
    /// A refresh-token grant.
    Refresh,
}

/// A signed-in session's tokens. The access token was validated like a bearer token before it
/// was stored, and is validated again on every use.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTokens {
    /// The access token (validated like a bearer token on every use).
    pub access_token: SecretText,
    /// The refresh token, when the authorization server issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<SecretText>,
    /// The ID token, when OIDC (its `nonce` was checked at the callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<SecretText>,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: u64,
    /// How the tokens were obtained.
    pub source: TokenSource,
}

impl SessionRecord {
    /// The record as stored.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|_| Error::new(ErrorCode::Internal, "a session record did not serialize"))
    }

    /// A stored record; `None` for bytes that are not a record of this version (treated as no
    /// session).
    pub fn from_bytes(bytes: &[u8]) -> Option<SessionRecord> {
        serde_json::from_slice::<SessionRecord>(bytes)
            .ok()
            .filter(|r| r.v == RECORD_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_43_chars_round_trip_and_differ() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        let text = a.to_text();
        assert_eq!(text.len(), SESSION_ID_CHARS);
        assert_eq!(SessionId::parse(&text), Some(a.clone()));
        assert!(a.matches(&a.digest()));
        assert!(!a.matches(&b.digest()));
        assert_eq!(format!("{a:?}"), "SessionId(<redacted>)");
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "abc", &"A".repeat(42), &"A".repeat(44), &"*".repeat(43)] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
        // Non-canonical: the last character carries bits past 256.
        let mut text = SessionId::generate().unwrap().to_text();
        text.pop();
        text.push('B');
        let canon = SessionId::parse(&text).map(|i| i.to_text());
        assert!(canon.is_none() || canon.as_deref() == Some(text.as_str()));
    }

    #[test]
    fn records_round_trip_and_hide_secrets_in_debug() {
        let id = SessionId::generate().unwrap();
        let rec = SessionRecord {
            v: RECORD_VERSION,
            id_digest: id.digest(),
            created_at: 1,
            expires_at: 2,
            mcp_session: None,
            pending: None,
            tokens: Some(SessionTokens {
                access_token: SecretText("tok-secret".into()),
                refresh_token: None,
                id_token: None,
                access_expires_at: 2,
                source: TokenSource::Pasted,
            }),
        };
        let bytes = rec.to_bytes().unwrap();
        let back = SessionRecord::from_bytes(&bytes).unwrap();
        assert_eq!(back.tokens.unwrap().access_token.expose(), "tok-secret");
        assert!(!format!("{rec:?}").contains("tok-secret"));
        let mut other = rec.clone();
        other.v = RECORD_VERSION + 1;
        assert!(SessionRecord::from_bytes(&other.to_bytes().unwrap()).is_none());
        assert!(SessionRecord::from_bytes(b"not json").is_none());
    }

    #[test]
    fn keys_hide_the_secret() {
        let id = SessionId::generate().unwrap();
        assert!(!session_key(&id).contains(&id.to_text()));
        assert!(!state_key("the-state").contains("the-state"));
    }
}

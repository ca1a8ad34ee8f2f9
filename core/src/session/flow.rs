//! The sign-in flow behind the `oauth_*` tools: discovery of the authorization server, the
//! authorization code flow with PKCE (S256), `state` and `nonce`, the RFC 8707 resource, the
//! callback's code exchange, pasted tokens, status, logout with RFC 7009 revocation, user info
//! and refresh.
//!
//! Every token that enters a session was validated by the runtime's validator exactly like a
//! bearer token (signature, issuer, audience, expiry) before it is stored, and is validated
//! again on every use. A session id that is malformed, unknown, expired or belongs to another
//! session's digest gets one answer (`invalid_session`), so guessing learns nothing.
//!
//! This module decides and returns data; `session::answer` writes the bytes.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::record::{
    random_text, session_key, state_key, PendingSignIn, SecretText, SessionId, SessionRecord,
    SessionTokens, TokenSource, RECORD_VERSION,
};
use super::store::SessionStore;
use crate::audit::event::ValidationPath;
use crate::audit::metrics::Endpoint;
use crate::backend::http::{Basic, HttpClient};
use crate::clock::Clock;
use crate::config::SignInConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::token::error::{AuthError, Reason};
use crate::token::principal::Principal;
use crate::token::validator::Validator;

/// What discovery found about the authorization server.
#[derive(Debug, Clone)]
pub(crate) struct ServerMetadata {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
}

/// Why a session could not be used. Each becomes one answer; none echoes the caller's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Malformed, unknown, expired or foreign: the same answer for all.
    InvalidSession,
    /// The session exists but nobody has signed in yet.
    NotSignedIn,
    /// The session's token (or a pasted one) was refused by the validator.
    Token(AuthError),
    /// The authorization server or the store failed.
    Unavailable(String),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        Problem::Unavailable(e.message().to_string())
    }
}

/// The answer of `oauth_start`.
#[derive(Debug)]
pub(crate) struct Started {
    pub session_id: String,
    pub authorization_url: String,
    pub expires_in: u64,
}

/// The outcome of the callback route.
#[derive(Debug)]
pub(crate) enum Callback {
    /// Signed in: the page says so (it never shows a token or the session id).
    Success,
    /// Anything else, with a message for the page (HTML-escaped by the page writer).
    Failure(String),
}

/// A session's state as `oauth_status` reports it.
#[derive(Debug)]
pub(crate) struct Status {
    pub authenticated: bool,
    pub expires_in: u64,
    pub principal: Option<Arc<Principal>>,
}

/// The sign-in service of one runtime.
pub(crate) struct SignIn {
    cfg: SignInConfig,
    issuer: String,
    resource: String,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    store: Arc<dyn SessionStore>,
    metadata: tokio::sync::OnceCell<Arc<ServerMetadata>>,
}

fn unavailable(m: impl Into<String>) -> Error {
    Error::new(ErrorCode::Backend, m)
}

impl SignIn {
    pub(crate) fn new(
        cfg: SignInConfig,
        issuer: String,
        resource: String,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        store: Arc<dyn SessionStore>,
    ) -> SignIn {
        SignIn {
            cfg,
            issuer,
            resource,
            http,
            clock,
            store,
            metadata: tokio::sync::OnceCell::new(),
        }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &SignInConfig {
        &self.cfg
    }

    /// The store's kind (`memory`, `redis`).
    pub(crate) fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    fn now(&self) -> u64 {
        self.clock.now().as_secs()
    }

    /// The authorization server's metadata: OIDC discovery first, then RFC 8414; the document's
    /// `issuer` must equal the configured one (RFC 8414 §3.3, OIDC Discovery §4.3). Cached once
    /// found; a failure is retried on the next call.
    pub(crate) async fn server(&self) -> Result<Arc<ServerMetadata>> {
        self.metadata
            .get_or_try_init(|| async { self.discover().await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn discover(&self) -> Result<ServerMetadata> {
        let issuer = self.issuer.trim_end_matches('/');
        let mut urls = vec![format!("{issuer}/.well-known/openid-configuration")];
        if let Ok(u) = url::Url::parse(&self.issuer) {
            let path = u.path().trim_end_matches('/');
            let origin = u.origin().ascii_serialization();
            urls.push(format!(
                "{origin}/.well-known/oauth-authorization-server{path}"
            ));
        }
        let mut last = String::from("no discovery document");
        for url in urls {
            match self.http.get_json(Endpoint::SignIn, &url, None).await {
                Ok((200, body)) => return self.read_metadata(&body),
                Ok((status, _)) => last = format!("discovery answered HTTP {status}"),
                Err(e) => last = format!("discovery failed: {e}"),
            }
        }
        Err(unavailable(format!(
            "the authorization server's metadata could not be read ({last})"
        )))
    }

    fn read_metadata(&self, body: &[u8]) -> Result<ServerMetadata> {
        let bad = |m: &str| unavailable(format!("the authorization server's metadata {m}"));
        let doc: Map<String, Value> =
            serde_json::from_slice(body).map_err(|_| bad("is not a JSON object"))?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        if text("issuer").as_deref() != Some(self.issuer.as_str()) {
            return Err(bad("names another issuer"));
        }
        let url = |k: &str| -> Result<Option<String>> {
            match text(k) {
                None => Ok(None),
                Some(u) if crate::config::is_http_url(&u) => Ok(Some(u)),
                Some(_) => Err(bad(&format!("has a {k} that is not an http(s) URL"))),
            }
        };
        if let Some(methods) = doc
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
        {
            if !methods.iter().any(|m| m.as_str() == Some("S256")) {
                return Err(bad("does not offer PKCE S256"));
            }
        }
        Ok(ServerMetadata {
            authorization_endpoint: url("authorization_endpoint")?
                .ok_or_else(|| bad("has no authorization_endpoint"))?,
            token_endpoint: url("token_endpoint")?.ok_or_else(|| bad("has no token_endpoint"))?,
            revocation_endpoint: url("revocation_endpoint")?,
            userinfo_endpoint: url("userinfo_endpoint")?,
        })
    }

    /// `oauth_start`: a new session, pending, and the authorization URL for the browser.
    pub(crate) async fn start(
        &self,
        mcp_session: Option<&str>,
        return_url: Option<&str>,
    ) -> Result<Started> {
        let server = self.server().await?;
        let id = SessionId::generate()?;
        let state = random_text()?;
        let nonce = random_text()?;
        let verifier = random_text()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()));
        let mut url = url::Url::parse(&server.authorization_endpoint)
            .map_err(|_| unavailable("the authorization endpoint is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.cfg.client_id)
            .append_pair("redirect_uri", &self.cfg.redirect_uri)
            .append_pair("scope", &self.cfg.scopes.join(" "))
            .append_pair("state", state.expose())
            .append_pair("nonce", nonce.expose())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", &self.resource);
        let now = self.now();
        let window = self.cfg.sign_in_window_seconds;
        let record = SessionRecord {
            v: RECORD_VERSION,
            id_digest: id.digest(),
            created_at: now,
            expires_at: now + window,
            mcp_session: mcp_session
                .filter(|s| !s.is_empty())
                .map(|s| super::record::digest_text(s.as_bytes())),
            pending: Some(PendingSignIn {
                state_digest: super::record::digest_text(state.expose().as_bytes()),
                nonce,
                code_verifier: verifier,
                redirect_uri: self.cfg.redirect_uri.clone(),
                return_url: return_url.filter(|u| !u.is_empty()).map(str::to_string),
            }),
            tokens: None,
        };
        let key = session_key(&id);
        let ttl = Duration::from_secs(window);
        self.store.put(&key, record.to_bytes()?, ttl).await?;
        self.store
            .put(&state_key(state.expose()), key.into_bytes(), ttl)
            .await?;
        if let Some(m) = &record.mcp_session {
            self.store
                .put(&mcp_key(m), id.to_text().into_bytes(), ttl)
                .await?;
        }
        Ok(Started {
            session_id: id.to_text(),
            authorization_url: url.into(),
            expires_in: window,
        })
    }

    /// The callback route: `state` is consumed (single use), the code exchanged at the token
    /// endpoint with the PKCE verifier, the ID token's `nonce` checked, the access token
    /// validated like a bearer token, then the session is signed in.
    pub(crate) async fn callback(&self, query: &str, validator: &Validator) -> Callback {
        match self.try_callback(query, validator).await {
            Ok(()) => Callback::Success,
            Err(m) => Callback::Failure(m),
        }
    }

    async fn try_callback(
        &self,
        query: &str,
        validator: &Validator,
    ) -> std::result::Result<(), String> {
        let mut code = None;
        let mut state = None;
        let mut error = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "code" => &mut code,
                "state" => &mut state,
                "error" => &mut error,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("The sign-in answer repeats the {k} parameter."));
            }
            *slot = Some(v.into_owned());
        }
        let Some(state) = state.filter(|s| !s.is_empty()) else {
            return Err("The sign-in answer has no state.".into());
        };
        // Consume the state first: whatever happens next, this state and its code work once.
        let taken = self
            .store
            .take(&state_key(&state))
            .await
            .map_err(|_| STORE_DOWN.to_string())?;
        let Some(key) = taken.and_then(|k| String::from_utf8(k).ok()) else {
            return Err(UNKNOWN_STATE.into());
        };
        if let Some(e) = error {
            return Err(format!(
                "The authorization server did not sign you in ({}).",
                super::answer::clip(&e, 80)
            ));
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Err("The sign-in answer has no code.".into());
        };
        let bytes = self
            .store
            .get(&key)
            .await
            .map_err(|_| STORE_DOWN.to_string())?;
        let mut record = bytes
            .as_deref()
            .and_then(SessionRecord::from_bytes)
            .filter(|r| r.expires_at > self.now())
            .ok_or_else(|| UNKNOWN_STATE.to_string())?;
        let Some(pending) = record.pending.take() else {
            return Err(UNKNOWN_STATE.into());
        };
        let state_digest = super::record::digest_text(state.as_bytes());
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            state_digest.as_bytes(),
            pending.state_digest.as_bytes(),
        )
        .is_err()
        {
            return Err(UNKNOWN_STATE.into());
        }
        let server = self
            .server()
            .await
            .map_err(|_| "The authorization server could not be reached.".to_string())?;
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("code_verifier", pending.code_verifier.expose()),
            ("resource", self.resource.as_str()),
        ];
        let tokens = self
            .token_request(&server, &grant)
            .await
            .map_err(|m| format!("The authorization server refused the code ({m})."))?;
        if let Some(id_token) = &tokens.id_token {
            self.check_id_token(id_token.expose(), pending.nonce.expose())
                .map_err(|m| format!("The ID token was not accepted ({m})."))?;
        }
        let principal = validate(validator, tokens.access_token.expose())
            .await
            .map_err(|e| {
                format!(
                    "The access token the authorization server issued is not accepted here ({}).",
                    e.reason.as_str()
                )
            })?;
        self.sign_in(
            &key,
            record,
            tokens,
            &principal,
            TokenSource::AuthorizationCode,
        )
        .await
        .map_err(|_| STORE_DOWN.to_string())
    }

    /// Stores a validated token in the session and sets the session's lifetime.
    async fn sign_in(
        &self,
        key: &str,
        mut record: SessionRecord,
        mut tokens: Granted,
        principal: &Principal,
        source: TokenSource,
    ) -> Result<()> {
        let now = self.now();
        let access_exp = principal
            .expires_at()
            .or(tokens.expires_in.map(|s| now + s))
            .unwrap_or(now + self.cfg.max_session_seconds);
        let limit = record.created_at + self.cfg.max_session_seconds;
        let expires_at = if tokens.refresh_token.is_some() {
            limit
        } else {
            access_exp.min(limit)
        };
        record.pending = None;
        record.expires_at = expires_at;
        record.tokens = Some(SessionTokens {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.take(),
            id_token: tokens.id_token.take(),
            access_expires_at: access_exp,
            source,
        });
        let ttl = Duration::from_secs(expires_at.saturating_sub(now));
        self.store.put(key, record.to_bytes()?, ttl).await?;
        if let Some(m) = &record.mcp_session {
            // The MCP session's pointer lives as long as the sign-in session.
            if let Some(id) = self.store.get(&mcp_key(m)).await? {
                self.store.put(&mcp_key(m), id, ttl).await?;
            }
        }
        Ok(())
    }

    async fn token_request(
        &self,
        server: &ServerMetadata,
        grant: &[(&str, &str)],
    ) -> std::result::Result<Granted, String> {
        let secret = self.cfg.client_secret.expose();
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        let auth = if secret.is_empty() {
            form.push(("client_id", self.cfg.client_id.as_str()));
            None
        } else {
            Some(Basic {
                user: &self.cfg.client_id,
                password: secret,
            })
        };
        let (status, body) = self
            .http
            .post_form_as(Endpoint::SignIn, &server.token_endpoint, &form, auth)
            .await
            .map_err(|_| "the token endpoint could not be reached".to_string())?;
        let doc: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|_| format!("HTTP {status}, not a JSON object"))?;
        if status != 200 {
            let err = doc
                .get("error")
                .and_then(Value::as_str)
                .map(|e| super::answer::clip(e, 60))
                .unwrap_or_else(|| "no error code".into());
            return Err(format!("HTTP {status}, {err}"));
        }
        let text = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| SecretText(s.to_string()))
        };
        if doc
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err("the token type is not Bearer".into());
        }
        Ok(Granted {
            access_token: text("access_token").ok_or("no access_token")?,
            refresh_token: text("refresh_token"),
            id_token: text("id_token"),
            expires_in: doc.get("expires_in").and_then(Value::as_u64),
        })
    }

    /// The ID token came straight from the token endpoint over the TLS connection the client
    /// opened (OIDC Core §3.1.3.7 allows TLS server validation in place of the signature
    /// there); its `iss`, `aud` and `nonce` are checked.
    fn check_id_token(&self, id_token: &str, nonce: &str) -> std::result::Result<(), String> {
        let payload = id_token
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
            .ok_or("not a JWT")?;
        if payload.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err("another issuer".into());
        }
        let aud_ok = match payload.get("aud") {
            Some(Value::String(a)) => a == &self.cfg.client_id,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&self.cfg.client_id)),
            _ => false,
        };
        if !aud_ok {
            return Err("another audience".into());
        }
        let got = payload.get("nonce").and_then(Value::as_str).unwrap_or("");
        if aws_lc_rs::constant_time::verify_slices_are_equal(got.as_bytes(), nonce.as_bytes())
            .is_err()
        {
            return Err("nonce mismatch".into());
        }
        Ok(())
    }

    /// The live record of a session id, or `InvalidSession` (malformed, unknown, expired, or
    /// a stored digest that is not this id's, compared in constant time).
    async fn load(&self, id_text: &str) -> std::result::Result<(String, SessionRecord), Problem> {
        let id = SessionId::parse(id_text.trim()).ok_or(Problem::InvalidSession)?;
        let key = session_key(&id);
        let bytes = self.store.get(&key).await?;
        let record = bytes
            .as_deref()
            .and_then(SessionRecord::from_bytes)
            .ok_or(Problem::InvalidSession)?;
        if !id.matches(&record.id_digest) || record.expires_at <= self.now() {
            return Err(Problem::InvalidSession);
        }
        Ok((key, record))
    }

    /// The session id bound to an MCP session (`Mcp-Session-Id`) at `oauth_start`.
    pub(crate) async fn session_of_mcp(&self, mcp_session: &str) -> Option<String> {
        let key = mcp_key(&super::record::digest_text(mcp_session.as_bytes()));
        let id = self.store.get(&key).await.ok()??;
        String::from_utf8(id).ok()
    }

    /// The principal of a signed-in session: its access token validated like a bearer token
    /// (refreshed first when it has expired and a refresh token exists).
    pub(crate) async fn principal(
        &self,
        id_text: &str,
        validator: &Validator,
    ) -> std::result::Result<Arc<Principal>, Problem> {
        let (key, record) = self.load(id_text).await?;
        let Some(tokens) = record.tokens.clone() else {
            return Err(Problem::NotSignedIn);
        };
        let expired = tokens.access_expires_at <= self.now();
        if !expired {
            match validate(validator, tokens.access_token.expose()).await {
                Ok(p) => return Ok(p),
                Err(e) if e.reason != Reason::TokenExpired || tokens.refresh_token.is_none() => {
                    return Err(Problem::Token(e))
                }
                Err(_) => {}
            }
        }
        self.refresh(&key, record, validator).await
    }

    async fn refresh(
        &self,
        key: &str,
        record: SessionRecord,
        validator: &Validator,
    ) -> std::result::Result<Arc<Principal>, Problem> {
        let tokens = record.tokens.clone().ok_or(Problem::NotSignedIn)?;
        let Some(refresh) = tokens.refresh_token.clone() else {
            return Err(Problem::Token(AuthError::with_reason(
                Reason::TokenExpired,
                "the session's token has expired; sign in again",
            )));
        };
        let server = self.server().await?;
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("resource", self.resource.as_str()),
        ];
        let mut granted = self.token_request(&server, &grant).await.map_err(|_| {
            Problem::Token(AuthError::with_reason(
                Reason::TokenExpired,
                "the session's token has expired and could not be refreshed; sign in again",
            ))
        })?;
        let principal = validate(validator, granted.access_token.expose())
            .await
            .map_err(Problem::Token)?;
        // A server that does not rotate refresh tokens keeps the old one valid.
        if granted.refresh_token.is_none() {
            granted.refresh_token = Some(refresh);
        }
        self.sign_in(key, record, granted, &principal, TokenSource::Refresh)
            .await?;
        Ok(principal)
    }

    /// `oauth_authenticate`: binds a pasted token to an existing session after validating it
    /// exactly like a bearer token; a refused token changes nothing.
    pub(crate) async fn authenticate(
        &self,
        id_text: &str,
        token: &str,
        validator: &Validator,
    ) -> std::result::Result<Arc<Principal>, Problem> {
        let (key, record) = self.load(id_text).await?;
        let principal = validate(validator, token.trim())
            .await
            .map_err(Problem::Token)?;
        let granted = Granted {
            access_token: SecretText(token.trim().to_string()),
            refresh_token: None,
            id_token: None,
            expires_in: None,
        };
        self.sign_in(&key, record, granted, &principal, TokenSource::Pasted)
            .await?;
        Ok(principal)
    }

    /// `oauth_status`.
    pub(crate) async fn status(
        &self,
        id_text: &str,
        validator: &Validator,
    ) -> std::result::Result<Status, Problem> {
        let (_, record) = self.load(id_text).await?;
        let expires_in = record.expires_at.saturating_sub(self.now());
        if record.tokens.is_none() {
            return Ok(Status {
                authenticated: false,
                expires_in,
                principal: None,
            });
        }
        match self.principal(id_text, validator).await {
            Ok(p) => Ok(Status {
                authenticated: true,
                expires_in,
                principal: Some(p),
            }),
            Err(Problem::Token(_)) => Ok(Status {
                authenticated: false,
                expires_in,
                principal: None,
            }),
            Err(other) => Err(other),
        }
    }

    /// `oauth_logout`: the session is deleted; its tokens are revoked (RFC 7009) when the
    /// server offers a revocation endpoint. Returns whether a revocation was accepted.
    pub(crate) async fn logout(&self, id_text: &str) -> std::result::Result<bool, Problem> {
        let (key, record) = self.load(id_text).await?;
        self.store.delete(&key).await?;
        if let Some(m) = &record.mcp_session {
            self.store.delete(&mcp_key(m)).await?;
        }
        let Some(tokens) = record.tokens else {
            return Ok(false);
        };
        let Ok(server) = self.server().await else {
            return Ok(false);
        };
        let Some(endpoint) = &server.revocation_endpoint else {
            return Ok(false);
        };
        let mut revoked = false;
        let mut pairs = vec![(tokens.access_token.expose().to_string(), "access_token")];
        if let Some(r) = &tokens.refresh_token {
            pairs.insert(0, (r.expose().to_string(), "refresh_token"));
        }
        for (token, hint) in pairs {
            let secret = self.cfg.client_secret.expose();
            let mut form = vec![("token", token.as_str()), ("token_type_hint", hint)];
            let auth = if secret.is_empty() {
                form.push(("client_id", self.cfg.client_id.as_str()));
                None
            } else {
                Some(Basic {
                    user: &self.cfg.client_id,
                    password: secret,
                })
            };
            if let Ok((200, _)) = self
                .http
                .post_form_as(Endpoint::SignIn, endpoint, &form, auth)
                .await
            {
                revoked = true;
            }
        }
        Ok(revoked)
    }

    /// `oauth_user_info`: the validated claims, overlaid with the OIDC userinfo answer when
    /// the server has that endpoint and its `sub` is the token's (OIDC Core §5.3.2).
    pub(crate) async fn user_info(
        &self,
        id_text: &str,
        validator: &Validator,
    ) -> std::result::Result<(Arc<Principal>, Map<String, Value>), Problem> {
        let principal = self.principal(id_text, validator).await?;
        let mut claims = Map::new();
        let (_, record) = self.load(id_text).await?;
        let token = record.tokens.map(|t| t.access_token);
        if let (Ok(server), Some(token)) = (self.server().await, token) {
            if let Some(url) = &server.userinfo_endpoint {
                if let Ok((200, body)) = self
                    .http
                    .get_json_bearer(Endpoint::SignIn, url, token.expose())
                    .await
                {
                    if let Ok(doc) = serde_json::from_slice::<Map<String, Value>>(&body) {
                        if doc.get("sub").and_then(Value::as_str) == Some(&principal.subject) {
                            claims = doc;
                        }
                    }
                }
            }
        }
        Ok((principal, claims))
    }
}

/// What the token endpoint granted (not yet validated).
struct Granted {
    access_token: SecretText,
    refresh_token: Option<SecretText>,
    id_token: Option<SecretText>,
    expires_in: Option<u64>,
}

const UNKNOWN_STATE: &str =
    "This sign-in link is unknown, has expired or was already used. Start the sign-in again.";
const STORE_DOWN: &str = "The sign-in could not be saved. Try again.";

/// The store key of an MCP session's pointer to its sign-in session (a digest of the
/// `Mcp-Session-Id`).
fn mcp_key(mcp_digest: &str) -> String {
    format!("mcp:{mcp_digest}")
}

async fn validate(
    validator: &Validator,
    token: &str,
) -> std::result::Result<Arc<Principal>, AuthError> {
    if token.is_empty() {
        return Err(AuthError::with_reason(Reason::NoToken, "no token given"));
    }
    let mut path = ValidationPath::None;
    validator.validate(token, &mut path).await
}

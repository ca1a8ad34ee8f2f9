//! The sign-in fields (issue 19): the `oauth_*` tools for MCP clients without OAuth. One
//! object, `sign_in`, in the JSON config; `AUTHSEC_SIGN_IN_*` in the environment. Absent:
//! sign-in is off and a request without a bearer token is answered `401` as before.

use serde::{Deserialize, Serialize};

use crate::config::{is_http_url, python_repr, Config, Secret};
use crate::error::{Error, Result};

/// The longest sign-in window and session lifetime accepted (one day and thirty days).
pub const MAX_SIGN_IN_WINDOW_SECONDS: u64 = 86_400;
/// The longest session lifetime accepted (thirty days), refresh included.
pub const MAX_SESSION_SECONDS: u64 = 30 * 86_400;

/// How the runtime signs users in for clients without OAuth (docs/sign-in.md).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// The authorization server's issuer, found by OIDC discovery
    /// (`/.well-known/openid-configuration`) or RFC 8414 (`/.well-known/oauth-authorization-server`).
    /// Default: the config's `authorization_server`, else `issuer`.
    pub issuer: String,
    /// This server's OAuth client id at the authorization server (required).
    pub client_id: String,
    /// Its client secret; empty: a public client (PKCE only).
    #[serde(deserialize_with = "crate::config::secret_field::sign_in_client_secret")]
    pub client_secret: Secret,
    /// The callback URL registered for the client: this server's callback route, e.g.
    /// `http://127.0.0.1:3005/oauth/callback` (required). Its path is the route the core
    /// answers.
    pub redirect_uri: String,
    /// Scopes asked for (default `openid profile email offline_access`).
    pub scopes: Vec<String>,
    /// How long a started sign-in waits for its callback, seconds (default 600).
    pub sign_in_window_seconds: u64,
    /// The longest a session lives, refresh included, seconds (default 86400).
    pub max_session_seconds: u64,
    /// The bound of the in-memory store, entries (default 10000).
    pub max_sessions: u64,
    /// The application name shown on the `GET /` info route and the callback page.
    pub app_name: String,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            redirect_uri: String::new(),
            scopes: ["openid", "profile", "email", "offline_access"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            sign_in_window_seconds: 600,
            max_session_seconds: 86_400,
            max_sessions: 10_000,
            app_name: String::new(),
        }
    }
}

impl SignInConfig {
    /// The issuer discovery starts from.
    pub fn discovery_issuer<'a>(&'a self, cfg: &'a Config) -> &'a str {
        [&self.issuer, &cfg.authorization_server, &cfg.issuer]
            .into_iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("")
    }

    /// The path of the callback route (the `redirect_uri`'s path).
    pub fn callback_path(&self) -> String {
        url::Url::parse(self.redirect_uri.trim())
            .map(|u| u.path().to_string())
            .unwrap_or_default()
    }
}

/// The sign-in fields from the environment: `SIGN_IN_CLIENT_ID` turns sign-in on; then
/// `SIGN_IN_ISSUER`, `SIGN_IN_CLIENT_SECRET`, `SIGN_IN_REDIRECT_URI`, `SIGN_IN_SCOPES` (a
/// list), `SIGN_IN_WINDOW_SECONDS`, `SIGN_IN_MAX_SESSION_SECONDS`, `SIGN_IN_MAX_SESSIONS`,
/// `SIGN_IN_APP_NAME`. A number that cannot be read is `config_invalid` naming the variable.
pub(crate) fn from_env(prefix: &str, get: &dyn Fn(&str) -> String) -> Result<Option<SignInConfig>> {
    use crate::config::env::parse_string_list;
    let client_id = get("SIGN_IN_CLIENT_ID").trim().to_string();
    if client_id.is_empty() {
        return Ok(None);
    }
    let number = |key: &str, default: u64| -> Result<u64> {
        let v = get(key);
        if v.trim().is_empty() {
            return Ok(default);
        }
        v.trim().parse::<u64>().map_err(|_| {
            Error::config(format!(
                "{prefix}{key} must be a whole number of seconds or entries"
            ))
        })
    };
    let d = SignInConfig::default();
    let scopes = parse_string_list(&get("SIGN_IN_SCOPES"));
    Ok(Some(SignInConfig {
        issuer: get("SIGN_IN_ISSUER").trim().to_string(),
        client_id,
        client_secret: Secret::new(get("SIGN_IN_CLIENT_SECRET")),
        redirect_uri: get("SIGN_IN_REDIRECT_URI").trim().to_string(),
        scopes: if scopes.is_empty() { d.scopes } else { scopes },
        sign_in_window_seconds: number("SIGN_IN_WINDOW_SECONDS", d.sign_in_window_seconds)?,
        max_session_seconds: number("SIGN_IN_MAX_SESSION_SECONDS", d.max_session_seconds)?,
        max_sessions: number("SIGN_IN_MAX_SESSIONS", d.max_sessions)?,
        app_name: get("SIGN_IN_APP_NAME").trim().to_string(),
    }))
}

/// The sign-in rules (reference validation style: the first failing rule, naming the field).
pub(crate) fn validate(cfg: &Config) -> Result<()> {
    let Some(s) = &cfg.sign_in else {
        return Ok(());
    };
    let fail = |m: String| Err(Error::config(m));
    if s.client_id.trim().is_empty() {
        return fail("sign_in.client_id is required".into());
    }
    let issuer = s.discovery_issuer(cfg);
    if !is_http_url(issuer) {
        return fail(format!(
            "sign_in.issuer must be an http(s) URL (got {})",
            python_repr(issuer)
        ));
    }
    if !is_http_url(&s.redirect_uri) {
        return fail(format!(
            "sign_in.redirect_uri must be an http(s) URL (got {})",
            python_repr(&s.redirect_uri)
        ));
    }
    if url::Url::parse(s.redirect_uri.trim())
        .is_ok_and(|u| u.fragment().is_some() || u.query().is_some())
    {
        return fail("sign_in.redirect_uri must have no query or fragment".into());
    }
    if s.scopes
        .iter()
        .any(|x| x.trim().is_empty() || x.contains(char::is_whitespace))
    {
        return fail("sign_in.scopes must be non-empty scope names without spaces".into());
    }
    if !(1..=MAX_SIGN_IN_WINDOW_SECONDS).contains(&s.sign_in_window_seconds) {
        return fail(format!(
            "sign_in.sign_in_window_seconds must be between 1 and {MAX_SIGN_IN_WINDOW_SECONDS}"
        ));
    }
    if !(1..=MAX_SESSION_SECONDS).contains(&s.max_session_seconds) {
        return fail(format!(
            "sign_in.max_session_seconds must be between 1 and {MAX_SESSION_SECONDS}"
        ));
    }
    if !(1..=10_000_000).contains(&s.max_sessions) {
        return fail("sign_in.max_sessions must be between 1 and 10000000".into());
    }
    if cfg.resource_uri.trim().is_empty() {
        return fail("sign_in requires resource_uri (the RFC 8707 resource of sign-in)".into());
    }
    Ok(())
}

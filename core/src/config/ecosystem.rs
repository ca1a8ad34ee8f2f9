//! The configuration fields of MCP 2026-07-28 and of the IdPs people use (issue 12): their
//! types and validation rules. The fields themselves sit together at the end of [`Config`].

use serde::{Deserialize, Serialize};

use crate::config::{is_http_url, python_repr, Config, ValidationMode};
use crate::error::{Error, Result};

/// The claims scopes are read from by default, in order: `scope` (RFC 9068; a space-separated
/// string, an array is read too), `scopes` (some AuthSec and SDK tokens), `scp` (Okta: an
/// array; Entra ID: a space-separated string). The first that carries a scope wins.
pub const DEFAULT_SCOPE_CLAIMS: [&str; 3] = ["scope", "scopes", "scp"];

/// How a token's audience is compared with the resource URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceMatch {
    /// Byte for byte.
    #[default]
    Exact,
    /// Scheme and host case-insensitive, one trailing `/` of the path ignored.
    Canonical,
}

/// One more trusted issuer and the JWKS its tokens are verified with.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustedIssuer {
    /// Its `iss`, compared exactly.
    pub issuer: String,
    /// Its JWKS URL.
    pub jwks_url: String,
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The rules of the issue 12 fields, after the reference's own rules.
pub(crate) fn validate(cfg: &Config) -> Result<()> {
    let fail = |m: String| Err(Error::config(m));
    if cfg.scope_claims.is_empty() || cfg.scope_claims.iter().any(|c| blank(c)) {
        return fail("scope_claims must name at least one claim, none blank".into());
    }
    for (broad, implied) in &cfg.scope_hierarchy {
        if blank(broad) || implied.iter().any(|s| blank(s)) {
            return fail(format!(
                "scope_hierarchy[{}] contains an empty scope",
                python_repr(broad)
            ));
        }
    }
    if cfg.accepted_audiences.iter().any(|a| blank(a)) {
        return fail("accepted_audiences contains an empty audience".into());
    }
    if !cfg.additional_issuers.is_empty()
        && cfg.effective_validation_mode() == ValidationMode::IntrospectionOnly
    {
        return fail("additional_issuers requires JWT validation (jwks_url)".into());
    }
    let mut seen = vec![cfg.issuer.trim()];
    for i in &cfg.additional_issuers {
        if blank(&i.issuer) {
            return fail("additional_issuers: issuer is required".into());
        }
        if seen.contains(&i.issuer.trim()) {
            return fail(format!(
                "additional_issuers: issuer {} is listed twice",
                python_repr(&i.issuer)
            ));
        }
        seen.push(i.issuer.trim());
        if !is_http_url(&i.jwks_url) {
            return fail(format!(
                "additional_issuers: jwks_url of {} must be an http(s) URL",
                python_repr(&i.issuer)
            ));
        }
    }
    for (field, map) in [
        ("resource_scopes", cfg.resource_scopes.as_ref()),
        ("prompt_scopes", cfg.prompt_scopes.as_ref()),
    ] {
        for (key, scopes) in map.into_iter().flatten() {
            if blank(key) || scopes.iter().any(|s| blank(s)) {
                return fail(format!(
                    "{field}[{}] contains an empty scope",
                    python_repr(key)
                ));
            }
        }
    }
    for o in &cfg.cors_allowed_origins {
        if o.trim() != "*" && !is_origin(o.trim()) {
            return fail(format!(
                "cors_allowed_origins: {} is not an origin (scheme://host[:port]) or *",
                python_repr(o)
            ));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` with nothing after it (RFC 6454 serialization).
fn is_origin(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            u.has_host()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
                && !s
                    .trim_end_matches('/')
                    .contains(|c: char| c.is_whitespace())
                && (u.path() == "/" || u.path().is_empty())
                && !s.ends_with('/')
        }
        Err(_) => false,
    }
}

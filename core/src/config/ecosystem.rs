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

/// The issue 12 fields from the environment (the rest of the config left at its defaults):
/// `SCOPE_CLAIMS`, `ACCEPTED_AUDIENCES`, `CORS_ALLOWED_ORIGINS` (lists), `SCOPE_HIERARCHY_JSON`,
/// `RESOURCE_SCOPES_JSON`, `PROMPT_SCOPES_JSON` (JSON objects of lists), `ADDITIONAL_ISSUERS_JSON`
/// (a JSON array of `{"issuer", "jwks_url"}`), `AUDIENCE_MATCH` (`exact` | `canonical`),
/// `DENY_UNLISTED_RESOURCES_AND_PROMPTS` (bool). A value that cannot be read is
/// `config_invalid` naming the variable, never its value.
pub(crate) fn from_env(prefix: &str, get: &dyn Fn(&str) -> String) -> Result<Config> {
    use crate::config::env::{parse_bool, parse_scope_map_var, parse_string_list};
    let var = |k: &str| format!("{prefix}{k}");
    let map = |k: &str| parse_scope_map_var(&var(k), &get(k));
    let mut cfg = Config::default();
    let claims = parse_string_list(&get("SCOPE_CLAIMS"));
    if !claims.is_empty() {
        cfg.scope_claims = claims;
    }
    cfg.scope_hierarchy = map("SCOPE_HIERARCHY_JSON")?.unwrap_or_default();
    cfg.accepted_audiences = parse_string_list(&get("ACCEPTED_AUDIENCES"));
    cfg.audience_match = match get("AUDIENCE_MATCH").trim().to_ascii_lowercase().as_str() {
        "" | "exact" => AudienceMatch::Exact,
        "canonical" => AudienceMatch::Canonical,
        _ => {
            return Err(Error::config(format!(
                "{} must be exact or canonical",
                var("AUDIENCE_MATCH")
            )))
        }
    };
    let issuers = get("ADDITIONAL_ISSUERS_JSON");
    if !issuers.trim().is_empty() {
        cfg.additional_issuers = serde_json::from_str(&issuers).map_err(|_| {
            Error::config(format!(
                "{} must be a JSON array of {{\"issuer\", \"jwks_url\"}} objects",
                var("ADDITIONAL_ISSUERS_JSON")
            ))
        })?;
    }
    cfg.resource_scopes = map("RESOURCE_SCOPES_JSON")?;
    cfg.prompt_scopes = map("PROMPT_SCOPES_JSON")?;
    cfg.deny_unlisted_resources_and_prompts =
        parse_bool(&get("DENY_UNLISTED_RESOURCES_AND_PROMPTS"));
    cfg.cors_allowed_origins = parse_string_list(&get("CORS_ALLOWED_ORIGINS"));
    Ok(cfg)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Result<Config> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (format!("AUTHSEC_{k}"), v.to_string()))
            .collect();
        Config::from_env_with("AUTHSEC_", |k| m.get(k).cloned())
    }

    #[test]
    fn fields_from_the_environment() {
        let c = env(&[
            ("SCOPE_CLAIMS", "scp, roles"),
            ("SCOPE_HIERARCHY_JSON", r#"{"admin": ["issues:*"]}"#),
            ("ACCEPTED_AUDIENCES", "api://app 4f1c"),
            ("AUDIENCE_MATCH", "Canonical"),
            (
                "ADDITIONAL_ISSUERS_JSON",
                r#"[{"issuer": "https://b", "jwks_url": "https://b/jwks"}]"#,
            ),
            ("RESOURCE_SCOPES_JSON", r#"{"file:///*": ["files:read"]}"#),
            ("PROMPT_SCOPES_JSON", r#"{"p": []}"#),
            ("DENY_UNLISTED_RESOURCES_AND_PROMPTS", "true"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        assert_eq!(c.scope_claims, vec!["scp", "roles"]);
        assert_eq!(c.scope_hierarchy["admin"], vec!["issues:*"]);
        assert_eq!(c.accepted_audiences, vec!["api://app", "4f1c"]);
        assert_eq!(c.audience_match, AudienceMatch::Canonical);
        assert_eq!(c.additional_issuers[0].jwks_url, "https://b/jwks");
        assert!(c.resource_scopes.unwrap().contains_key("file:///*"));
        assert_eq!(c.prompt_scopes.unwrap()["p"], Vec::<String>::new());
        assert!(c.deny_unlisted_resources_and_prompts);
        assert_eq!(c.cors_allowed_origins, vec!["https://app.example.com"]);
        let d = env(&[]).unwrap();
        assert_eq!(d.scope_claims, DEFAULT_SCOPE_CLAIMS);
        assert_eq!(d.audience_match, AudienceMatch::Exact);
        let e = env(&[("AUDIENCE_MATCH", "loose")]).unwrap_err();
        assert_eq!(
            e.message(),
            "AUTHSEC_AUDIENCE_MATCH must be exact or canonical"
        );
        let e = env(&[("ADDITIONAL_ISSUERS_JSON", "secret-looking-text")]).unwrap_err();
        assert!(!e.message().contains("secret"), "{}", e.message());
    }

    #[test]
    fn rules() {
        let base = || Config {
            issuer: "https://a".into(),
            jwks_url: "https://a/jwks".into(),
            resource_uri: "https://mcp.example.com/mcp".into(),
            ..Config::default()
        };
        assert!(base().validate().is_ok());
        let mut c = base();
        c.additional_issuers = vec![TrustedIssuer {
            issuer: "https://a".into(),
            jwks_url: "https://a/jwks".into(),
        }];
        assert!(c.validate().unwrap_err().message().contains("listed twice"));
        let mut c = base();
        c.additional_issuers = vec![TrustedIssuer {
            issuer: "https://b".into(),
            jwks_url: "ftp://b".into(),
        }];
        assert!(c.validate().unwrap_err().message().contains("http(s) URL"));
        let mut c = base();
        c.scope_hierarchy.insert("admin".into(), vec![" ".into()]);
        assert!(c.validate().is_err());
        for bad in [
            "https://a.example/",
            "a.example",
            "https://a.example/x",
            "https://u@a.example",
        ] {
            let mut c = base();
            c.cors_allowed_origins = vec![bad.into()];
            assert!(c.validate().is_err(), "{bad}");
        }
        for ok in ["https://a.example", "http://localhost:5173", "*"] {
            let mut c = base();
            c.cors_allowed_origins = vec![ok.into()];
            assert!(c.validate().is_ok(), "{ok}");
        }
    }
}

//! Loading a [`Config`] from environment variables (reference §1.5): prefix (default
//! `AUTHSEC_`), legacy aliases, list / map / bool / mode parsing. The loader parses; the rules
//! are [`Config::validate`]'s, the same for both sources.
//!
//! Fail-closed differences from the reference (issue 20 item 3): a JSON-valued variable
//! (`*_JSON`) that is set but is not a JSON object of scope lists is `config_invalid`, naming the
//! variable and never its value (it may hold secrets pasted by mistake), instead of silently
//! becoming "no map" (which inferred `open` and allowed every tool); `{}` is an empty map
//! (`local_only`, every tool denied); a blank scope string is kept so that `validate` refuses it
//! exactly as it refuses `[""]` in JSON.

use serde_json::Value;

use crate::config::{Config, PolicyMode, Secret, ToolScopes, ValidationMode};
use crate::error::{Error, Result};

/// The default variable prefix.
pub const DEFAULT_PREFIX: &str = "AUTHSEC_";

impl Config {
    /// Read the configuration from the process environment with `prefix` (e.g. `AUTHSEC_`).
    /// Fails (`config_invalid`) only on a JSON-valued variable that cannot be read; the result is
    /// not yet validated (see [`Config::validate`]).
    pub fn from_env(prefix: &str) -> Result<Config> {
        Config::from_env_with(prefix, |k| std::env::var(k).ok())
    }

    /// Read the configuration through `lookup` (a variable name -> value function), so callers
    /// and tests can supply their own environment.
    pub fn from_env_with(prefix: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |key: &str| lookup(&format!("{prefix}{key}")).unwrap_or_default();
        let first = |keys: &[&str]| {
            keys.iter()
                .map(|k| get(k))
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        let json_map = |key: &str| -> Result<Option<ToolScopes>> {
            parse_scope_map_var(&format!("{prefix}{key}"), &get(key))
        };
        let tool_scopes = json_map("TOOL_SCOPES_JSON")?;
        let tool_scope_suggestions = json_map("TOOL_SCOPE_SUGGESTIONS_JSON")?.unwrap_or_default();
        let tool_workloads = json_map("TOOL_WORKLOADS_JSON")?.unwrap_or_default();
        let rbac_var =
            |key: &str, what: &str| parse_json_var(&format!("{prefix}{key}"), &get(key), what);
        let tool_rbac = rbac_var("TOOL_RBAC_JSON", "tool name -> RBAC requirements")?
            .map(|v| {
                typed(
                    &format!("{prefix}TOOL_RBAC_JSON"),
                    v,
                    "tool name -> RBAC requirements",
                )
            })
            .transpose()?;
        let rbac_claims = rbac_var("RBAC_CLAIMS_JSON", "RBAC claim names")?
            .map(|v| typed(&format!("{prefix}RBAC_CLAIMS_JSON"), v, "RBAC claim names"))
            .transpose()?
            .unwrap_or_default();
        let rbac_catalogue = rbac_var("RBAC_CATALOGUE_JSON", "tenant catalogues")?
            .map(|v| {
                typed(
                    &format!("{prefix}RBAC_CATALOGUE_JSON"),
                    v,
                    "tenant catalogues",
                )
            })
            .transpose()?;
        let mut ecosystem = super::ecosystem::from_env(prefix, &get)?;
        super::fleet::from_env(prefix, &get, &mut ecosystem)?;
        let sign_in = super::signin::from_env(prefix, &get)?;
        Ok(Config {
            issuer: get("ISSUER"),
            authorization_server: get("AUTHORIZATION_SERVER"),
            jwks_url: first(&["JWKS_URL", "JWKS_URI"]),
            introspection_url: first(&["INTROSPECTION_URL", "INTROSPECTION_ENDPOINT"]),
            introspection_client_id: first(&["INTROSPECTION_CLIENT_ID", "INTROSPECTION_ID"]),
            introspection_client_secret: Secret::new(first(&[
                "INTROSPECTION_CLIENT_SECRET",
                "INTROSPECTION_SECRET",
            ])),
            resource_uri: first(&["RESOURCE_URI", "RESOURCE"]),
            resource_name: get("RESOURCE_NAME"),
            resource_server_id: get("RESOURCE_SERVER_ID"),
            supported_scopes: parse_string_list(&get("SUPPORTED_SCOPES")),
            tool_scopes,
            tool_scope_suggestions,
            policy_mode: parse_policy_mode(&get("POLICY_MODE")),
            validation_mode: parse_validation_mode(&get("VALIDATION_MODE")),
            publish_manifest: parse_bool(&get("PUBLISH_MANIFEST")),
            require_typ: get("REQUIRE_TYP").trim().to_string(),
            require_token_type: get("REQUIRE_TOKEN_TYPE").trim().to_string(),
            spiffe_trust_domain: get("SPIFFE_TRUST_DOMAIN").trim().to_string(),
            spiffe_bundle_url: get("SPIFFE_BUNDLE_URL").trim().to_string(),
            spiffe_endpoint_socket: get("SPIFFE_ENDPOINT_SOCKET").trim().to_string(),
            tool_workloads,
            tool_rbac,
            rbac_claims,
            rbac_catalogue,
            audit_log: get("AUDIT_LOG").trim().to_string(),
            audit_private_claims: parse_string_list(&get("AUDIT_PRIVATE_CLAIMS")),
            tenant_claim: Some(get("TENANT_CLAIM").trim().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| Config::default().tenant_claim),
            sign_in,
            ..ecosystem
        })
    }
}

/// A `*_JSON` variable holding a JSON object: unset or blank is `None`; text that is not a JSON
/// object is `config_invalid` naming `var` (never the value).
fn parse_json_var(var: &str, value: &str, what: &str) -> Result<Option<Value>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(value) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(_) => Err(Error::config(format!(
            "{var} must be a JSON object of {what}"
        ))),
        Err(e) => Err(Error::config(format!("{var} is not valid JSON: {e}"))),
    }
}

/// Read a parsed `*_JSON` object into its config type. serde's data errors can quote a value
/// (`invalid type: string "..."`), so only the ones naming a key are passed on.
fn typed<T: serde::de::DeserializeOwned>(var: &str, v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        let m = e.to_string();
        if m.starts_with("unknown field") || m.starts_with("missing field") {
            Error::config(format!("{var}: {m}"))
        } else {
            Error::config(format!("{var} must be a JSON object of {what}"))
        }
    })
}

/// A `*_JSON` variable holding a tool -> scopes map. Unset or blank: `None`. Otherwise it must be
/// a JSON object whose values are arrays of strings or list strings (see
/// [`parse_string_list`]); anything else is `config_invalid` naming `var`, never the value. A
/// blank list string (`""`) is kept as one empty scope, and empty strings in arrays are kept, so
/// [`Config::validate`] refuses them like the JSON configuration's `[""]`.
pub fn parse_scope_map_var(var: &str, value: &str) -> Result<Option<ToolScopes>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let parsed: Value = serde_json::from_str(value).map_err(|e| {
        // serde_json's syntax errors name a position and a class, never the input text.
        Error::config(format!("{var} is not valid JSON: {e}"))
    })?;
    let Value::Object(map) = parsed else {
        return Err(Error::config(format!(
            "{var} must be a JSON object of tool name -> scopes"
        )));
    };
    let strings = |items: Vec<Value>| {
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(Error::config(format!(
                    "{var}: the scopes of each tool must be strings"
                ))),
            })
            .collect::<Result<Vec<String>>>()
    };
    let mut out = ToolScopes::new();
    for (k, v) in map {
        let scopes = match v {
            Value::Array(items) => strings(items)?,
            Value::String(s) if s.trim().is_empty() => vec![String::new()],
            // A list string that is a JSON array: the same strict reading as an array value
            // (empty strings kept for `validate`), not the lenient top-level list parse.
            Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
                Ok(Value::Array(items)) if s.trim_start().starts_with('[') => strings(items)?,
                _ => parse_string_list(&s),
            },
            _ => {
                return Err(Error::config(format!(
                    "{var}: the scopes of each tool must be an array of strings or a list string"
                )))
            }
        };
        out.insert(k, scopes);
    }
    Ok(Some(out))
}

/// A JSON array of strings, or a comma/whitespace-separated list.
pub fn parse_string_list(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if trimmed.starts_with('[') {
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed) {
            return items.iter().map(py_str).filter(|s| !s.is_empty()).collect();
        }
    }
    trimmed
        .replace(',', " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// True iff the trimmed, lower-cased value is `1`, `true` or `yes`.
pub fn parse_bool(value: &str) -> bool {
    matches!(value.trim().to_lowercase().as_str(), "1" | "true" | "yes")
}

/// Canonical values, plus `enforce` (remote_required) and `observe` (open); otherwise unset.
pub fn parse_policy_mode(value: &str) -> PolicyMode {
    match value.trim().to_lowercase().as_str() {
        "enforce" | "remote_required" => PolicyMode::RemoteRequired,
        "observe" | "open" => PolicyMode::Open,
        "remote_with_local_fallback" => PolicyMode::RemoteWithLocalFallback,
        "local_only" => PolicyMode::LocalOnly,
        _ => PolicyMode::Unset,
    }
}

/// Canonical values; `auto` and anything unknown are unset.
pub fn parse_validation_mode(value: &str) -> ValidationMode {
    match value.trim().to_lowercase().as_str() {
        "jwt_only" => ValidationMode::JwtOnly,
        "introspection_only" => ValidationMode::IntrospectionOnly,
        "jwt_and_introspect" => ValidationMode::JwtAndIntrospect,
        "jwt_or_introspect" => ValidationMode::JwtOrIntrospect,
        _ => ValidationMode::Unset,
    }
}

/// Python `str()` of a JSON value, as the reference stringifies list items.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Config {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env_with("AUTHSEC_", |k| m.get(k).cloned()).unwrap()
    }

    fn env_err(pairs: &[(&str, &str)]) -> String {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let e = Config::from_env_with("AUTHSEC_", |k| m.get(k).cloned()).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
        e.message().to_string()
    }

    const BASE: [(&str, &str); 3] = [
        ("AUTHSEC_ISSUER", "https://a"),
        ("AUTHSEC_JWKS_URL", "https://a/jwks"),
        ("AUTHSEC_RESOURCE_URI", "https://mcp.example.com/mcp"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        BASE.iter().chain(extra).copied().collect()
    }

    #[test]
    fn unparseable_json_variables_are_config_invalid_without_the_value() {
        for (var, value) in [
            (
                "AUTHSEC_TOOL_SCOPES_JSON",
                r#"{"list_issues":["issues:read"],}"#,
            ),
            ("AUTHSEC_TOOL_SCOPES_JSON", "{not json s3cr3t"),
            ("AUTHSEC_TOOL_SCOPE_SUGGESTIONS_JSON", r#"{"a":["b"]"#),
        ] {
            let m = env_err(&with(&[(var, value)]));
            assert!(m.starts_with(&format!("{var} is not valid JSON")), "{m}");
            assert!(!m.contains("s3cr3t") && !m.contains("issues:read"), "{m}");
        }
        for value in ["[1]", "\"x\"", "5", "null"] {
            let m = env_err(&with(&[("AUTHSEC_TOOL_SCOPES_JSON", value)]));
            assert_eq!(
                m,
                "AUTHSEC_TOOL_SCOPES_JSON must be a JSON object of tool name -> scopes"
            );
        }
        for value in [
            r#"{"t":5}"#,
            r#"{"t":null}"#,
            r#"{"t":{}}"#,
            r#"{"t":["a",1]}"#,
        ] {
            let m = env_err(&with(&[("AUTHSEC_TOOL_SCOPES_JSON", value)]));
            assert!(m.starts_with("AUTHSEC_TOOL_SCOPES_JSON: the scopes"), "{m}");
        }
        let m = env_err(&with(&[("MY_X", "1"), ("AUTHSEC_TOOL_SCOPES_JSON", "{")]));
        assert!(m.starts_with("AUTHSEC_TOOL_SCOPES_JSON "), "{m}");
    }

    #[test]
    fn empty_scope_strings_refused_like_json() {
        for value in [
            r#"{"t":[""]}"#,
            r#"{"t":""}"#,
            r#"{"t":["a","  "]}"#,
            r#"{"t":"[\"\"]"}"#,
        ] {
            let c = env(&with(&[("AUTHSEC_TOOL_SCOPES_JSON", value)]));
            let from_env = c.validate().unwrap_err();
            let json = Config::from_json(
                r#"{"issuer":"https://a","jwks_url":"https://a/jwks","resource_uri":"https://mcp.example.com/mcp","tool_scopes":{"t":[""]}}"#,
            )
            .unwrap()
            .validate()
            .unwrap_err();
            assert_eq!(from_env, json, "{value}");
            assert_eq!(json.message(), "tool_scopes['t'] contains an empty scope");
        }
    }

    #[test]
    fn parses_config_with_legacy_aliases() {
        let c = env(&[
            ("AUTHSEC_ISSUER", "https://auth.example.com"),
            ("AUTHSEC_JWKS_URI", "https://auth.example.com/jwks"),
            (
                "AUTHSEC_INTROSPECTION_ENDPOINT",
                "https://auth.example.com/introspect",
            ),
            ("AUTHSEC_INTROSPECTION_ID", "rs-1"),
            ("AUTHSEC_INTROSPECTION_SECRET", "secret-1"),
            ("AUTHSEC_RESOURCE", "https://mcp.example.com/mcp"),
            ("AUTHSEC_RESOURCE_SERVER_ID", "rs-1"),
            ("AUTHSEC_SUPPORTED_SCOPES", "issues:read, issues:write"),
            (
                "AUTHSEC_TOOL_SCOPES_JSON",
                r#"{"list_issues":["issues:read"]}"#,
            ),
            ("AUTHSEC_POLICY_MODE", "enforce"),
            ("AUTHSEC_VALIDATION_MODE", "jwt_and_introspect"),
            ("AUTHSEC_PUBLISH_MANIFEST", "true"),
            ("AUTHSEC_REQUIRE_TYP", " at+jwt "),
            ("AUTHSEC_REQUIRE_TOKEN_TYPE", "access_token"),
        ]);
        assert_eq!(c.require_typ, "at+jwt");
        assert_eq!(c.require_token_type, "access_token");
        assert_eq!(c.jwks_url, "https://auth.example.com/jwks");
        assert_eq!(c.introspection_url, "https://auth.example.com/introspect");
        assert_eq!(c.introspection_client_id, "rs-1");
        assert_eq!(c.introspection_client_secret.expose(), "secret-1");
        assert_eq!(c.resource_uri, "https://mcp.example.com/mcp");
        assert_eq!(c.supported_scopes, vec!["issues:read", "issues:write"]);
        assert_eq!(
            c.tool_scopes.as_ref().unwrap()["list_issues"],
            vec!["issues:read"]
        );
        assert_eq!(c.policy_mode, PolicyMode::RemoteRequired);
        assert_eq!(c.validation_mode, ValidationMode::JwtAndIntrospect);
        assert!(c.publish_manifest);
        c.validate().unwrap();
    }

    #[test]
    fn no_tool_scopes_leaves_none_and_open() {
        for unset in [&with(&[])[..], &with(&[("AUTHSEC_TOOL_SCOPES_JSON", "  ")])] {
            let c = env(unset);
            assert!(c.tool_scopes.is_none());
            assert_eq!(c.effective_policy_mode(), PolicyMode::Open);
        }
    }

    #[test]
    fn empty_object_is_an_empty_map_that_denies_every_tool() {
        let c = env(&with(&[("AUTHSEC_TOOL_SCOPES_JSON", "{}")]));
        assert_eq!(c.tool_scopes, Some(ToolScopes::new()));
        assert_eq!(c.effective_policy_mode(), PolicyMode::LocalOnly);
        c.validate().unwrap();
    }

    #[test]
    fn prefix_and_primary_name_wins_over_alias() {
        let m: HashMap<&str, &str> = [
            ("MY_JWKS_URL", "https://primary"),
            ("MY_JWKS_URI", "https://legacy"),
        ]
        .into();
        let c = Config::from_env_with("MY_", |k| m.get(k).map(|s| s.to_string())).unwrap();
        assert_eq!(c.jwks_url, "https://primary");
    }

    #[test]
    fn list_parsing() {
        assert_eq!(parse_string_list(r#"["a", "", 3]"#), vec!["a", "3"]);
        assert_eq!(parse_string_list("a b,c"), vec!["a", "b", "c"]);
        assert_eq!(parse_string_list("[not json"), vec!["[not", "json"]);
        assert!(parse_string_list("  ").is_empty());
        let m = parse_scope_map_var("V", r#"{"t":"a, b","u":["c"],"w":[]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m["t"], vec!["a", "b"]);
        assert_eq!(m["u"], vec!["c"]);
        assert!(m["w"].is_empty());
    }

    #[test]
    fn bool_and_modes() {
        assert!(parse_bool(" YES "));
        assert!(!parse_bool("on"));
        assert_eq!(parse_policy_mode("Observe"), PolicyMode::Open);
        assert_eq!(parse_policy_mode("bogus"), PolicyMode::Unset);
        assert_eq!(parse_validation_mode("auto"), ValidationMode::Unset);
        assert_eq!(parse_validation_mode(" JWT_ONLY "), ValidationMode::JwtOnly);
    }

    #[test]
    fn rbac_variables_parse_and_refuse_without_the_value() {
        let c = env(&with(&[
            (
                "AUTHSEC_TOOL_RBAC_JSON",
                r#"{"deploy": {"roles": ["admin"], "require_all": true}}"#,
            ),
            ("AUTHSEC_RBAC_CLAIMS_JSON", r#"{"roles": "realm_roles"}"#),
            (
                "AUTHSEC_RBAC_CATALOGUE_JSON",
                r#"{"sqlite": "/tmp/c.db", "ttl_seconds": 5}"#,
            ),
        ]));
        let rbac = c.tool_rbac.as_ref().unwrap();
        assert_eq!(rbac["deploy"].roles, vec!["admin"]);
        assert!(rbac["deploy"].require_all);
        assert_eq!(c.rbac_claims.roles, "realm_roles");
        assert_eq!(c.rbac_claims.tenant_id, "tenant_id");
        let cat = c.rbac_catalogue.as_ref().unwrap();
        assert!(cat.is_database() && cat.ttl_seconds == 5.0 && cat.stale_seconds == 120.0);
        for (var, value, want) in [
            (
                "AUTHSEC_TOOL_RBAC_JSON",
                r#"["s3cr3t"]"#,
                "AUTHSEC_TOOL_RBAC_JSON must be a JSON object of tool name -> RBAC requirements",
            ),
            (
                "AUTHSEC_TOOL_RBAC_JSON",
                r#"{"t": {"roles": "s3cr3t"}}"#,
                "AUTHSEC_TOOL_RBAC_JSON must be a JSON object of tool name -> RBAC requirements",
            ),
            (
                "AUTHSEC_TOOL_RBAC_JSON",
                r#"{"t": {"rolez": []}}"#,
                "AUTHSEC_TOOL_RBAC_JSON: unknown field `rolez`",
            ),
            (
                "AUTHSEC_RBAC_CATALOGUE_JSON",
                r#"{"postgres": 5}"#,
                "AUTHSEC_RBAC_CATALOGUE_JSON must be a JSON object of tenant catalogues",
            ),
            (
                "AUTHSEC_RBAC_CLAIMS_JSON",
                "{s3cr3t",
                "AUTHSEC_RBAC_CLAIMS_JSON is not valid JSON",
            ),
        ] {
            let m = env_err(&with(&[(var, value)]));
            assert!(m.starts_with(want), "{m}");
            assert!(!m.contains("s3cr3t"), "{m}");
        }
    }

    #[test]
    fn rbac_catalogue_rules() {
        let mut c = env(&with(&[(
            "AUTHSEC_RBAC_CATALOGUE_JSON",
            r#"{"sqlite": "/a.db", "postgres": "postgres://u:pw@h/db"}"#,
        )]));
        assert_eq!(
            c.validate().unwrap_err().message(),
            "rbac_catalogue takes one source: tenants, sqlite or postgres"
        );
        c.rbac_catalogue = Some(crate::config::RbacCatalogue {
            postgres: Secret::new("mysql://u:pw@h/db"),
            ..Default::default()
        });
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.message(),
            "rbac_catalogue.postgres must be a postgres:// URL"
        );
        c.rbac_catalogue = Some(crate::config::RbacCatalogue {
            postgres: Secret::new("postgres://u:pw@h/db"),
            ..Default::default()
        });
        c.validate().unwrap();
        let shown = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
        assert!(!shown.contains("pw@h"), "{shown}");
    }
}

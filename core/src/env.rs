//! Loading a [`Config`] from environment variables (reference §1.5): prefix (default
//! `AUTHSEC_`), legacy aliases, list / map / bool / mode parsing. The loader only parses; it never
//! validates.

use serde_json::Value;

use crate::config::{Config, PolicyMode, Secret, ToolScopes, ValidationMode};

/// The default variable prefix.
pub const DEFAULT_PREFIX: &str = "AUTHSEC_";

impl Config {
    /// Read the configuration from the process environment with `prefix` (e.g. `AUTHSEC_`).
    pub fn from_env(prefix: &str) -> Config {
        Config::from_env_with(prefix, |k| std::env::var(k).ok())
    }

    /// Read the configuration through `lookup` (a variable name -> value function), so callers
    /// and tests can supply their own environment.
    pub fn from_env_with(prefix: &str, lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |key: &str| lookup(&format!("{prefix}{key}")).unwrap_or_default();
        let first = |keys: &[&str]| {
            keys.iter()
                .map(|k| get(k))
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        let tool_scopes = parse_string_list_map(&get("TOOL_SCOPES_JSON"));
        Config {
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
            tool_scopes: if tool_scopes.is_empty() {
                None
            } else {
                Some(tool_scopes)
            },
            tool_scope_suggestions: parse_string_list_map(&get("TOOL_SCOPE_SUGGESTIONS_JSON")),
            policy_mode: parse_policy_mode(&get("POLICY_MODE")),
            validation_mode: parse_validation_mode(&get("VALIDATION_MODE")),
            publish_manifest: parse_bool(&get("PUBLISH_MANIFEST")),
            ..Config::default()
        }
    }
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

/// A JSON object whose values are string arrays or list strings; anything else is empty.
pub fn parse_string_list_map(value: &str) -> ToolScopes {
    let mut out = ToolScopes::new();
    if value.trim().is_empty() {
        return out;
    }
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(value) else {
        return out;
    };
    for (k, v) in map {
        match v {
            Value::Array(items) => {
                out.insert(
                    k,
                    items.iter().map(py_str).filter(|s| !s.is_empty()).collect(),
                );
            }
            Value::String(s) => {
                out.insert(k, parse_string_list(&s));
            }
            _ => {}
        }
    }
    out
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
        Config::from_env_with("AUTHSEC_", |k| m.get(k).cloned())
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
        ]);
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
        let c = env(&[
            ("AUTHSEC_ISSUER", "https://a"),
            ("AUTHSEC_JWKS_URL", "https://a/jwks"),
            ("AUTHSEC_RESOURCE_URI", "https://mcp.example.com/mcp"),
            ("AUTHSEC_TOOL_SCOPES_JSON", "{}"),
        ]);
        assert!(c.tool_scopes.is_none());
        assert_eq!(c.effective_policy_mode(), PolicyMode::Open);
    }

    #[test]
    fn prefix_and_primary_name_wins_over_alias() {
        let m: HashMap<&str, &str> = [
            ("MY_JWKS_URL", "https://primary"),
            ("MY_JWKS_URI", "https://legacy"),
        ]
        .into();
        let c = Config::from_env_with("MY_", |k| m.get(k).map(|s| s.to_string()));
        assert_eq!(c.jwks_url, "https://primary");
    }

    #[test]
    fn list_parsing() {
        assert_eq!(parse_string_list(r#"["a", "", 3]"#), vec!["a", "3"]);
        assert_eq!(parse_string_list("a b,c"), vec!["a", "b", "c"]);
        assert_eq!(parse_string_list("[not json"), vec!["[not", "json"]);
        assert!(parse_string_list("  ").is_empty());
        let m = parse_string_list_map(r#"{"t":"a, b","u":["c"],"v":5}"#);
        assert_eq!(m["t"], vec!["a", "b"]);
        assert_eq!(m["u"], vec!["c"]);
        assert!(!m.contains_key("v"));
        assert!(parse_string_list_map("[1]").is_empty());
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
}

//! Where the proxy's and doctor's [`Config`] comes from: a file (JSON, or TOML whose keys are the
//! same snake_case fields) or the `AUTHSEC_*` environment. Parsing and validation are the core's
//! (`Config::from_json`, `Config::from_env`, `Config::validate`): a TOML file is turned into the
//! equivalent JSON document and read by `Config::from_json`, so unknown fields, types and rules
//! give the same messages from every source.

use std::path::Path;

use authsec_core::{Config, DEFAULT_PREFIX};

/// Where a configuration was read from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, by path.
    File(String),
    /// The environment with this prefix.
    Env(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{p}"),
            Source::Env(prefix) => write!(f, "the {prefix}* environment"),
        }
    }
}

/// Read a configuration (not yet validated): from `path` when given, else from the environment
/// with `prefix` (default `AUTHSEC_`). Errors are the core's `config_invalid` messages, prefixed
/// with the source; they never contain a value of the file (a secret may be in it).
pub fn load(path: Option<&Path>, prefix: Option<&str>) -> Result<(Config, Source), String> {
    match path {
        Some(p) => {
            let source = Source::File(p.display().to_string());
            let text =
                std::fs::read_to_string(p).map_err(|e| format!("{source}: cannot read: {e}"))?;
            let cfg = parse_text(&text, is_toml(p)).map_err(|e| format!("{source}: {e}"))?;
            Ok((cfg, source))
        }
        None => {
            let prefix = prefix.unwrap_or(DEFAULT_PREFIX);
            let source = Source::Env(prefix.to_string());
            let cfg = Config::from_env(prefix).map_err(|e| format!("{source}: {}", coded(&e)))?;
            Ok((cfg, source))
        }
    }
}

/// `<code>: <message>` of a core error.
pub fn coded(e: &authsec_core::Error) -> String {
    format!("{}: {}", e.code(), e.message())
}

fn is_toml(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Parse a configuration document: JSON, or TOML when `toml` is true.
pub fn parse_text(text: &str, toml: bool) -> Result<Config, String> {
    if !toml {
        return Config::from_json(text).map_err(|e| coded(&e));
    }
    let value: toml::Value = toml::from_str(text).map_err(|e| {
        // toml's message quotes the offending line, which may hold a secret: keep the position.
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" at line {line}")
            })
            .unwrap_or_default();
        format!("config_invalid: invalid config TOML{at}: {}", e.message())
    })?;
    let json = toml_to_json(value)?;
    // The core reads the TOML as the equivalent JSON document: its positions ("at line 1
    // column 45") are of that document, so they are dropped.
    Config::from_json(&json.to_string()).map_err(|e| {
        let m = coded(&e);
        match m.rfind(" at line ") {
            Some(i) if m[i..].contains(" column ") => m[..i].to_string(),
            _ => m,
        }
    })
}

/// TOML values as JSON; dates have no configuration field, so they are refused.
fn toml_to_json(v: toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .ok_or("config_invalid: invalid config TOML: a float that is not finite")?,
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(_) => {
            return Err(
                "config_invalid: invalid config TOML: dates are not configuration values".into(),
            )
        }
        toml::Value::Array(a) => {
            J::Array(a.into_iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => J::Object(
            t.into_iter()
                .map(|(k, v)| Ok((k, toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_maps_onto_the_json_fields() {
        let t = r#"
issuer = "https://as.example.com"
jwks_url = "https://as.example.com/jwks"
resource_uri = "https://mcp.example.com/mcp"
clock_skew_seconds = 5
[tool_scopes]
list_issues = ["issues:read"]
"#;
        let j = r#"{"issuer":"https://as.example.com","jwks_url":"https://as.example.com/jwks",
            "resource_uri":"https://mcp.example.com/mcp","clock_skew_seconds":5,
            "tool_scopes":{"list_issues":["issues:read"]}}"#;
        assert_eq!(parse_text(t, true).unwrap(), parse_text(j, false).unwrap());
    }

    #[test]
    fn unknown_toml_field_is_named_by_the_core() {
        let e = parse_text("issuer = \"x\"\njwks_uri = \"y\"\n", true).unwrap_err();
        assert!(
            e.starts_with("config_invalid: invalid config JSON: unknown field `jwks_uri`"),
            "{e}"
        );
    }

    #[test]
    fn toml_syntax_error_never_echoes_the_line() {
        let e = parse_text("introspection_client_secret = \"s3cr3t\n", true).unwrap_err();
        assert!(e.contains("invalid config TOML at line 1"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}

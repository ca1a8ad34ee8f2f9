//! The validated caller handed to the MCP handler.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::token::scopes::{ScopeHierarchy, ScopeRules};

/// Who is calling, as established by token validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// `sub` (introspection: `sub`, else `subject`).
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `aud` as a list (introspection: `aud`, else `resource`).
    pub audience: Vec<String>,
    /// Granted scopes: from the first of the configured scope claims that carries any (default
    /// `scope`, `scopes`, `scp`; a space-separated string or an array).
    pub scopes: Vec<String>,
    /// All claims (JWT payload, overlaid with the introspection answer when both ran).
    pub claims: Map<String, Value>,
    /// Whether the token is active (always true for an allowed request).
    pub active: bool,
    /// The caller's SPIFFE ID when it authenticated with a JWT-SVID (a workload, not a user);
    /// `None` for OAuth tokens. Workloads are authorized by `tool_workloads`, never by scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// The runtime's scope hierarchy (`scope_hierarchy`), consulted by
    /// [`Principal::has_scope`]; `None` when none is configured. Not serialized.
    #[serde(skip)]
    pub hierarchy: Option<Arc<ScopeHierarchy>>,
}

impl Principal {
    /// True when `required` is empty or any required scope is granted (any-of), directly or
    /// through the runtime's scope hierarchy.
    pub fn has_any_scope<S: AsRef<str>>(&self, required: &[S]) -> bool {
        required.is_empty() || required.iter().any(|r| self.has_scope(r.as_ref()))
    }

    /// True when `scope` is granted, directly or through the runtime's scope hierarchy (a
    /// broader granted scope that implies it).
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.hierarchy {
            None => self.scopes.iter().any(|g| g == scope),
            Some(h) => h.grants(&self.scopes, scope),
        }
    }

    /// The OAuth client the token was issued to: the `client_id` claim (RFC 9068, RFC 7662),
    /// else `azp` (OIDC), else the subject (the MCP SDKs' `AuthInfo.clientId` is required).
    pub fn client_id(&self) -> &str {
        ["client_id", "azp"]
            .iter()
            .find_map(|k| match self.claims.get(*k) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or(&self.subject)
    }

    /// `exp` in Unix seconds, when the token carries a numeric one (fractions dropped,
    /// out-of-range values saturated).
    pub fn expires_at(&self) -> Option<u64> {
        match self.claims.get("exp") {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            _ => None,
        }
    }

    /// The SPIFFE ID of a workload caller (authenticated with a JWT-SVID), else `None`.
    pub fn spiffe_id(&self) -> Option<&str> {
        self.spiffe_id.as_deref()
    }

    /// One claim by name (the raw JSON value), without copying the others.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// Build a principal from a claims object with the default scope rules.
    #[cfg(test)]
    pub(crate) fn from_claims(claims: Map<String, Value>, introspection: bool) -> Principal {
        Principal::from_claims_with(claims, introspection, &ScopeRules::default())
    }

    /// Build a principal from a claims object (a JWT payload or an introspection answer), its
    /// scopes read and checked with `rules`.
    pub(crate) fn from_claims_with(
        claims: Map<String, Value>,
        introspection: bool,
        rules: &ScopeRules,
    ) -> Principal {
        let string = |k: &str| match claims.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let subject = string("sub")
            .filter(|s| !s.is_empty())
            .or_else(|| {
                if introspection {
                    string("subject")
                } else {
                    None
                }
            })
            .unwrap_or_default();
        let mut audience = audience_list(claims.get("aud"));
        if audience.is_empty() && introspection {
            audience = audience_list(claims.get("resource"));
        }
        let scopes = rules.read(&claims);
        Principal {
            subject,
            issuer: string("iss").unwrap_or_default(),
            audience,
            scopes,
            claims,
            active: true,
            spiffe_id: None,
            hierarchy: rules.hierarchy().cloned(),
        }
    }
}

fn audience_list(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value, introspection: bool) -> Principal {
        Principal::from_claims(v.as_object().unwrap().clone(), introspection)
    }

    #[test]
    fn any_of_scope_semantics() {
        let pr = p(json!({"scope": "read write"}), false);
        assert!(pr.has_any_scope(&["admin", "read"]));
        assert!(!pr.has_any_scope(&["admin"]));
        assert!(pr.has_any_scope::<&str>(&[]));
    }

    #[test]
    fn claim_shapes() {
        let pr = p(
            json!({"sub": "u", "iss": "i", "aud": "a", "scopes": ["x", ""]}),
            false,
        );
        assert_eq!(pr.audience, vec!["a"]);
        assert_eq!(pr.scopes, vec!["x"]);
        let pr = p(
            json!({"subject": "s", "resource": ["r"], "scope": ["a", "b"]}),
            true,
        );
        assert_eq!(pr.subject, "s");
        assert_eq!(pr.audience, vec!["r"]);
        assert_eq!(pr.scopes, vec!["a", "b"]);
        let pr = p(json!({"subject": "s", "resource": "r"}), false);
        assert_eq!(pr.subject, "");
        assert!(pr.audience.is_empty());
    }

    #[test]
    fn typed_accessors() {
        let pr = p(
            json!({"sub": "u", "client_id": "c", "azp": "a", "exp": 1700000000}),
            false,
        );
        assert_eq!(pr.client_id(), "c");
        assert_eq!(pr.expires_at(), Some(1_700_000_000));
        assert_eq!(pr.claim("azp"), Some(&json!("a")));
        let pr = p(
            json!({"sub": "u", "client_id": "", "azp": "a", "exp": 1.5e300}),
            false,
        );
        assert_eq!(pr.client_id(), "a");
        assert_eq!(pr.expires_at(), Some(u64::MAX));
        let pr = p(json!({"sub": "u", "client_id": 7, "exp": "soon"}), false);
        assert_eq!(pr.client_id(), "u");
        assert_eq!(pr.expires_at(), None);
        assert_eq!(p(json!({"exp": -5}), false).expires_at(), None);
    }
}

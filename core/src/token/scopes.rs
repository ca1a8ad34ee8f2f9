//! What scopes a token grants: the claims they are read from (`scope`, `scopes`, `scp` by
//! default, configurable for other IdPs) and the scope hierarchy (a broader scope implies
//! narrower ones), applied wherever a principal's scopes are checked (tool, resource and prompt
//! decisions, list filtering).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::config::DEFAULT_SCOPE_CLAIMS;

/// How one runtime reads scopes: the claim names and the hierarchy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeRules {
    /// Claim names, in order; empty means [`DEFAULT_SCOPE_CLAIMS`].
    claims: Vec<String>,
    /// `None` when no hierarchy is configured (the common case costs nothing).
    hierarchy: Option<Arc<ScopeHierarchy>>,
}

impl ScopeRules {
    /// Rules from the configuration (`scope_claims`, `scope_hierarchy`).
    pub fn new(claims: &[String], hierarchy: &BTreeMap<String, Vec<String>>) -> ScopeRules {
        ScopeRules {
            claims: claims.iter().map(|c| c.trim().to_string()).collect(),
            hierarchy: (!hierarchy.is_empty()).then(|| Arc::new(ScopeHierarchy::new(hierarchy))),
        }
    }

    /// Whether `name` is one of the claims scopes are read from.
    pub fn is_scope_claim(&self, name: &str) -> bool {
        if self.claims.is_empty() {
            DEFAULT_SCOPE_CLAIMS.contains(&name)
        } else {
            self.claims.iter().any(|c| c == name)
        }
    }

    /// The granted scopes of a claims object: the first configured claim that carries any.
    pub fn read(&self, claims: &Map<String, Value>) -> Vec<String> {
        let from = |name: &str| scope_list(claims.get(name));
        if self.claims.is_empty() {
            DEFAULT_SCOPE_CLAIMS
                .iter()
                .map(|n| from(n))
                .find(|s| !s.is_empty())
                .unwrap_or_default()
        } else {
            self.claims
                .iter()
                .map(|n| from(n))
                .find(|s| !s.is_empty())
                .unwrap_or_default()
        }
    }

    /// The hierarchy, when one is configured.
    pub fn hierarchy(&self) -> Option<&Arc<ScopeHierarchy>> {
        self.hierarchy.as_ref()
    }
}

/// A scope claim value: a space-separated string or an array of strings (empty entries
/// dropped); anything else grants nothing.
pub(crate) fn scope_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One implied scope: exact, or every scope starting with a prefix (`issues:*`; `*` alone is
/// every scope).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Implied {
    Exact(String),
    Prefix(String),
}

impl Implied {
    fn parse(s: &str) -> Implied {
        let s = s.trim();
        match s.strip_suffix('*') {
            Some(prefix) => Implied::Prefix(prefix.to_string()),
            None => Implied::Exact(s.to_string()),
        }
    }

    fn covers(&self, scope: &str) -> bool {
        match self {
            Implied::Exact(e) => e == scope,
            Implied::Prefix(p) => scope.starts_with(p.as_str()),
        }
    }
}

/// A scope hierarchy: each broader scope implies the scopes listed for it, transitively
/// (`repo` -> `repo:write` -> `repo:read` means `repo` grants `repo:read`). An implied entry
/// ending in `*` implies every scope with that prefix (`admin` -> `issues:*`), and the scopes
/// under it imply what they imply in turn. Cycles are harmless.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeHierarchy {
    edges: BTreeMap<String, Vec<Implied>>,
}

impl ScopeHierarchy {
    /// Build from `broader scope -> implied scopes`.
    pub fn new(map: &BTreeMap<String, Vec<String>>) -> ScopeHierarchy {
        ScopeHierarchy {
            edges: map
                .iter()
                .map(|(k, v)| {
                    (
                        k.trim().to_string(),
                        v.iter().map(|s| Implied::parse(s)).collect(),
                    )
                })
                .collect(),
        }
    }

    /// Whether holding `granted` grants `required` (directly or through the hierarchy).
    pub fn grants(&self, granted: &[String], required: &str) -> bool {
        if granted.iter().any(|g| g == required) {
            return true;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = granted.iter().map(String::as_str).collect();
        while let Some(scope) = queue.pop_front() {
            if !seen.insert(scope) {
                continue;
            }
            let Some(implied) = self.edges.get(scope) else {
                continue;
            };
            for i in implied {
                if i.covers(required) {
                    return true;
                }
                match i {
                    Implied::Exact(e) => queue.push_back(e.as_str()),
                    // Scopes under a prefix imply what they imply in turn.
                    Implied::Prefix(_) => queue.extend(
                        self.edges
                            .keys()
                            .map(String::as_str)
                            .filter(|k| i.covers(k)),
                    ),
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &[&str])]) -> ScopeHierarchy {
        ScopeHierarchy::new(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn hierarchy_is_transitive_with_prefixes_and_cycles() {
        let hy = h(&[
            ("repo", &["repo:write"]),
            ("repo:write", &["repo:read"]),
            ("admin", &["issues:*", "audit:read"]),
            ("issues:admin", &["billing:read"]),
            ("a", &["b"]),
            ("b", &["a"]),
            ("root", &["*"]),
        ]);
        assert!(hy.grants(&s(&["repo"]), "repo:read"));
        assert!(hy.grants(&s(&["repo:write"]), "repo:read"));
        assert!(
            !hy.grants(&s(&["repo:read"]), "repo:write"),
            "narrower never implies broader"
        );
        assert!(hy.grants(&s(&["admin"]), "issues:write"));
        assert!(hy.grants(&s(&["admin"]), "audit:read"));
        assert!(
            hy.grants(&s(&["admin"]), "billing:read"),
            "through issues:admin under the prefix"
        );
        assert!(!hy.grants(&s(&["admin"]), "issue:write"));
        assert!(!hy.grants(&s(&["a"]), "c"));
        assert!(hy.grants(&s(&["root"]), "anything"));
        assert!(hy.grants(&s(&["x"]), "x"));
        assert!(!hy.grants(&[], "x"));
    }

    #[test]
    fn scope_claims_in_order() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let d = ScopeRules::default();
        assert_eq!(
            d.read(&claims(json!({"scope": "a b", "scp": ["c"]}))),
            s(&["a", "b"])
        );
        assert_eq!(
            d.read(&claims(json!({"scope": "", "scp": ["c", "d"]}))),
            s(&["c", "d"])
        );
        assert_eq!(d.read(&claims(json!({"scp": "e f"}))), s(&["e", "f"]));
        assert_eq!(
            d.read(&claims(json!({"scopes": ["g"], "scp": "h"}))),
            s(&["g"])
        );
        let custom = ScopeRules::new(&s(&["roles", "scp"]), &BTreeMap::new());
        assert_eq!(
            custom.read(&claims(json!({"scope": "a", "roles": ["Admin"]}))),
            s(&["Admin"])
        );
        assert!(custom.is_scope_claim("roles") && !custom.is_scope_claim("scope"));
        assert!(d.is_scope_claim("scp"));
    }
}

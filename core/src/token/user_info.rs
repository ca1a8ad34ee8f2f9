//! The user's RBAC sets and the `user_info` document, built from the validated claims (the
//! seed's `arguments["_user_info"]`). Claim names come from [`RbacClaims`].
//!
//! Derivation (reference §9, the TypeScript SDK's reading of `res:act` scopes): the raw scopes
//! are the union of the configured scope claims (a string split on whitespace, as OAuth scopes
//! are; an array of strings as given). Each raw scope `res:act` adds `res` to the resources,
//! `act` (the second `:` segment) to the scopes and the whole text to the permissions; a scope
//! without a colon is a scope. Roles, groups, resources and permissions are the claims as
//! given (a string is one element). Values that are not non-empty strings are ignored.

use serde_json::{Map, Value};

use crate::config::{RbacClaims, TenantCatalogue};
use crate::token::principal::Principal;

/// The user's effective RBAC sets (first-seen order, no duplicates) and identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    /// `sub`.
    pub sub: String,
    /// The e-mail claim, when it is a string.
    pub email: Option<String>,
    /// The tenant claim, when it is a non-empty string.
    pub tenant_id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Scopes: plain scopes and the actions of `res:act` scopes.
    pub scopes: Vec<String>,
    /// Resources: the claim and the resources of `res:act` scopes.
    pub resources: Vec<String>,
    /// Permissions: the claim and every `res:act` scope.
    pub permissions: Vec<String>,
}

fn push(out: &mut Vec<String>, s: &str) {
    if !s.is_empty() && !out.iter().any(|x| x == s) {
        out.push(s.to_string());
    }
}

/// A claim read as a list: a non-empty string is one element, an array keeps its non-empty
/// string elements, anything else is empty.
fn claim_list(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    match claims.get(name) {
        Some(Value::String(s)) => push(&mut out, s),
        Some(Value::Array(items)) => {
            for i in items {
                if let Value::String(s) = i {
                    push(&mut out, s);
                }
            }
        }
        _ => {}
    }
    out
}

/// The raw scopes: every configured scope claim (`scope`, `scopes`, `scp` by default) united; a
/// string is split on whitespace, an array keeps its non-empty strings.
pub(crate) fn raw_scopes(claims: &Map<String, Value>, names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        match claims.get(name.as_str()) {
            Some(Value::String(s)) => s.split_whitespace().for_each(|t| push(&mut out, t)),
            Some(Value::Array(items)) => {
                for i in items {
                    if let Value::String(s) = i {
                        push(&mut out, s);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl UserInfo {
    /// The sets of `principal` under the claim names `names`.
    pub fn from_principal(principal: &Principal, names: &RbacClaims) -> UserInfo {
        let claims = &principal.claims;
        let string = |k: &str| match claims.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let mut resources = claim_list(claims, &names.resources);
        let mut permissions = claim_list(claims, &names.permissions);
        let mut scopes = Vec::new();
        for s in raw_scopes(claims, &names.scopes) {
            if s.contains(':') {
                let mut parts = s.split(':');
                push(&mut resources, parts.next().unwrap_or(""));
                push(&mut scopes, parts.next().unwrap_or(""));
                push(&mut permissions, &s);
            } else {
                push(&mut scopes, &s);
            }
        }
        UserInfo {
            sub: principal.subject.clone(),
            email: string(&names.email),
            tenant_id: string(&names.tenant_id).filter(|t| !t.is_empty()),
            roles: claim_list(claims, &names.roles),
            groups: claim_list(claims, &names.groups),
            scopes,
            resources,
            permissions,
        }
    }

    /// Keep only what `catalogue` (the caller's tenant's) defines; `None` (no catalogue for the
    /// tenant) keeps nothing.
    pub fn restrict(&mut self, catalogue: Option<&TenantCatalogue>) {
        let keep = |set: &mut Vec<String>, defined: Option<&Vec<String>>| {
            set.retain(|v| defined.is_some_and(|d| d.iter().any(|x| x == v)));
        };
        keep(&mut self.roles, catalogue.map(|c| &c.roles));
        keep(&mut self.groups, catalogue.map(|c| &c.groups));
        keep(&mut self.scopes, catalogue.map(|c| &c.scopes));
        keep(&mut self.resources, catalogue.map(|c| &c.resources));
        keep(&mut self.permissions, catalogue.map(|c| &c.permissions));
    }

    /// Drop every set (nothing counts), keeping the identity.
    pub(crate) fn clear_sets(&mut self) {
        self.restrict(None);
    }

    /// The `user_info` document: `{"sub", "email", "tenant_id", "roles", "groups", "scopes",
    /// "resources", "permissions"}` in this order; `email` and `tenant_id` are `null` when the
    /// token has none.
    pub fn to_json(&self) -> Value {
        let list = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let opt = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("sub".into(), self.sub.clone().into());
        m.insert("email".into(), opt(&self.email));
        m.insert("tenant_id".into(), opt(&self.tenant_id));
        m.insert("roles".into(), list(&self.roles));
        m.insert("groups".into(), list(&self.groups));
        m.insert("scopes".into(), list(&self.scopes));
        m.insert("resources".into(), list(&self.resources));
        m.insert("permissions".into(), list(&self.permissions));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(claims: Value) -> UserInfo {
        let p = Principal::from_claims(claims.as_object().unwrap().clone(), false);
        UserInfo::from_principal(&p, &RbacClaims::default())
    }

    #[test]
    fn res_act_scopes_split_as_the_typescript_sdk_does() {
        let u = info(
            json!({"sub": "u", "scope": "read projects:write a:b:c :x y:",
                            "resources": "analytics", "permissions": ["p:q", 5, ""]}),
        );
        assert_eq!(u.scopes, vec!["read", "write", "b", "x"]);
        assert_eq!(u.resources, vec!["analytics", "projects", "a", "y"]);
        assert_eq!(
            u.permissions,
            vec!["p:q", "projects:write", "a:b:c", ":x", "y:"]
        );
    }

    #[test]
    fn claims_united_and_shapes() {
        let u = info(
            json!({"sub": "u", "scope": "a b", "scopes": ["b", "c"], "scp": "d",
                            "roles": "admin", "groups": ["g", 1, null], "tenant_id": "",
                            "email": "e@x"}),
        );
        assert_eq!(u.scopes, vec!["a", "b", "c", "d"]);
        assert_eq!(u.roles, vec!["admin"]);
        assert_eq!(u.groups, vec!["g"]);
        assert_eq!(u.tenant_id, None);
        assert_eq!(u.email.as_deref(), Some("e@x"));
        let names = RbacClaims {
            roles: "realm_roles".into(),
            scopes: vec!["scp".into()],
            ..RbacClaims::default()
        };
        let p = Principal::from_claims(
            json!({"realm_roles": ["r"], "roles": ["x"], "scope": "a", "scp": ["s"]})
                .as_object()
                .unwrap()
                .clone(),
            false,
        );
        let u = UserInfo::from_principal(&p, &names);
        assert_eq!((u.roles, u.scopes), (vec!["r".into()], vec!["s".into()]));
    }

    #[test]
    fn restrict_keeps_only_the_catalogue() {
        let mut u = info(json!({"sub": "u", "roles": ["admin", "dev"], "scope": "read"}));
        let cat = TenantCatalogue {
            roles: vec!["dev".into()],
            ..TenantCatalogue::default()
        };
        u.restrict(Some(&cat));
        assert_eq!(u.roles, vec!["dev"]);
        assert!(u.scopes.is_empty());
        u.restrict(None);
        assert!(u.roles.is_empty());
        assert_eq!(
            serde_json::to_string(&u.to_json()).unwrap(),
            r#"{"sub":"u","email":null,"tenant_id":null,"roles":[],"groups":[],"scopes":[],"resources":[],"permissions":[]}"#
        );
    }
}

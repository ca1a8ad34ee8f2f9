//! RBAC per tool (the seed's decorator model, reference §9 "RBAC evaluation"): a tool's
//! [`RbacRequirement`] against the caller's [`UserInfo`] sets, optionally restricted to what the
//! caller's tenant defines in a [`Catalogue`]. [`RbacSource`] puts the gate in front of any
//! policy source: the base policy (open, local, remote scopes) decides first, then RBAC, so both
//! apply when both are configured. A tool without a requirement is the base policy's alone.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{RbacCatalogue, RbacClaims, RbacRequirement, TenantCatalogue, ToolRbac};
use crate::policy::{Action, PolicySource, PolicyView, Refusal};
use crate::token::principal::Principal;
use crate::token::user_info::UserInfo;

/// What a catalogue says about one tenant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TenantAnswer {
    /// The tenant's catalogue.
    Found(Arc<TenantCatalogue>),
    /// The tenant has no catalogue (or the catalogue is down in a mode where nothing then
    /// counts, `catalogue::Outage`): nothing in its tokens counts.
    Unknown,
    /// The catalogue cannot answer now (no fresh enough entry): RBAC decisions are 503
    /// `policy_unavailable` with this description, never an allow.
    Unavailable(String),
}

/// A tenant catalogue. Implementations answer from memory (a database-backed one serves its
/// cache and refreshes in the background).
pub trait Catalogue: Send + Sync + 'static {
    /// The catalogue of `tenant`.
    fn tenant(&self, tenant: &str) -> TenantAnswer;
}

/// The inline catalogue of the configuration (`rbac_catalogue.tenants`).
#[derive(Debug)]
pub struct InlineCatalogue(HashMap<String, Arc<TenantCatalogue>>);

impl InlineCatalogue {
    /// From the configuration's catalogue.
    pub fn new(c: &RbacCatalogue) -> Self {
        InlineCatalogue(
            c.tenants
                .iter()
                .map(|(k, v)| (k.clone(), Arc::new(v.clone())))
                .collect(),
        )
    }
}

impl Catalogue for InlineCatalogue {
    fn tenant(&self, tenant: &str) -> TenantAnswer {
        match self.0.get(tenant) {
            Some(c) => TenantAnswer::Found(c.clone()),
            None => TenantAnswer::Unknown,
        }
    }
}

/// The RBAC gate: the requirement table (tool names trimmed), the claim names, the catalogue.
pub struct Rbac {
    table: HashMap<String, RbacRequirement>,
    claims: RbacClaims,
    catalogue: Option<Arc<dyn Catalogue>>,
}

impl std::fmt::Debug for Rbac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rbac")
            .field("tools", &self.table.len())
            .field("catalogue", &self.catalogue.is_some())
            .finish()
    }
}

impl Rbac {
    /// A gate over `table`.
    pub fn new(
        table: &ToolRbac,
        claims: RbacClaims,
        catalogue: Option<Arc<dyn Catalogue>>,
    ) -> Rbac {
        Rbac {
            table: table
                .iter()
                .map(|(k, v)| (k.trim().to_string(), v.clone()))
                .collect(),
            claims,
            catalogue,
        }
    }

    /// The caller's effective sets: derived from the claims, restricted to the tenant's
    /// catalogue when there is one (`Err` when the catalogue cannot answer).
    pub fn user_info(&self, principal: &Principal) -> Result<UserInfo, String> {
        let mut info = UserInfo::from_principal(principal, &self.claims);
        if let Some(cat) = &self.catalogue {
            match info.tenant_id.as_deref().map(|t| cat.tenant(t)) {
                None | Some(TenantAnswer::Unknown) => info.clear_sets(),
                Some(TenantAnswer::Found(c)) => info.restrict(Some(&c)),
                Some(TenantAnswer::Unavailable(d)) => return Err(d),
            }
        }
        Ok(info)
    }

    /// Decide `action` for `principal`: only `tools/call` of a tool with a requirement is gated.
    pub(crate) fn decide(&self, principal: &Principal, action: Action<'_>) -> Result<(), Refusal> {
        let Action::CallTool(tool) = action else {
            return Ok(());
        };
        let tool = tool.trim();
        let Some(req) = self.table.get(tool) else {
            return Ok(());
        };
        if req.categories().iter().all(|(_, v)| v.is_empty()) {
            return Ok(());
        }
        let info = self.user_info(principal).map_err(Refusal::Unavailable)?;
        evaluate(req, &info).map_err(|reason| Refusal::Rbac {
            tool: tool.to_string(),
            reason,
        })
    }
}

/// Reference §9: one check per non-empty category (any-of); none: allowed; `require_all`: every
/// check, else `missing required <failing categories>`; otherwise any check, else
/// `no RBAC requirement satisfied`. Permissions fall back, when the user has none at all, to a
/// required `res:act` whose `res` is a user resource and whose `act` (second `:` segment) a user
/// scope.
pub fn evaluate(req: &RbacRequirement, user: &UserInfo) -> Result<(), String> {
    let any = |have: &[String], want: &[String]| want.iter().any(|w| have.contains(w));
    let mut checks: Vec<(&'static str, bool)> = Vec::with_capacity(5);
    for (name, want) in req.categories() {
        if want.is_empty() {
            continue;
        }
        let ok = match name {
            "roles" => any(&user.roles, want),
            "groups" => any(&user.groups, want),
            "resources" => any(&user.resources, want),
            "scopes" => any(&user.scopes, want),
            _ if !user.permissions.is_empty() => any(&user.permissions, want),
            _ => want.iter().any(|p| {
                let mut parts = p.split(':');
                match (parts.next(), parts.next()) {
                    (Some(res), Some(act)) => {
                        user.resources.iter().any(|r| r == res)
                            && user.scopes.iter().any(|s| s == act)
                    }
                    _ => false,
                }
            }),
        };
        checks.push((name, ok));
    }
    if checks.is_empty() {
        return Ok(());
    }
    if req.require_all {
        let missing: Vec<&str> = checks.iter().filter(|c| !c.1).map(|c| c.0).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing required {}", missing.join(", ")))
        }
    } else if checks.iter().any(|c| c.1) {
        Ok(())
    } else {
        Err("no RBAC requirement satisfied".into())
    }
}

/// The base policy with the RBAC gate in front of it.
#[derive(Debug, Clone)]
pub struct RbacView {
    /// The base policy's view (decides first).
    pub base: PolicyView,
    /// The gate.
    pub gate: Arc<Rbac>,
}

/// A policy source whose views carry the RBAC gate over the inner source's views.
pub struct RbacSource {
    /// The base source (open, local or remote).
    pub inner: Arc<dyn PolicySource>,
    /// The gate.
    pub gate: Arc<Rbac>,
}

impl PolicySource for RbacSource {
    fn current(&self) -> PolicyView {
        PolicyView::Rbac(Arc::new(RbacView {
            base: self.inner.current(),
            gate: self.gate.clone(),
        }))
    }

    fn scopes_supported(&self) -> Option<Vec<String>> {
        self.inner.scopes_supported()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> RbacRequirement {
        serde_json::from_value(v).unwrap()
    }

    /// The seed's blog user.
    fn blog_user() -> UserInfo {
        UserInfo {
            sub: "u".into(),
            roles: vec!["admin".into(), "developer".into()],
            groups: vec!["engineering".into()],
            scopes: vec!["read".into(), "write".into()],
            resources: vec!["projects".into(), "analytics".into()],
            ..UserInfo::default()
        }
    }

    #[test]
    fn reference_rules() {
        let u = blog_user();
        assert_eq!(evaluate(&req(json!({})), &u), Ok(()));
        assert_eq!(evaluate(&req(json!({"roles": ["admin"]})), &u), Ok(()));
        assert_eq!(
            evaluate(&req(json!({"roles": ["manager"], "groups": ["sales"]})), &u),
            Err("no RBAC requirement satisfied".into())
        );
        assert_eq!(
            evaluate(
                &req(json!({"roles": ["manager"], "groups": ["engineering"]})),
                &u
            ),
            Ok(())
        );
        assert_eq!(
            evaluate(
                &req(json!({"roles": ["admin", "deployer"], "scopes": ["write"],
                             "resources": ["production"], "require_all": true})),
                &u
            ),
            Err("missing required resources".into())
        );
        assert_eq!(
            evaluate(
                &req(json!({"roles": ["x"], "scopes": ["admin"], "require_all": true})),
                &u
            ),
            Err("missing required roles, scopes".into())
        );
        // Permission fallback: no permissions at all -> res:act from resources and scopes.
        assert_eq!(
            evaluate(&req(json!({"permissions": ["projects:write"]})), &u),
            Ok(())
        );
        assert!(evaluate(
            &req(json!({"permissions": ["billing:write", "projects"]})),
            &u
        )
        .is_err());
        // With any permission held, the fallback is off.
        let mut held = blog_user();
        held.permissions = vec!["other:read".into()];
        assert!(evaluate(&req(json!({"permissions": ["projects:write"]})), &held).is_err());
    }
}

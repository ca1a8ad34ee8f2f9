//! The RBAC part of the configuration (the seed's decorator model, reference §9): per-tool
//! requirements ([`RbacRequirement`], field `tool_rbac`), the claim names the user's sets are read
//! from ([`RbacClaims`], field `rbac_claims`) and an optional tenant catalogue
//! ([`RbacCatalogue`], field `rbac_catalogue`). Evaluation lives in `policy::rbac`; this module
//! only holds the data and its validation rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Secret;

/// What one tool requires (reference §9): any-of within a category; across the non-empty
/// categories OR by default, AND with `require_all`; no category at all means any
/// authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RbacRequirement {
    /// Any one of these roles.
    pub roles: Vec<String>,
    /// Any one of these groups.
    pub groups: Vec<String>,
    /// Any one of these resources (the `resources` claim plus the `res` of `res:act` scopes).
    pub resources: Vec<String>,
    /// Any one of these scopes (plain scopes plus the `act` of `res:act` scopes).
    pub scopes: Vec<String>,
    /// Any one of these permissions (the `permissions` claim plus every `res:act` scope).
    pub permissions: Vec<String>,
    /// Every non-empty category must pass (default: any one of them).
    pub require_all: bool,
}

impl RbacRequirement {
    /// The five categories with their names, in the reference's order (the order of a
    /// `missing required ...` reason).
    pub fn categories(&self) -> [(&'static str, &[String]); 5] {
        [
            ("roles", &self.roles),
            ("groups", &self.groups),
            ("resources", &self.resources),
            ("scopes", &self.scopes),
            ("permissions", &self.permissions),
        ]
    }
}

/// Tool name -> requirement.
pub type ToolRbac = BTreeMap<String, RbacRequirement>;

/// The claims the user's RBAC sets are read from. Defaults are the seed's claim names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RbacClaims {
    /// Roles (a string is one role; an array of strings).
    pub roles: String,
    /// Groups.
    pub groups: String,
    /// Resources.
    pub resources: String,
    /// Permissions.
    pub permissions: String,
    /// Scope claims, united (a string is split on whitespace, as OAuth scopes are).
    pub scopes: Vec<String>,
    /// The tenant id (the catalogue's key).
    pub tenant_id: String,
    /// The e-mail address shown in `user_info`.
    pub email: String,
}

impl Default for RbacClaims {
    fn default() -> Self {
        RbacClaims {
            roles: "roles".into(),
            groups: "groups".into(),
            resources: "resources".into(),
            permissions: "permissions".into(),
            scopes: vec!["scope".into(), "scopes".into(), "scp".into()],
            tenant_id: "tenant_id".into(),
            email: "email".into(),
        }
    }
}

/// What one tenant has defined: a role, group, scope, resource or permission in a token counts
/// only if it is listed here for the caller's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantCatalogue {
    /// Defined roles.
    pub roles: Vec<String>,
    /// Defined groups.
    pub groups: Vec<String>,
    /// Defined scopes (the RBAC scope set only; `tool_scopes` is not filtered).
    pub scopes: Vec<String>,
    /// Defined resources.
    pub resources: Vec<String>,
    /// Defined permissions.
    pub permissions: Vec<String>,
}

/// The tenant catalogue ("database-backed validation"): exactly one source, the inline
/// `tenants`, an embedded SQLite file (`sqlite`, the default when a catalogue is wanted) or
/// PostgreSQL (`postgres`, a connection URL, kept secret). A database source is loaded whole at
/// startup and refreshed in the background every `ttl_seconds`; a snapshot is served at most
/// `stale_seconds` old, after which RBAC-gated calls are 503 `policy_unavailable` (never an
/// allow). Tables: `roles`, `groups`, `scopes`, `resources`, `permissions`, each with the
/// columns `tenant_id` and `name` (docs/rbac.md).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RbacCatalogue {
    /// Inline: tenant id -> its catalogue. A caller whose tenant is absent (or who has no
    /// tenant claim) holds nothing that counts.
    pub tenants: BTreeMap<String, TenantCatalogue>,
    /// Path of a SQLite database file (opened read-only).
    pub sqlite: String,
    /// PostgreSQL connection URL (`postgres://user:password@host:port/db`); never printed.
    pub postgres: Secret,
    /// Refresh a database snapshot after this many seconds (default 30).
    pub ttl_seconds: f64,
    /// Serve a database snapshot at most this old while refreshes fail (default 120).
    pub stale_seconds: f64,
}

impl Default for RbacCatalogue {
    fn default() -> Self {
        RbacCatalogue {
            tenants: BTreeMap::new(),
            sqlite: String::new(),
            postgres: Secret::default(),
            ttl_seconds: 30.0,
            stale_seconds: 120.0,
        }
    }
}

impl RbacCatalogue {
    /// True when the catalogue comes from a database (SQLite or PostgreSQL).
    pub fn is_database(&self) -> bool {
        !blank(&self.sqlite) || !blank(self.postgres.expose())
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The validation rules of the RBAC fields, as `config_invalid` messages: no blank value in a
/// requirement or a catalogue (it could never be granted, and dropped by a list parser it would
/// widen the rule), no blank claim name.
pub(crate) fn validate(
    tool_rbac: Option<&ToolRbac>,
    claims: &RbacClaims,
    catalogue: Option<&RbacCatalogue>,
    repr: impl Fn(&str) -> String,
) -> std::result::Result<(), String> {
    for (tool, req) in tool_rbac.into_iter().flatten() {
        if blank(tool) {
            return Err("tool_rbac contains an empty tool name".into());
        }
        for (cat, values) in req.categories() {
            if values.iter().any(|v| blank(v)) {
                return Err(format!(
                    "tool_rbac[{}].{cat} contains an empty value",
                    repr(tool)
                ));
            }
        }
    }
    for (name, value) in [
        ("roles", &claims.roles),
        ("groups", &claims.groups),
        ("resources", &claims.resources),
        ("permissions", &claims.permissions),
        ("tenant_id", &claims.tenant_id),
        ("email", &claims.email),
    ] {
        if blank(value) {
            return Err(format!("rbac_claims.{name} must not be empty"));
        }
    }
    if claims.scopes.is_empty() || claims.scopes.iter().any(|s| blank(s)) {
        return Err("rbac_claims.scopes must be a non-empty list of claim names".into());
    }
    if let Some(c) = catalogue {
        let sources = [
            !c.tenants.is_empty(),
            !blank(&c.sqlite),
            !blank(c.postgres.expose()),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err("rbac_catalogue takes one source: tenants, sqlite or postgres".into());
        }
        for (name, v) in [
            ("ttl_seconds", c.ttl_seconds),
            ("stale_seconds", c.stale_seconds),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "rbac_catalogue.{name} must be a non-negative number"
                ));
            }
        }
        let pg = c.postgres.expose().trim();
        if !(pg.is_empty() || pg.starts_with("postgres://") || pg.starts_with("postgresql://")) {
            return Err("rbac_catalogue.postgres must be a postgres:// URL".into());
        }
    }
    for (tenant, cat) in catalogue.map(|c| &c.tenants).into_iter().flatten() {
        if blank(tenant) {
            return Err("rbac_catalogue.tenants contains an empty tenant id".into());
        }
        for (name, values) in [
            ("roles", &cat.roles),
            ("groups", &cat.groups),
            ("scopes", &cat.scopes),
            ("resources", &cat.resources),
            ("permissions", &cat.permissions),
        ] {
            if values.iter().any(|v| blank(v)) {
                return Err(format!(
                    "rbac_catalogue.tenants[{}].{name} contains an empty value",
                    repr(tenant)
                ));
            }
        }
    }
    Ok(())
}

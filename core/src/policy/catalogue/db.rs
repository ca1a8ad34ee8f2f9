//! Loading a whole tenant catalogue from SQLite or PostgreSQL (sqlx): five tables, `roles`,
//! `groups`, `scopes`, `resources` and `permissions`, each `(tenant_id, name)`. Pools connect
//! lazily (no I/O until the first load) and every query has the configured timeout.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::config::{RbacCatalogue, TenantCatalogue};

/// The five tables, in `TenantCatalogue` order.
pub(crate) const TABLES: [&str; 5] = ["roles", "groups", "scopes", "resources", "permissions"];

/// A database the catalogue is read from.
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// The pool for the configured source (`None` for an inline catalogue). Connects lazily.
    pub(crate) fn from_config(c: &RbacCatalogue, timeout: Duration) -> Result<Option<Db>, String> {
        if !c.sqlite.trim().is_empty() {
            let opts = SqliteConnectOptions::new()
                .filename(c.sqlite.trim())
                .read_only(true)
                .create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(timeout)
                .connect_lazy_with(opts);
            return Ok(Some(Db::Sqlite(pool)));
        }
        let url = c.postgres.expose().trim();
        if !url.is_empty() {
            // The parse error of sqlx may quote the URL (and its password): never passed on.
            let opts: PgConnectOptions = url
                .parse()
                .map_err(|_| "rbac_catalogue.postgres is not a valid PostgreSQL URL".to_string())?;
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(timeout)
                .connect_lazy_with(opts);
            return Ok(Some(Db::Postgres(pool)));
        }
        Ok(None)
    }

    /// Read every tenant's catalogue. Errors name the table, never a credential.
    pub(crate) async fn load(
        &self,
        timeout: Duration,
    ) -> Result<HashMap<String, TenantCatalogue>, String> {
        let mut out: HashMap<String, TenantCatalogue> = HashMap::new();
        for (i, table) in TABLES.iter().enumerate() {
            let sql = format!("SELECT tenant_id, name FROM \"{table}\"");
            let rows: Vec<(String, String)> = match self {
                Db::Sqlite(p) => {
                    tokio::time::timeout(timeout, sqlx::query_as(&sql).fetch_all(p)).await
                }
                Db::Postgres(p) => {
                    tokio::time::timeout(timeout, sqlx::query_as(&sql).fetch_all(p)).await
                }
            }
            .map_err(|_| format!("tenant catalogue: reading {table} timed out"))?
            .map_err(|e| format!("tenant catalogue: reading {table} failed ({})", kind(&e)))?;
            for (tenant, name) in rows {
                if tenant.trim().is_empty() || name.trim().is_empty() {
                    continue;
                }
                let cat = out.entry(tenant).or_default();
                let set = match i {
                    0 => &mut cat.roles,
                    1 => &mut cat.groups,
                    2 => &mut cat.scopes,
                    3 => &mut cat.resources,
                    _ => &mut cat.permissions,
                };
                if !set.contains(&name) {
                    set.push(name);
                }
            }
        }
        Ok(out)
    }
}

/// A short class of a sqlx error (its full text may carry a host or user name).
fn kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => "unreachable",
        sqlx::Error::Tls(_) => "tls",
        sqlx::Error::Database(_) => "database error",
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => "unexpected table shape",
        sqlx::Error::Configuration(_) => "configuration",
        _ => "error",
    }
}

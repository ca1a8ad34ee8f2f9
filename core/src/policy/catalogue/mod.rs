//! Database-backed tenant catalogues (issue 16 "database-backed validation"): the whole
//! catalogue is held in memory as a snapshot, loaded at startup and reloaded in the background
//! once it is older than the TTL (one reload however many requests arrive, through the shared
//! [`Refresher`]), so the hot path never waits for the database. While reloads fail a snapshot
//! is served up to `stale_seconds` old; after that, and before the first load, the catalogue is
//! unavailable and degrades as the policy mode says ([`Outage`], docs/rbac.md): a 503 in
//! `remote_required`, the last snapshot in `remote_with_local_fallback`, nothing counting in
//! `local_only` and `open`. Never an allow for a value the catalogue never held.

pub(crate) mod db;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::{secs_f64, Clock};
use crate::config::{PolicyMode, RbacCatalogue, TenantCatalogue};
use crate::policy::rbac::{Catalogue, TenantAnswer};
use crate::policy::refresh::{servable, Refresher};

/// What an unavailable catalogue (never loaded, or older than the stale window with its
/// reloads failing) answers, from the policy mode (reference §4.6 read for the catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// `remote_required`: the policy source is required, RBAC-gated tools are 503
    /// `policy_unavailable`.
    Refuse,
    /// `remote_with_local_fallback`: the last snapshot that loaded is the local fallback and
    /// keeps serving past the stale window; with none yet, nothing counts.
    LastSnapshot,
    /// `local_only`, `open`: the decision stays local and definite: the caller holds nothing
    /// that counts (a tool with a requirement category is a 403 RBAC denial).
    NothingCounts,
}

impl Outage {
    /// The outage rule of a policy mode (resolved, never `unset`).
    pub fn of(mode: PolicyMode) -> Outage {
        match mode {
            PolicyMode::RemoteRequired => Outage::Refuse,
            PolicyMode::RemoteWithLocalFallback => Outage::LastSnapshot,
            _ => Outage::NothingCounts,
        }
    }
}

struct Snapshot {
    tenants: HashMap<String, Arc<TenantCatalogue>>,
    loaded_at: Option<Duration>,
    next_attempt_at: Option<Duration>,
    last_error: Option<String>,
}

/// A tenant catalogue read from SQLite or PostgreSQL, served from memory.
pub struct DbCatalogue {
    db: db::Db,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    stale: Duration,
    timeout: Duration,
    outage: Outage,
    state: RwLock<Snapshot>,
    refresher: Refresher,
}

impl std::fmt::Debug for DbCatalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbCatalogue").finish_non_exhaustive()
    }
}

impl DbCatalogue {
    /// The catalogue of a database `config` (`None` for an inline one), degrading as `outage`
    /// says. No I/O here.
    pub fn new(
        config: &RbacCatalogue,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        outage: Outage,
    ) -> Result<Option<Arc<DbCatalogue>>, String> {
        let Some(db) = db::Db::from_config(config, timeout)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(DbCatalogue {
            db,
            clock,
            ttl: secs_f64(config.ttl_seconds),
            stale: secs_f64(config.stale_seconds),
            timeout,
            outage,
            state: RwLock::new(Snapshot {
                tenants: HashMap::new(),
                loaded_at: None,
                next_attempt_at: None,
                last_error: None,
            }),
            refresher: Refresher::new(),
        })))
    }

    /// How this catalogue degrades while unavailable.
    pub fn outage(&self) -> Outage {
        self.outage
    }

    /// Remember the tokio runtime that runs background reloads.
    pub fn set_spawner(&self, handle: tokio::runtime::Handle) {
        self.refresher.set_spawner(handle);
    }

    /// Load the whole catalogue now (startup, tests); on failure the old snapshot stays.
    pub async fn load(&self) -> Result<(), String> {
        let result = self.db.load(self.timeout).await;
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(t) => {
                s.tenants = t.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
                s.loaded_at = Some(self.clock.now());
                s.last_error = None;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "tenant catalogue load failed");
                s.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Wait until no background reload is running.
    pub async fn wait_idle(&self) {
        self.refresher.wait_idle().await;
    }

    /// Start one background reload, unless one started less than the backoff (the TTL, at most
    /// 10 s) ago: a database that is down is not hammered by every request.
    fn refresh_in_background(self: &Arc<Self>, now: Duration) {
        {
            let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
            if !Refresher::due(true, s.next_attempt_at, now) || self.refresher.running() {
                return;
            }
            s.next_attempt_at = Some(now.saturating_add(self.ttl.min(Duration::from_secs(10))));
        }
        let this = self.clone();
        self.refresher.spawn(async move {
            let _ = this.load().await;
        });
    }
}

/// The [`Catalogue`] view of a shared [`DbCatalogue`] (reloads need the `Arc`).
pub struct SharedDbCatalogue(pub Arc<DbCatalogue>);

impl Catalogue for SharedDbCatalogue {
    fn tenant(&self, tenant: &str) -> TenantAnswer {
        let c = &self.0;
        let now = c.clock.now();
        let (answer, expired) = {
            let s = c.state.read().unwrap_or_else(|e| e.into_inner());
            let lookup = || match s.tenants.get(tenant) {
                Some(t) => TenantAnswer::Found(t.clone()),
                None => TenantAnswer::Unknown,
            };
            let age = s.loaded_at.map(|at| now.saturating_sub(at));
            let answer = match (age, c.outage) {
                (Some(a), _) if servable(a, c.stale.max(c.ttl)) => lookup(),
                (Some(_), Outage::LastSnapshot) => lookup(),
                (_, Outage::NothingCounts | Outage::LastSnapshot) => TenantAnswer::Unknown,
                (None, Outage::Refuse) => {
                    TenantAnswer::Unavailable("tenant catalogue not loaded".into())
                }
                (Some(_), Outage::Refuse) => {
                    TenantAnswer::Unavailable("tenant catalogue unavailable".into())
                }
            };
            (answer, age.is_none_or(|a| a > c.ttl))
        };
        if expired {
            c.refresh_in_background(now);
        }
        answer
    }
}

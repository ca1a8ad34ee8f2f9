//! Database-backed tenant catalogues (issue 16 "database-backed validation"): the whole
//! catalogue is held in memory as a snapshot, loaded at startup and reloaded in the background
//! once it is older than the TTL (one refresh however many requests arrive), so the hot path
//! never waits for the database. While reloads fail a snapshot is served up to `stale_seconds`
//! old; after that, and before the first load, the tenant answer is `Unavailable` (RBAC-gated
//! calls are 503 `policy_unavailable`, never an allow).

pub(crate) mod db;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::{secs_f64, Clock};
use crate::config::{RbacCatalogue, TenantCatalogue};
use crate::policy::rbac::{Catalogue, TenantAnswer};

struct Snapshot {
    tenants: HashMap<String, Arc<TenantCatalogue>>,
    loaded_at: Option<Duration>,
    attempted_at: Option<Duration>,
    last_error: Option<String>,
}

/// A tenant catalogue read from SQLite or PostgreSQL, served from memory.
pub struct DbCatalogue {
    db: db::Db,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    stale: Duration,
    timeout: Duration,
    state: RwLock<Snapshot>,
    refreshing: AtomicBool,
    idle: Notify,
    spawner: RwLock<Option<tokio::runtime::Handle>>,
}

impl std::fmt::Debug for DbCatalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbCatalogue").finish_non_exhaustive()
    }
}

impl DbCatalogue {
    /// The catalogue of a database `config` (`None` for an inline one). No I/O here.
    pub fn new(
        config: &RbacCatalogue,
        clock: Arc<dyn Clock>,
        timeout: Duration,
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
            state: RwLock::new(Snapshot {
                tenants: HashMap::new(),
                loaded_at: None,
                attempted_at: None,
                last_error: None,
            }),
            refreshing: AtomicBool::new(false),
            idle: Notify::new(),
            spawner: RwLock::new(tokio::runtime::Handle::try_current().ok()),
        })))
    }

    /// Remember the tokio runtime that runs background reloads.
    pub fn set_spawner(&self, handle: tokio::runtime::Handle) {
        *self.spawner.write().unwrap_or_else(|e| e.into_inner()) = Some(handle);
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
        loop {
            let notified = self.idle.notified();
            if !self.refreshing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Start one background reload, unless one ran less than the backoff (the TTL, at most
    /// 10 s) ago: a database that is down is not hammered by every request.
    fn refresh_in_background(self: &Arc<Self>, now: Duration) {
        {
            let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
            let backoff = self.ttl.min(Duration::from_secs(10));
            if s.attempted_at
                .is_some_and(|a| now.saturating_sub(a) < backoff)
            {
                return;
            }
            if self.refreshing.load(Ordering::Acquire) {
                return;
            }
            s.attempted_at = Some(now);
        }
        let Some(handle) = self
            .spawner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return;
        };
        if self
            .refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let this = self.clone();
        handle.spawn(async move {
            let _ = this.load().await;
            this.refreshing.store(false, Ordering::Release);
            this.idle.notify_waiters();
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
            match s.loaded_at {
                None => (
                    TenantAnswer::Unavailable("tenant catalogue not loaded".into()),
                    true,
                ),
                Some(at) => {
                    let age = now.saturating_sub(at);
                    let answer = if age > c.stale.max(c.ttl) {
                        TenantAnswer::Unavailable("tenant catalogue unavailable".into())
                    } else {
                        match s.tenants.get(tenant) {
                            Some(t) => TenantAnswer::Found(t.clone()),
                            None => TenantAnswer::Unknown,
                        }
                    };
                    (answer, age > c.ttl)
                }
            }
        };
        if expired {
            c.refresh_in_background(now);
        }
        answer
    }
}

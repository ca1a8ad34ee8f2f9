//! The AuthSec scope matrix: the remote tool -> scope policy fetched from
//! `{authorization_server}/authsec/resource-servers/{id}/sdk-policy` (reference §4), its cache
//! (TTL, stale-with-error window, retry backoff), stale-while-revalidate with exactly one
//! background refresh, and the policy modes `remote_required` / `remote_with_local_fallback` as a
//! [`PolicySource`]. Decisions read a snapshot and never wait for a refresh once a map exists.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::audit::event::LifecycleEvent;
use crate::audit::metrics::Endpoint;
use crate::backend::http::{Basic, HttpClient};
use crate::clock::{secs_f64, Clock};
use crate::config::{Config, PolicyMode};
use crate::policy::refresh::{servable, Refresher};
use crate::policy::{PolicySource, PolicyView, ToolMap};

/// Why the remote policy is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The backend answered `policy_complete: false` (deny-all).
    Incomplete {
        /// Lifecycle state, e.g. `needs_setup`.
        state: String,
        /// Lifecycle reason, e.g. `rs_needs_setup`.
        reason: String,
    },
    /// The fetch failed (transport, status, or decoding).
    Fetch(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Incomplete { state, reason } if reason.is_empty() => {
                write!(f, "authsec policy incomplete: state={state}")
            }
            PolicyError::Incomplete { state, reason } => {
                write!(
                    f,
                    "authsec policy incomplete: state={state} reason={reason}"
                )
            }
            PolicyError::Fetch(m) => f.write_str(m),
        }
    }
}

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Age after which a refresh starts (the current map keeps serving meanwhile).
    pub ttl: Duration,
    /// Age beyond which a map whose last refresh failed is no longer served.
    pub max_stale: Duration,
    /// Wait after a failed fetch before the next attempt.
    pub backoff: Duration,
}

/// A snapshot of the cache for health endpoints and logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CacheStatus {
    /// A map is held.
    pub has_data: bool,
    /// Seconds since the map was fetched (`None` when never).
    pub age_seconds: Option<f64>,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
    /// Backend lifecycle state (`ready`, `needs_setup`, ...).
    pub state: String,
    /// Whether the backend called the policy complete.
    pub policy_complete: bool,
    /// Backend policy generation.
    pub generation: i64,
    /// Number of fetches started.
    pub fetches: u64,
}

#[derive(Debug, Clone, Default)]
struct State {
    tool_map: Option<Arc<ToolMap>>,
    scopes_supported: Option<Vec<String>>,
    fetched_at: Option<Duration>,
    last_err: Option<PolicyError>,
    next_refresh_at: Option<Duration>,
    policy_state: String,
    policy_complete: bool,
    generation: i64,
    fetches: u64,
}

/// The scope-matrix client and cache.
pub struct ScopeMatrix {
    url: String,
    client_id: String,
    client_secret: String,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    settings: CacheSettings,
    state: RwLock<State>,
    refresher: Refresher,
}

/// The policy document's shape of interest.
pub(crate) struct Fetched {
    map: ToolMap,
    scopes_supported: Option<Vec<String>>,
    state: String,
    generation: i64,
}

/// Read an `sdk-policy` answer (reference §4.2-§4.3): the legacy-shape shim, `policy_complete`,
/// the authoritative `tool_policy`, or the legacy `tools` map.
///
/// Fail-closed rules beyond the reference: a present `policy_complete` always decides (only the
/// JSON `true` is complete; `false`, `null` or any other value is incomplete, whatever else the
/// answer holds), so the legacy shim applies only when the member is absent; and a legacy
/// `tools` entry that is not an array of strings (`"admin"`, `null`, `{}`, `[1]`) is dropped, so
/// that tool is denied as absent from policy instead of becoming public.
pub(crate) fn parse_policy(payload: &Value) -> Result<Fetched, PolicyError> {
    let obj = payload
        .as_object()
        .ok_or_else(|| PolicyError::Fetch("scope matrix decode: not a JSON object".into()))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let tool_policy = obj
        .get("tool_policy")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    let legacy_tools = obj
        .get("tools")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    let legacy_shape =
        !obj.contains_key("state") && tool_policy.is_none() && legacy_tools.is_some();
    let complete = match obj.get("policy_complete") {
        Some(v) => v == &Value::Bool(true),
        None => legacy_shape,
    };
    if !complete {
        return Err(PolicyError::Incomplete {
            state: text("state"),
            reason: text("reason"),
        });
    }
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut map = ToolMap::new();
    if let Some(entries) = tool_policy {
        for e in entries {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                continue;
            }
            let required = strings(e.get("required_scopes"));
            if e.get("is_public") == Some(&Value::Bool(true)) {
                map.insert(name.to_string(), Vec::new());
            } else if !required.is_empty() {
                map.insert(name.to_string(), required);
            }
        }
    } else if let Some(tools) = obj.get("tools").and_then(Value::as_object) {
        for (name, scopes) in tools {
            let Some(items) = scopes.as_array() else {
                continue;
            };
            let list: Option<Vec<String>> = items
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect();
            if let Some(list) = list {
                map.insert(name.clone(), list);
            }
        }
    }
    let state = text("state");
    Ok(Fetched {
        map,
        scopes_supported: obj
            .get("scopes_supported")
            .filter(|v| v.is_array())
            .map(|v| strings(Some(v))),
        state: if state.is_empty() {
            "ready".into()
        } else {
            state
        },
        generation: obj.get("generation").and_then(Value::as_i64).unwrap_or(0),
    })
}

impl ScopeMatrix {
    pub(crate) fn new(cfg: &Config, http: HttpClient, clock: Arc<dyn Clock>) -> Self {
        let base = if cfg.authorization_server.is_empty() {
            &cfg.issuer
        } else {
            &cfg.authorization_server
        };
        ScopeMatrix {
            url: format!(
                "{}/authsec/resource-servers/{}/sdk-policy",
                base.trim_end_matches('/'),
                cfg.resource_server_id.trim()
            ),
            client_id: cfg.introspection_client_id.clone(),
            client_secret: cfg.introspection_client_secret.expose().to_string(),
            http,
            clock,
            settings: CacheSettings {
                ttl: secs_f64(cfg.scope_matrix_ttl_seconds),
                max_stale: secs_f64(cfg.scope_matrix_stale_seconds),
                backoff: secs_f64(cfg.scope_matrix_backoff_seconds),
            },
            state: RwLock::new(State::default()),
            refresher: Refresher::new(),
        }
    }

    /// Remember the tokio runtime that runs background refreshes.
    pub(crate) fn set_spawner(&self, handle: tokio::runtime::Handle) {
        self.refresher.set_spawner(handle);
    }

    /// Fetch the policy now and update the cache (errors are recorded, then returned).
    pub async fn fetch_and_cache(&self) -> Result<(), PolicyError> {
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .fetches += 1;
        let result = self.fetch().await;
        let now = self.clock.now();
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(f) => {
                s.tool_map = Some(Arc::new(f.map));
                if f.scopes_supported.is_some() {
                    s.scopes_supported = f.scopes_supported;
                }
                s.fetched_at = Some(now);
                s.policy_state = f.state;
                s.policy_complete = true;
                s.generation = f.generation;
                s.last_err = None;
                s.next_refresh_at = None;
                let observer = self.http.observer();
                observer.metrics.policy_fetched(now);
                if observer.events.enabled() {
                    let tools = s.tool_map.as_ref().map_or(0, |m| m.len()) as u64;
                    observer.lifecycle(
                        LifecycleEvent::new("policy_refresh", "ok")
                            .count("tools", tools)
                            .count("generation", u64::try_from(s.generation).unwrap_or(0)),
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.http
                    .observer()
                    .lifecycle(LifecycleEvent::new("policy_refresh", "failed").detail(&e));
                if let PolicyError::Incomplete { state, .. } = &e {
                    s.tool_map = None;
                    s.scopes_supported = None;
                    s.fetched_at = None;
                    s.policy_state = state.clone();
                    s.policy_complete = false;
                }
                s.last_err = Some(e.clone());
                s.next_refresh_at = Some(now.saturating_add(self.settings.backoff));
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched, PolicyError> {
        let auth = Basic {
            user: &self.client_id,
            password: &self.client_secret,
        };
        let (status, body) = self
            .http
            .get_json(Endpoint::Policy, &self.url, Some(auth))
            .await
            .map_err(|e| PolicyError::Fetch(format!("scope matrix fetch: {e}")))?;
        if status != 200 {
            // The backend's body is logged, never put into a client-visible 503.
            crate::backend::http::log_upstream_error(
                "sdk-policy",
                status,
                &body,
                &[&self.client_secret],
            );
            return Err(PolicyError::Fetch(format!(
                "scope matrix fetch: HTTP {status}"
            )));
        }
        let payload: Value = serde_json::from_slice(&body)
            .map_err(|e| PolicyError::Fetch(format!("scope matrix decode: {e}")))?;
        parse_policy(&payload)
    }

    /// Start one background refresh when the map is older than the TTL and no backoff applies;
    /// concurrent callers after expiry start exactly one ([`Refresher`]).
    fn maybe_refresh(self: &Arc<Self>, s: &State, now: Duration) {
        let expired = s
            .fetched_at
            .is_none_or(|f| now.saturating_sub(f) > self.settings.ttl);
        if !Refresher::due(expired, s.next_refresh_at, now) {
            return;
        }
        let this = self.clone();
        self.refresher.spawn(async move {
            let _ = this.fetch_and_cache().await;
        });
    }

    /// Wait until no background refresh is running (for tests and orderly shutdown).
    pub async fn wait_idle(&self) {
        self.refresher.wait_idle().await;
    }

    /// The map to decide with (reference `get_cached`): `Ok(None)` when never fetched.
    pub(crate) fn get_cached(self: &Arc<Self>) -> Result<Option<Arc<ToolMap>>, String> {
        let now = self.clock.now();
        let s = self.state.read().unwrap_or_else(|e| e.into_inner()).clone();
        self.maybe_refresh(&s, now);
        let age = s.fetched_at.map(|f| now.saturating_sub(f));
        match (&s.tool_map, &s.last_err) {
            (None, Some(e)) => Err(e.to_string()),
            (Some(_), Some(e)) if age.is_none_or(|a| !servable(a, self.settings.max_stale)) => {
                Err(format!(
                    "scope matrix cache stale (age={}s) and last refresh failed: {e}",
                    age.unwrap_or_default().as_secs()
                ))
            }
            (m, _) => Ok(m.clone()),
        }
    }

    /// The authoritative `scopes_supported`, under the same staleness rule.
    pub(crate) fn scopes_supported(self: &Arc<Self>) -> Option<Vec<String>> {
        let now = self.clock.now();
        let s = self.state.read().unwrap_or_else(|e| e.into_inner()).clone();
        self.maybe_refresh(&s, now);
        let age = s.fetched_at.map(|f| now.saturating_sub(f));
        if s.last_err.is_some()
            && (s.scopes_supported.is_none()
                || age.is_none_or(|a| !servable(a, self.settings.max_stale)))
        {
            return None;
        }
        s.scopes_supported
    }

    /// A snapshot for health endpoints and logs.
    pub fn status(&self) -> CacheStatus {
        let now = self.clock.now();
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        CacheStatus {
            has_data: s.tool_map.is_some(),
            age_seconds: s.fetched_at.map(|f| now.saturating_sub(f).as_secs_f64()),
            last_error: s.last_err.as_ref().map(|e| e.to_string()),
            state: s.policy_state.clone(),
            policy_complete: s.policy_complete,
            generation: s.generation,
            fetches: s.fetches,
        }
    }
}

/// `remote_required` and `remote_with_local_fallback` as a policy source.
pub(crate) struct RemotePolicy {
    pub matrix: Arc<ScopeMatrix>,
    /// The local map used while the remote one is unusable (fallback mode only).
    pub fallback: Option<Arc<ToolMap>>,
    pub mode: PolicyMode,
}

impl PolicySource for RemotePolicy {
    fn current(&self) -> PolicyView {
        match (self.matrix.get_cached(), &self.fallback) {
            (Ok(Some(m)), _) => PolicyView::Map(m),
            (_, Some(local)) => PolicyView::Map(local.clone()),
            (Ok(None), None) => PolicyView::Unavailable(format!(
                "tool policy unavailable in {} mode",
                self.mode.as_str()
            )),
            (Err(e), None) => PolicyView::Unavailable(e),
        }
    }

    fn scopes_supported(&self) -> Option<Vec<String>> {
        self.matrix.scopes_supported()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_policy_is_authoritative() {
        let f = parse_policy(&json!({
            "state": "ready", "policy_complete": true, "generation": 7,
            "scopes_supported": ["a", "b"],
            "tool_policy": [
                {"name": "pub", "is_public": true, "required_scopes": []},
                {"name": "read", "is_public": false, "required_scopes": ["a"]},
                {"name": "unmapped", "is_public": false, "required_scopes": []},
                {"name": "", "is_public": true}
            ],
            "tools": {"ignored": ["x"]}
        }))
        .unwrap();
        assert_eq!(f.map.len(), 2);
        assert!(f.map["pub"].is_empty());
        assert_eq!(f.map["read"], vec!["a"]);
        assert_eq!(f.generation, 7);
        assert_eq!(f.scopes_supported, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn policy_complete_decides_whenever_present() {
        for pc in [json!(false), json!(null), json!("true"), json!(1)] {
            let e = parse_policy(&json!({"policy_complete": pc, "tools": {"t": ["s"]}}));
            assert!(
                matches!(e, Err(PolicyError::Incomplete { .. })),
                "{pc}: {:?}",
                e.map(|f| f.map)
            );
        }
        let f = parse_policy(&json!({"policy_complete": true, "tools": {"t": ["s"]}})).unwrap();
        assert_eq!(f.map["t"], vec!["s"]);
    }

    #[test]
    fn malformed_legacy_entries_are_dropped() {
        let f = parse_policy(&json!({"tools": {
            "str": "admin", "null": null, "obj": {}, "num": [1], "mixed": ["a", 2],
            "ok": ["a"], "public": []
        }}))
        .unwrap();
        let mut names: Vec<&String> = f.map.keys().collect();
        names.sort();
        assert_eq!(names, ["ok", "public"]);
        assert!(f.map["public"].is_empty());
    }

    #[test]
    fn legacy_shape_and_incomplete() {
        let f = parse_policy(&json!({"tools": {"t": ["s"], "p": []}, "ttl_seconds": 300})).unwrap();
        assert_eq!(f.state, "ready");
        assert_eq!(f.map["t"], vec!["s"]);
        assert_eq!(f.scopes_supported, None);
        let e = parse_policy(
            &json!({"state": "needs_setup", "policy_complete": false, "reason": "rs_needs_setup"}),
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "authsec policy incomplete: state=needs_setup reason=rs_needs_setup"
        );
        let e = parse_policy(&json!({"state": "scan_failed", "policy_complete": false}))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "authsec policy incomplete: state=scan_failed"
        );
    }
}

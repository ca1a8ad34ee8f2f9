//! RFC 7662 token introspection: form `token=` with Basic client authentication, `active` must be
//! the JSON boolean `true`, concurrent identical introspections coalesced into one call, and an
//! optional result cache (off by default) whose entries never outlive the token's `exp`.
//!
//! Coalescing survives hosts that drop request futures (axum/hyper drop them on disconnect): the
//! shared call runs in a task spawned on the current tokio runtime, and that task removes its
//! in-flight entry when it ends (or unwinds), whether or not anyone still waits for it. A later
//! request therefore never resumes a stale call. The in-flight map is bounded
//! ([`MAX_IN_FLIGHT`]); beyond it, or outside a tokio runtime, a call runs uncoalesced.
//!
//! With a fleet store ([`Fleet`], `docs/fleet.md`) and the result cache on, answers are shared
//! by the replicas: the lookup is local cache -> Redis -> the endpoint. A replica about to call
//! the endpoint first takes a short lease in Redis; another replica meeting the lease waits
//! (bounded by `redis_lease_wait_seconds`) for the answer to appear, then calls itself. An
//! `active: false` answer from the endpoint replaces the shared entry and is announced on the
//! revocation channel, and each replica drops its local entry for that token. Any Redis failure
//! leaves exactly the behaviour without Redis: the local cache and a direct call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::{Map, Value};

use crate::audit::metrics::Endpoint;
use crate::backend::http::{Basic, HttpClient};
use crate::backend::redis::RedisStore;
use crate::clock::{secs_f64, Clock};
use crate::token::cache::{token_key, TokenCache, TokenKey};
use crate::token::error::AuthError;
use crate::token::principal::Principal;
use crate::token::scopes::ScopeRules;

/// The result of one introspection: the principal (with `active` as answered).
pub(crate) type Introspected = Result<Arc<Principal>, AuthError>;

type InFlight = Shared<BoxFuture<'static, Introspected>>;

/// Most distinct tokens introspected at once through a shared call.
pub(crate) const MAX_IN_FLIGHT: usize = 1024;

/// Removes one in-flight entry (only the one it was made for) when dropped: at the end of the
/// spawned call, also when it unwinds.
struct RemoveOnDrop {
    inner: Arc<Inner>,
    key: TokenKey,
    id: u64,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

/// Introspection client of one runtime.
pub(crate) struct Introspector {
    inner: Arc<Inner>,
}

/// Sharing introspection answers through the fleet store.
pub(crate) struct Fleet {
    pub store: Arc<RedisStore>,
    /// How long to wait for another replica's call before calling ourselves.
    pub lease_wait: Duration,
    /// How long a lease lives (the bound of the call it stands for).
    pub lease_ttl: Duration,
}

/// Name of the shared answer of a token (its hash) in the store.
fn answer_name(key: &TokenKey) -> String {
    format!("introspection:{}", key.hex())
}

fn lease_name(key: &TokenKey) -> String {
    format!("introspection-lease:{}", key.hex())
}

/// The channel revocation notices (token hashes in hex) go on.
const REVOKED_CHANNEL: &str = "introspection-revoked";

/// Pause between two looks for the answer of a leased call.
const LEASE_POLL: Duration = Duration::from_millis(20);

/// How long a revocation notice keeps a replica from caching the shared entry it read
/// concurrently (the notice may overtake it).
const REVOKED_MEMORY: Duration = Duration::from_secs(60);

struct Inner {
    url: String,
    client_id: String,
    client_secret: String,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    cache: TokenCache<Arc<Principal>>,
    scope_rules: Arc<ScopeRules>,
    /// Shared calls by token hash, each with the id of the task that owns it.
    in_flight: Mutex<HashMap<TokenKey, (u64, InFlight)>>,
    next_id: AtomicU64,
    max_in_flight: usize,
    fleet: Option<FleetState>,
}

struct FleetState {
    fleet: Fleet,
    /// Tokens announced revoked recently: a shared *active* entry read for one is not cached.
    revoked: TokenCache<()>,
    subscribed: std::sync::Once,
}

impl Introspector {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        url: String,
        client_id: String,
        client_secret: String,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        cache_ttl: Duration,
        cache_capacity: usize,
        scope_rules: Arc<ScopeRules>,
    ) -> Self {
        Introspector {
            inner: Arc::new(Inner {
                url,
                client_id,
                client_secret,
                http,
                clock,
                cache_ttl,
                cache: TokenCache::new(cache_capacity),
                scope_rules,
                in_flight: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                max_in_flight: MAX_IN_FLIGHT,
                fleet: None,
            }),
        }
    }

    /// Share answers through `fleet` (only when the result cache is on: with a TTL of 0 every
    /// request introspects, and so does every replica).
    pub(crate) fn with_fleet(mut self, fleet: Fleet, capacity: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            if !inner.cache_ttl.is_zero() {
                inner.fleet = Some(FleetState {
                    fleet,
                    revoked: TokenCache::new(capacity),
                    subscribed: std::sync::Once::new(),
                });
            }
        }
        self
    }

    /// Subscribe to revocation notices (once, inside a tokio runtime).
    pub(crate) fn join_fleet(&self) {
        let Some(f) = &self.inner.fleet else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        f.subscribed.call_once(|| {
            let weak = Arc::downgrade(&self.inner);
            RedisStore::subscribe(&f.fleet.store, REVOKED_CHANNEL, move |hex| {
                let (Some(inner), Some(key)) = (weak.upgrade(), TokenKey::from_hex(hex)) else {
                    return;
                };
                inner.forget(&key);
            });
        });
    }

    /// A cached answer, when the cache is on and holds a live one.
    pub(crate) fn cached(&self, key: &TokenKey) -> Option<Arc<Principal>> {
        if self.inner.cache_ttl.is_zero() {
            return None;
        }
        self.inner.cache.get(key, self.inner.clock.now())
    }

    /// Introspect `token`; identical concurrent calls share one request.
    pub(crate) async fn introspect(&self, token: &str) -> Introspected {
        let key = token_key(token);
        if let Some(p) = self.cached(&key) {
            return Ok(p);
        }
        self.join_fleet();
        if let Some(p) = self.inner.shared_answer(&key).await {
            return Ok(p);
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // No runtime to own a shared call: introspect alone (nothing can be left behind).
            return self.inner.call(token).await;
        };
        let shared = {
            let mut map = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((_, f)) = map.get(&key) {
                Some(f.clone())
            } else if map.len() >= self.inner.max_in_flight {
                None
            } else {
                let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                let guard = RemoveOnDrop {
                    inner: self.inner.clone(),
                    key,
                    id,
                };
                let token = token.to_string();
                let task = handle.spawn(async move {
                    let result = guard.inner.call_shared(&token).await;
                    drop(guard);
                    result
                });
                let f = async move {
                    task.await
                        .unwrap_or_else(|_| Err(AuthError::invalid_token("introspection failed")))
                }
                .boxed()
                .shared();
                map.insert(key, (id, f.clone()));
                Some(f)
            }
        };
        match shared {
            Some(f) => f.await,
            None => self.inner.call_shared(token).await,
        }
    }

    /// Number of shared calls in flight (tests).
    #[cfg(test)]
    fn in_flight_len(&self) -> usize {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Inner {
    /// A revocation notice for `key`: drop the local answer, and for a while do not cache a
    /// shared active answer read concurrently.
    fn forget(&self, key: &TokenKey) {
        self.cache.remove(key);
        if let Some(f) = &self.fleet {
            let now = self.clock.now();
            f.revoked
                .insert(*key, (), now.saturating_add(REVOKED_MEMORY), now);
        }
    }

    /// The shared answer for `key`, if the store holds a live one (cached locally when taken).
    /// `None` on any store failure: the caller goes on as without a store.
    async fn shared_answer(&self, key: &TokenKey) -> Option<Arc<Principal>> {
        let f = self.fleet.as_ref()?;
        let bytes = match f.fleet.store.get(&answer_name(key)).await {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "shared introspection lookup skipped");
                return None;
            }
        };
        let (answer, until): (Map<String, Value>, f64) =
            serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                let until = v.get("until")?.as_f64()?;
                match v.get("answer")? {
                    Value::Object(m) => Some((m.clone(), until)),
                    _ => None,
                }
            })?;
        let now = self.clock.now();
        let until = secs_f64(until);
        if until <= now {
            return None;
        }
        let principal = self.principal_of(answer);
        if principal.active && f.revoked.get(key, now).is_some() {
            return None;
        }
        self.cache.insert(*key, principal.clone(), until, now);
        Some(principal)
    }

    /// Introspect through the fleet's lease: the replica that takes it calls the endpoint; one
    /// that meets it waits (bounded) for the answer, then calls itself.
    async fn call_shared(&self, token: &str) -> Introspected {
        let Some(f) = &self.fleet else {
            return self.call(token).await;
        };
        let key = token_key(token);
        let leased = f
            .fleet
            .store
            .put_new(&lease_name(&key), b"1", f.fleet.lease_ttl)
            .await;
        if leased == Ok(false) {
            let deadline = tokio::time::Instant::now() + f.fleet.lease_wait;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(LEASE_POLL).await;
                if let Some(p) = self.shared_answer(&key).await {
                    return Ok(p);
                }
            }
        }
        self.call(token).await
    }

    /// Publish a fresh answer: the shared entry until `until`, and, for `active: false`, the
    /// revocation notice. Failures are logged, never the caller's concern.
    async fn share(
        &self,
        key: &TokenKey,
        answer: &Map<String, Value>,
        until: Duration,
        now: Duration,
    ) {
        let Some(f) = &self.fleet else { return };
        let entry = serde_json::json!({"until": until.as_secs_f64(), "answer": answer});
        let Ok(bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        let store = &f.fleet.store;
        if let Err(e) = store
            .put(&answer_name(key), &bytes, until.saturating_sub(now))
            .await
        {
            tracing::debug!(error = %e, "shared introspection answer not stored");
        }
        let _ = store.delete(&lease_name(key)).await;
        if answer.get("active") != Some(&Value::Bool(true)) {
            if let Err(e) = store.publish(REVOKED_CHANNEL, &key.hex()).await {
                tracing::warn!(error = %e, "revocation notice not published");
            }
        }
    }

    /// The principal of an answer (with `active` as answered).
    fn principal_of(&self, payload: Map<String, Value>) -> Arc<Principal> {
        let active = payload.get("active") == Some(&Value::Bool(true));
        let mut principal = Principal::from_claims_with(payload, true, &self.scope_rules);
        principal.active = active;
        Arc::new(principal)
    }

    async fn call(&self, token: &str) -> Introspected {
        let auth = Basic {
            user: &self.client_id,
            password: &self.client_secret,
        };
        let (status, body) = self
            .http
            .post_form(
                Endpoint::Introspection,
                &self.url,
                &[("token", token)],
                auth,
            )
            .await
            .map_err(|e| AuthError::invalid_token(format!("introspection request failed: {e}")))?;
        if status != 200 {
            // The body is the authorization server's, not ours to show a client: log it for the
            // operator, answer with the status only.
            crate::backend::http::log_upstream_error(
                "introspection",
                status,
                &body,
                &[token, &self.client_secret],
            );
            return Err(AuthError::invalid_token(format!(
                "introspection returned HTTP {status}"
            )));
        }
        let payload: Map<String, Value> = match serde_json::from_slice(&body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(AuthError::invalid_token(
                    "introspection returned non-JSON body",
                ))
            }
        };
        let exp = payload.get("exp").and_then(Value::as_f64);
        let shared = self.fleet.is_some().then(|| payload.clone());
        let principal = self.principal_of(payload);
        if !self.cache_ttl.is_zero() {
            let now = self.clock.now();
            // Both the TTL and the answer's `exp` may be huge: saturate, never panic inside the
            // shared future.
            let mut until = now.saturating_add(self.cache_ttl);
            if let Some(exp) = exp {
                until = until.min(secs_f64(exp));
            }
            let key = token_key(token);
            if until > now {
                self.cache.insert(key, principal.clone(), until, now);
            }
            if let Some(answer) = shared {
                if until > now {
                    self.share(&key, &answer, until, now).await;
                } else if !principal.active {
                    // Not cacheable, but the other replicas must still hear of it.
                    self.share(
                        &key,
                        &answer,
                        now.saturating_add(Duration::from_secs(1)),
                        now,
                    )
                    .await;
                }
            }
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use authsec_fixture::Fixture;
    use serde_json::json;

    fn introspector(fx: &Fixture, max_in_flight: usize) -> Introspector {
        let mut i = Introspector::new(
            format!("{}/introspect", fx.base_url),
            "rs-1".into(),
            "secret-1".into(),
            HttpClient::new(Duration::from_secs(10), crate::audit::Observer::detached()).unwrap(),
            Arc::new(SystemClock),
            Duration::ZERO,
            16,
            Default::default(),
        );
        Arc::get_mut(&mut i.inner).unwrap().max_in_flight = max_in_flight;
        i
    }

    fn answer(sub: &str) -> Value {
        json!({"active": true, "sub": sub, "aud": "https://mcp.example.com/mcp"})
    }

    /// Wait (with a hang guard, not a timing assertion) until `cond` holds.
    async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
        for _ in 0..1000 {
            if cond().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_waiter_leaves_nothing_behind() {
        let fx = Fixture::start().await.unwrap();
        fx.reset(json!({"introspection": {"opaque-1": answer("user-a")}}))
            .await;
        fx.control(
            "POST",
            "/_control/latency",
            Some(json!({"endpoint": "introspection", "ms": 300})),
        )
        .await;
        let i = introspector(&fx, MAX_IN_FLIGHT);
        // Start a call and drop its only waiter once the request has reached the server, as a
        // host does when the client disconnects.
        {
            let mut fut = std::pin::pin!(i.introspect("opaque-1"));
            eventually("the introspection request arrives", async || {
                let polled = futures::poll!(fut.as_mut());
                assert!(polled.is_pending(), "answered before the latency");
                fx.counters().await["introspection"] == 1
            })
            .await;
            assert_eq!(i.in_flight_len(), 1);
        }
        fx.control(
            "POST",
            "/_control/introspection",
            Some(json!({"token": "opaque-1", "answer": answer("user-b")})),
        )
        .await;
        // The orphaned call finishes on its own and removes its entry.
        eventually("the in-flight entry is removed", async || {
            i.in_flight_len() == 0
        })
        .await;
        // A new request is a fresh call with the current answer, not the stale one resumed.
        fx.control(
            "POST",
            "/_control/latency",
            Some(json!({"endpoint": "introspection", "ms": 0})),
        )
        .await;
        let p = i.introspect("opaque-1").await.unwrap();
        assert_eq!(p.subject, "user-b");
        assert_eq!(fx.counters().await["introspection"], 2);
        assert_eq!(i.in_flight_len(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_in_flight_map_is_bounded() {
        let fx = Fixture::start().await.unwrap();
        let tokens: Vec<String> = (0..12).map(|n| format!("opaque-{n}")).collect();
        let answers: serde_json::Map<String, Value> = tokens
            .iter()
            .map(|t| (t.clone(), answer(&format!("sub-{t}"))))
            .collect();
        fx.reset(json!({"introspection": answers})).await;
        fx.control(
            "POST",
            "/_control/latency",
            Some(json!({"endpoint": "introspection", "ms": 200})),
        )
        .await;
        let i = Arc::new(introspector(&fx, 4));
        let mut calls = Vec::new();
        for t in &tokens {
            let (i, t) = (i.clone(), t.clone());
            calls.push(tokio::spawn(async move { i.introspect(&t).await }));
        }
        eventually("every request arrives", async || {
            assert!(i.in_flight_len() <= 4, "{}", i.in_flight_len());
            fx.counters().await["introspection"] == 12
        })
        .await;
        for (t, c) in tokens.iter().zip(calls) {
            let p = c.await.unwrap().unwrap();
            assert_eq!(p.subject, format!("sub-{t}"));
        }
        eventually("the map drains", async || i.in_flight_len() == 0).await;
    }
}

//! RFC 7662 token introspection: form `token=` with Basic client authentication, `active` must be
//! the JSON boolean `true`, concurrent identical introspections coalesced into one call, and an
//! optional result cache (off by default) whose entries never outlive the token's `exp`.
//!
//! Coalescing survives hosts that drop request futures (axum/hyper drop them on disconnect): the
//! shared call runs in a task spawned on the current tokio runtime, and that task removes its
//! in-flight entry when it ends (or unwinds), whether or not anyone still waits for it. A later
//! request therefore never resumes a stale call. The in-flight map is bounded
//! ([`MAX_IN_FLIGHT`]); beyond it, or outside a tokio runtime, a call runs uncoalesced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::{Map, Value};

use crate::audit::metrics::Endpoint;
use crate::backend::http::{Basic, HttpClient};
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
            }),
        }
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
                    let result = guard.inner.call(&token).await;
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
            None => self.inner.call(token).await,
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
        let active = payload.get("active") == Some(&Value::Bool(true));
        let exp = payload.get("exp").and_then(Value::as_f64);
        let mut principal = Principal::from_claims_with(payload, true, &self.scope_rules);
        principal.active = active;
        let principal = Arc::new(principal);
        if !self.cache_ttl.is_zero() {
            let now = self.clock.now();
            // Both the TTL and the answer's `exp` may be huge: saturate, never panic inside the
            // shared future.
            let mut until = now.saturating_add(self.cache_ttl);
            if let Some(exp) = exp {
                until = until.min(secs_f64(exp));
            }
            if until > now {
                self.cache
                    .insert(token_key(token), principal.clone(), until, now);
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

//! RFC 7662 token introspection: form `token=` with Basic client authentication, `active` must be
//! the JSON boolean `true`, concurrent identical introspections coalesced into one call, and an
//! optional result cache (off by default) whose entries never outlive the token's `exp`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::{Map, Value};

use crate::cache::{token_key, TokenCache, TokenKey};
use crate::clock::{secs_f64, Clock};
use crate::http::{Basic, HttpClient};
use crate::principal::Principal;
use crate::validator::AuthError;

/// The result of one introspection: the principal (with `active` as answered).
pub(crate) type Introspected = Result<Arc<Principal>, AuthError>;

type InFlight = Shared<BoxFuture<'static, Introspected>>;

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
    in_flight: Mutex<HashMap<TokenKey, InFlight>>,
}

impl Introspector {
    pub(crate) fn new(
        url: String,
        client_id: String,
        client_secret: String,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        cache_ttl: Duration,
        cache_capacity: usize,
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
                in_flight: Mutex::new(HashMap::new()),
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
        let fut = {
            let mut map = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.entry(key)
                .or_insert_with(|| {
                    let inner = self.inner.clone();
                    let token = token.to_string();
                    async move {
                        let result = inner.call(&token).await;
                        inner
                            .in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&key);
                        result
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        fut.await
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
            .post_form(&self.url, &[("token", token)], auth)
            .await
            .map_err(|e| AuthError::invalid_token(format!("introspection request failed: {e}")))?;
        if status != 200 {
            // The body is the authorization server's, not ours to show a client: log it for the
            // operator, answer with the status only.
            crate::http::log_upstream_error("introspection", status, &body);
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
        let mut principal = Principal::from_claims(payload, true);
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

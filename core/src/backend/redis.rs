//! The fleet store (`docs/fleet.md`): one Redis reached through the `redis` crate's reconnecting
//! async [`ConnectionManager`], every value sealed with AES-256-GCM (aws-lc-rs) before it leaves
//! the process, so a dump of Redis holds no token, claim set or credential in clear.
//!
//! Sealing: a fresh random 96-bit nonce per value, the full Redis key name as associated data (a
//! sealed value copied under another key does not open), the layout `v1 || nonce || ciphertext
//! || tag`. Whoever can write to Redis but does not hold the key can delete entries or publish
//! notices (both only make a replica ask the authorization server again), never forge a value.
//!
//! Failure: every command is bounded by the configured `redis_timeout_seconds`; after a failed
//! connection, a timed-out command or a broken connection, Redis counts as down for
//! [`RECONNECT_PAUSE`] (calls fail at once), so an outage costs a request at most one timeout. Errors never name the URL
//! (it may hold a password), the key or a value.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

/// Version byte in front of every sealed value.
const SEALED_V1: u8 = 1;

/// Least time between two connection attempts after a failed one.
pub(crate) const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Why a store call failed: a fixed description, never a key, value or URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// Not connected (connecting failed recently, or is under way).
    Unavailable,
    /// The command did not answer within the timeout.
    TimedOut,
    /// Redis answered with an error or the connection broke.
    Failed,
    /// A stored value did not open with our key (tampered, another key, or not ours).
    Unsealable,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::Unavailable => "redis is unavailable",
            StoreError::TimedOut => "redis timed out",
            StoreError::Failed => "redis command failed",
            StoreError::Unsealable => "a redis value could not be opened with the configured key",
        })
    }
}

/// The Redis store of one runtime. Cheap to share (`Arc`).
pub(crate) struct RedisStore {
    client: redis::Client,
    key: LessSafeKey,
    prefix: String,
    timeout: Duration,
    conn: Mutex<Conn>,
    connecting: tokio::sync::Mutex<()>,
    rng: SystemRandom,
}

#[derive(Default)]
struct Conn {
    manager: Option<ConnectionManager>,
    /// No new attempt before this instant (after a failed one).
    not_before: Option<Instant>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the URL (it may hold a password) nor the key.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url` (validated by the config) sealing with the 32-byte `key`; nothing is
    /// connected until the first call.
    pub(crate) fn new(
        url: &str,
        key: &[u8],
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, &'static str> {
        let client = redis::Client::open(url).map_err(|_| "redis_url cannot be used")?;
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| "redis_key must be 32 bytes")?;
        Ok(RedisStore {
            client,
            key: LessSafeKey::new(key),
            prefix: prefix.to_string(),
            timeout,
            conn: Mutex::new(Conn::default()),
            connecting: tokio::sync::Mutex::new(()),
            rng: SystemRandom::new(),
        })
    }

    /// The full Redis key of `name`.
    pub(crate) fn key_of(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A connection, connecting when none is held and no recent attempt failed. Never waits
    /// past the timeout; concurrent callers do not queue behind one attempt.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        {
            let c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = &c.manager {
                return Ok(m.clone());
            }
            if c.not_before.is_some_and(|t| Instant::now() < t) {
                return Err(StoreError::Unavailable);
            }
        }
        let Ok(_one) = self.connecting.try_lock() else {
            return Err(StoreError::Unavailable);
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(RECONNECT_PAUSE.as_millis() as u64);
        let made = tokio::time::timeout(
            self.timeout,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        match made {
            Ok(Ok(m)) => {
                c.manager = Some(m.clone());
                c.not_before = None;
                Ok(m)
            }
            Ok(Err(e)) => {
                c.not_before = Some(Instant::now() + RECONNECT_PAUSE);
                tracing::warn!(error = %describe(&e), "cannot connect to redis");
                Err(StoreError::Unavailable)
            }
            Err(_) => {
                c.not_before = Some(Instant::now() + RECONNECT_PAUSE);
                tracing::warn!("connecting to redis timed out");
                Err(StoreError::TimedOut)
            }
        }
    }

    /// Run one command with the timeout.
    async fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(self.timeout, f(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::debug!(error = %describe(&e), "redis command failed");
                if is_connection_error(&e) {
                    self.mark_down();
                }
                Err(StoreError::Failed)
            }
            Err(_) => {
                self.mark_down();
                Err(StoreError::TimedOut)
            }
        }
    }

    /// After a timeout or a broken connection, treat Redis as down for [`RECONNECT_PAUSE`]:
    /// the request's further commands (and everyone else's) fail at once instead of each
    /// waiting the timeout again; then a fresh connection is tried.
    fn mark_down(&self) {
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        c.manager = None;
        c.not_before = Some(Instant::now() + RECONNECT_PAUSE);
    }

    /// Check that Redis answers (startup).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.run(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .map(|_| ())
    }

    /// The opened value of `name`, if present.
    pub(crate) async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key_of(name);
        let raw: Option<Vec<u8>> = self.run(async |c| c.get(&key).await).await?;
        raw.map(|v| self.open(&key, v)).transpose()
    }

    /// Store `value` sealed under `name` for `ttl` (at least 1 ms).
    pub(crate) async fn put(
        &self,
        name: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.key_of(name);
        let sealed = self.seal(&key, value)?;
        let ms = ttl_ms(ttl);
        self.run(async |c| c.pset_ex::<_, _, ()>(&key, sealed, ms).await)
            .await
    }

    /// Store `value` under `name` for `ttl` only if `name` is absent; `true` when stored.
    pub(crate) async fn put_new(
        &self,
        name: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.key_of(name);
        let sealed = self.seal(&key, value)?;
        let ms = ttl_ms(ttl);
        let set: Option<String> = self
            .run(async |c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(sealed)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// Remove `name` and return its opened value, in one step (`GETDEL`: of concurrent takes,
    /// at most one gets the value).
    pub(crate) async fn take(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key_of(name);
        let raw: Option<Vec<u8>> = self
            .run(async |c| redis::cmd("GETDEL").arg(&key).query_async(c).await)
            .await?;
        raw.map(|v| self.open(&key, v)).transpose()
    }

    /// Remove `name`.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), StoreError> {
        let key = self.key_of(name);
        self.run(async |c| c.del::<_, ()>(&key).await).await
    }

    /// Publish `message` (not secret: a token hash) on the channel `name`.
    pub(crate) async fn publish(&self, name: &str, message: &str) -> Result<(), StoreError> {
        let channel = self.key_of(name);
        self.run(async |c| c.publish::<_, _, ()>(&channel, message).await)
            .await
    }

    /// Keep a subscription to the channel `name` for as long as `store` lives (the task holds it
    /// weakly), resubscribing after [`RECONNECT_PAUSE`] when Redis goes away; each message is
    /// passed to `on_message`. Must be called inside a tokio runtime.
    pub(crate) fn subscribe(
        store: &Arc<RedisStore>,
        name: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
    ) {
        let weak = Arc::downgrade(store);
        let channel = store.key_of(name);
        let client = store.client.clone();
        let timeout = store.timeout;
        tokio::spawn(async move {
            loop {
                if weak.strong_count() == 0 {
                    return;
                }
                let sub = tokio::time::timeout(timeout, async {
                    let mut p = client.get_async_pubsub().await?;
                    p.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(p)
                })
                .await;
                if let Ok(Ok(p)) = sub {
                    let mut messages = p.into_on_message();
                    loop {
                        // Wake now and then to notice the store is gone.
                        match tokio::time::timeout(RECONNECT_PAUSE, messages.next()).await {
                            Ok(Some(m)) => {
                                if let Ok(text) = m.get_payload::<String>() {
                                    on_message(&text);
                                }
                            }
                            Ok(None) => break,
                            Err(_) if weak.strong_count() == 0 => return,
                            Err(_) => {}
                        }
                    }
                }
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        });
    }

    fn seal(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| StoreError::Failed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + value.len() + 16);
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        let mut body = value.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.as_bytes()),
                &mut body,
            )
            .map_err(|_| StoreError::Failed)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn open(&self, key: &str, sealed: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEALED_V1 {
            return Err(StoreError::Unsealable);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.as_bytes()),
                &mut body,
            )
            .map_err(|_| StoreError::Unsealable)?;
        Ok(plain.to_vec())
    }
}

/// The store `cfg` configures (`redis_url` set), not yet connected.
pub(crate) fn from_config(
    cfg: &crate::config::Config,
) -> crate::error::Result<Option<Arc<RedisStore>>> {
    let url = cfg.redis_url.expose().trim();
    if url.is_empty() {
        return Ok(None);
    }
    let key = crate::config::fleet::redis_key_bytes(&cfg.redis_key)
        .ok_or_else(|| crate::error::Error::config("redis_key must be 32 bytes in base64"))?;
    RedisStore::new(
        url,
        &key,
        &cfg.redis_prefix,
        crate::clock::secs_f64(cfg.redis_timeout_seconds),
    )
    .map(|s| Some(Arc::new(s)))
    .map_err(crate::error::Error::config)
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Whether `e` says the connection is unusable (not a Redis error answer).
fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_timeout() || e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()
}

/// A Redis error's kind, never its text (which can echo a command argument).
fn describe(e: &redis::RedisError) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connection_refusal() {
        "connection refused"
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection failed"
    } else {
        "error answer"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RedisStore {
        RedisStore::new(
            "redis://127.0.0.1:1/",
            &[7u8; 32],
            "t:",
            Duration::from_millis(50),
        )
        .unwrap()
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_with_our_key() {
        let s = store();
        let a = s.seal("t:a", b"token-123").unwrap();
        let b = s.seal("t:a", b"token-123").unwrap();
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.windows(9).any(|w| w == b"token-123"));
        assert_eq!(s.open("t:a", a.clone()).unwrap(), b"token-123");
        assert_eq!(s.open("t:b", a.clone()), Err(StoreError::Unsealable));
        let mut flipped = a.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(s.open("t:a", flipped), Err(StoreError::Unsealable));
        let other = RedisStore::new("redis://127.0.0.1:1/", &[8u8; 32], "t:", s.timeout).unwrap();
        assert_eq!(other.open("t:a", a), Err(StoreError::Unsealable));
        assert_eq!(
            s.open("t:a", b"plain".to_vec()),
            Err(StoreError::Unsealable)
        );
    }

    #[test]
    fn debug_shows_neither_url_nor_key() {
        let s = RedisStore::new(
            "redis://:hunter2@127.0.0.1:1/",
            &[7u8; 32],
            "t:",
            Duration::from_millis(50),
        )
        .unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && !d.contains("127.0.0.1"), "{d}");
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_fast_and_then_without_trying() {
        let s = store();
        assert!(s.get("x").await.is_err());
        // Within the pause, no new attempt: an immediate `Unavailable`.
        assert_eq!(s.get("x").await, Err(StoreError::Unavailable));
        assert_eq!(
            s.put("x", b"v", Duration::from_secs(1)).await,
            Err(StoreError::Unavailable)
        );
    }
}

//! The Redis [`SessionStore`] for fleets (`docs/fleet.md`): sign-in sessions shared by every
//! replica behind one address, over the runtime's fleet store
//! ([`RedisStore`](crate::backend::redis::RedisStore)), so each value (tokens, PKCE verifier,
//! nonce) is sealed with AES-256-GCM under `redis_key` before it reaches Redis, bound to its
//! key name. `take` is Redis's atomic `GETDEL`. A Redis failure, or a value that does not open
//! (tampered, another key), is `session_store_unavailable`: the session layer then trusts no
//! session.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use crate::backend::redis::{RedisStore, StoreError};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::session::store::SessionStore;

/// Sessions in the fleet's Redis, under `<redis_prefix><key>` (the session layer's keys are
/// digests: `session:<sha256 of the id>`, `state:<sha256 of the state>`, so with the default prefix
/// `authsec:session:...`).
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    store: Arc<RedisStore>,
}

fn name(key: &str) -> &str {
    key
}

fn unavailable(e: StoreError) -> Error {
    Error::new(
        ErrorCode::SessionStoreUnavailable,
        format!("session store: {e}"),
    )
}

impl RedisSessionStore {
    /// The store `config` configures (`redis_url` and `redis_key`), or `None` without
    /// `redis_url`. Nothing is connected until the first call. Errors are `config_invalid`.
    pub fn from_config(config: &Config) -> Result<Option<RedisSessionStore>> {
        config.validate()?;
        Ok(crate::backend::redis::from_config(config)?.map(RedisSessionStore::over))
    }

    /// Sessions over an existing fleet store (the runtime's).
    pub(crate) fn over(store: Arc<RedisStore>) -> RedisSessionStore {
        RedisSessionStore { store }
    }
}

impl SessionStore for RedisSessionStore {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<()>> {
        async move {
            if ttl.is_zero() {
                return self.store.delete(name(key)).await.map_err(unavailable);
            }
            self.store
                .put(name(key), &value, ttl)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        async move { self.store.get(name(key)).await.map_err(unavailable) }.boxed()
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        async move { self.store.take(name(key)).await.map_err(unavailable) }.boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        async move { self.store.delete(name(key)).await.map_err(unavailable) }.boxed()
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

//! `SessionStore`: where sign-in sessions live between requests.
//!
//! The store is deliberately dumb: it keeps opaque byte values under opaque string keys, each
//! with a time to live, and knows nothing about OAuth. The session layer decides what a key is
//! (a SHA-256 digest of the session id or of a pending `state`, never the secret itself) and
//! what the bytes are (a serialized [`SessionRecord`](super::record::SessionRecord)); a store
//! that encrypts at rest (Redis) can do so without understanding the value.
//!
//! Two implementations: [`MemoryStore`](super::memory::MemoryStore) (bounded, the default) and
//! the Redis store for fleets. Every method is async and may fail with
//! [`ErrorCode::SessionStoreUnavailable`](crate::ErrorCode::SessionStoreUnavailable); the
//! session layer then answers with an error and trusts no session (fail closed).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::Result;

/// A key/value store with per-entry time to live, shared by every request of a runtime (and,
/// for Redis, by every replica of a fleet).
///
/// Contract every implementation keeps (the session layer's security rests on it):
/// - an entry is never returned after its TTL has passed;
/// - [`take`](SessionStore::take) is atomic: of any number of concurrent `take`s of one key, at
///   most one gets the value (single-use `state` and authorization codes);
/// - [`put`](SessionStore::put) replaces the value and the TTL of an existing key;
/// - a value is returned byte for byte as it was put;
/// - a bounded store may evict entries early (a lost session means signing in again, never a
///   session handed to the wrong caller).
pub trait SessionStore: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl` (a zero TTL deletes the key).
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<()>>;

    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Removes and returns the value under `key` in one atomic step.
    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Removes `key` (no error when it is absent).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>>;

    /// A short name for logs and the `GET /` info route (`"memory"`, `"redis"`).
    fn kind(&self) -> &'static str;
}

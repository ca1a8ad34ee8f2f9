//! A bounded cache keyed by the SHA-256 of a token (the token itself is never stored), split into
//! shards so concurrent requests do not contend on one lock. Entries expire at a given instant.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// SHA-256 of a token.
pub(crate) type TokenKey = [u8; 32];

/// Hash a token into a cache key.
pub(crate) fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

const SHARDS: usize = 16;

/// A sharded, bounded, expiring map from token hash to `V`.
pub(crate) struct TokenCache<V> {
    shards: Vec<Mutex<HashMap<TokenKey, (V, Duration)>>>,
    per_shard: usize,
}

impl<V: Clone> TokenCache<V> {
    /// A cache holding at most about `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &TokenKey) -> &Mutex<HashMap<TokenKey, (V, Duration)>> {
        &self.shards[key[0] as usize % SHARDS]
    }

    /// The live entry for `key` at time `now`; an expired entry is removed.
    pub(crate) fn get(&self, key: &TokenKey, now: Duration) -> Option<V> {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        match shard.get(key) {
            Some((v, until)) if now < *until => Some(v.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Insert an entry valid until `until`. A full shard first drops its expired entries, then,
    /// if still full, everything (a bounded cache must not grow under a flood of new tokens).
    pub(crate) fn insert(&self, key: TokenKey, value: V, until: Duration, now: Duration) {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, (_, u)| *u > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, (value, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_bound() {
        let c = TokenCache::new(32);
        let k = token_key("a");
        c.insert(k, 1, Duration::from_secs(10), Duration::ZERO);
        c.insert(token_key("old"), 2, Duration::from_secs(1), Duration::ZERO);
        assert_eq!(c.get(&k, Duration::from_secs(9)), Some(1));
        assert_eq!(c.get(&k, Duration::from_secs(10)), None);
        for i in 0..10_000 {
            c.insert(
                token_key(&i.to_string()),
                i,
                Duration::from_secs(100),
                Duration::from_secs(5),
            );
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= 32, "{total}");
    }
}

//! The verified-token and introspection-result caches: keyed by the SHA-256 of a token (the
//! token itself is never stored), bounded with real eviction, entries expiring at an instant
//! of the runtime's clock.
//!
//! The store is `quick_cache`'s concurrent S3-FIFO cache: sharded (no global lock), scan
//! resistant (a flood of one-off tokens does not evict the hot ones), evicting one entry at a
//! time when full instead of dropping a whole shard. Expiry is checked on read against the
//! runtime's [`Clock`](crate::Clock) (so a manual clock drives it in tests); an expired entry
//! is removed when met and otherwise ages out through eviction.

use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::UnitWeighter;

/// SHA-256 of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenKey([u8; 32]);

impl TokenKey {
    /// Lower-case hex of the digest (the fleet store's key names and revocation notices).
    pub(crate) fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key whose [`TokenKey::hex`] is `hex`.
    pub(crate) fn from_hex(hex: &str) -> Option<TokenKey> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(TokenKey(out))
    }
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The key is already a uniform digest: its first eight bytes are a perfect hash input.
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Hash a token into a cache key (aws-lc's SHA-256, which uses the CPU's SHA extensions
/// where present: this digest is the largest single cost of a repeated token).
pub(crate) fn token_key(token: &str) -> TokenKey {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    TokenKey(out)
}

/// A hasher that passes the digest prefix [`TokenKey`] writes through unchanged (hashing a
/// SHA-256 digest again buys nothing).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than TokenKey (none today): fold them in FNV-1a style.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for DigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// A bounded concurrent map keyed by a digest: quick_cache's S3-FIFO store with one unit of
/// weight per entry and the digest's own bits as its hash.
pub(crate) type DigestStore<V> =
    Cache<TokenKey, V, UnitWeighter, DigestHasher, DefaultLifecycle<TokenKey, V>>;

/// A [`DigestStore`] holding at most about `capacity` entries (at least 1).
pub(crate) fn digest_store<V: Clone>(capacity: usize) -> DigestStore<V> {
    let capacity = capacity.max(1);
    Cache::with(
        capacity,
        capacity as u64,
        UnitWeighter,
        DigestHasher::default(),
        DefaultLifecycle::default(),
    )
}

type Store<V> = DigestStore<(V, Duration)>;

/// A bounded, concurrent, expiring map from token hash to `V`.
pub(crate) struct TokenCache<V: Clone> {
    store: Store<V>,
}

impl<V: Clone> TokenCache<V> {
    /// A cache holding at most about `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            store: digest_store(capacity),
        }
    }

    /// The live entry for `key` at time `now`; an expired entry is removed.
    pub(crate) fn get(&self, key: &TokenKey, now: Duration) -> Option<V> {
        let (value, until) = self.store.get(key)?;
        if now < until {
            return Some(value);
        }
        self.store.remove(key);
        None
    }

    /// Insert an entry valid until `until`; when full, the cache evicts what it predicts is
    /// least likely to be used again.
    pub(crate) fn insert(&self, key: TokenKey, value: V, until: Duration, _now: Duration) {
        self.store.insert(key, (value, until));
    }

    /// Forget `key` (a revocation notice from another replica).
    pub(crate) fn remove(&self, key: &TokenKey) {
        self.store.remove(key);
    }

    /// Entries held now (tests and metrics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_sha256_of_the_token() {
        // FIPS 180-2 test vector: replicas name fleet entries by this digest, so it must stay
        // SHA-256 whatever implementation computes it.
        assert_eq!(
            token_key("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            TokenKey::from_hex(&token_key("abc").hex()),
            Some(token_key("abc"))
        );
    }

    #[test]
    fn expiry_and_bound() {
        let c = TokenCache::new(32);
        let k = token_key("a");
        c.insert(k, 1, Duration::from_secs(10), Duration::ZERO);
        c.insert(token_key("old"), 2, Duration::from_secs(1), Duration::ZERO);
        assert_eq!(c.get(&k, Duration::from_secs(9)), Some(1));
        assert_eq!(c.get(&k, Duration::from_secs(10)), None);
        assert_eq!(
            c.get(&k, Duration::from_secs(0)),
            None,
            "an expired entry is removed"
        );
        for i in 0..10_000 {
            c.insert(
                token_key(&i.to_string()),
                i,
                Duration::from_secs(100),
                Duration::from_secs(5),
            );
        }
        assert!(c.len() <= 40, "bounded: {}", c.len());
    }

    #[test]
    fn a_hot_token_survives_a_flood_of_one_off_tokens() {
        let c = TokenCache::new(1000);
        let hot = token_key("hot");
        c.insert(hot, 0, Duration::from_secs(100), Duration::ZERO);
        for i in 0..50_000 {
            assert_eq!(
                c.get(&hot, Duration::ZERO),
                Some(0),
                "evicted after {i} inserts"
            );
            c.insert(
                token_key(&format!("one-off-{i}")),
                i,
                Duration::from_secs(100),
                Duration::ZERO,
            );
        }
    }
}

//! `MemoryStore`: the default [`SessionStore`], bounded, in this process only.
//!
//! A mutex around a hash map; entries carry their deadline from the runtime's clock (so tests
//! with a manual clock see expiry). At capacity, expired entries are dropped first, then the
//! entry closest to its deadline: the store never grows past its bound, and an evicted session
//! only means signing in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt as _;

use super::store::SessionStore;
use crate::clock::Clock;
use crate::error::Result;

/// The default bound of a [`MemoryStore`] (entries: sessions plus pending states).
pub const DEFAULT_MEMORY_ENTRIES: usize = 10_000;

/// A bounded in-memory [`SessionStore`].
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    capacity: usize,
    entries: Mutex<HashMap<String, (Vec<u8>, Duration)>>,
}

impl MemoryStore {
    /// A store of at most `capacity` entries (at least 1) timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>, capacity: usize) -> MemoryStore {
        MemoryStore {
            clock,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The number of entries held (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Vec<u8>, Duration)>> {
        // A poisoned lock still guards a consistent map (every write is one insert/remove).
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put_now(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let now = self.clock.now();
        let mut map = self.lock();
        if ttl.is_zero() {
            map.remove(key);
            return;
        }
        if !map.contains_key(key) && map.len() >= self.capacity {
            map.retain(|_, (_, deadline)| *deadline > now);
            if map.len() >= self.capacity {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, (_, deadline))| *deadline)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
        }
        map.insert(key.to_string(), (value, now.saturating_add(ttl)));
    }

    fn get_now(&self, key: &str, remove: bool) -> Option<Vec<u8>> {
        let now = self.clock.now();
        let mut map = self.lock();
        let live = map.get(key).is_some_and(|(_, deadline)| *deadline > now);
        if !live {
            map.remove(key);
            return None;
        }
        if remove {
            map.remove(key).map(|(v, _)| v)
        } else {
            map.get(key).map(|(v, _)| v.clone())
        }
    }
}

impl SessionStore for MemoryStore {
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<()>> {
        self.put_now(key, value, ttl);
        futures::future::ready(Ok(())).boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        futures::future::ready(Ok(self.get_now(key, false))).boxed()
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        futures::future::ready(Ok(self.get_now(key, true))).boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        self.lock().remove(key);
        futures::future::ready(Ok(())).boxed()
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store(cap: usize) -> (Arc<ManualClock>, MemoryStore) {
        let clock = Arc::new(ManualClock::new());
        (clock.clone(), MemoryStore::new(clock, cap))
    }

    #[test]
    fn entries_expire_with_their_ttl() {
        let (clock, s) = store(4);
        futures::executor::block_on(async {
            s.put("a", b"1".to_vec(), Duration::from_secs(10))
                .await
                .unwrap();
            assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
            clock.advance(Duration::from_secs(10));
            assert_eq!(s.get("a").await.unwrap(), None);
            assert!(s.is_empty());
        });
    }

    #[test]
    fn take_returns_the_value_once() {
        let (_clock, s) = store(4);
        futures::executor::block_on(async {
            s.put("st", b"x".to_vec(), Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(s.take("st").await.unwrap().as_deref(), Some(&b"x"[..]));
            assert_eq!(s.take("st").await.unwrap(), None);
        });
    }

    #[test]
    fn the_bound_holds_and_the_soonest_deadline_goes_first() {
        let (clock, s) = store(2);
        futures::executor::block_on(async {
            s.put("long", b"1".to_vec(), Duration::from_secs(100))
                .await
                .unwrap();
            s.put("short", b"2".to_vec(), Duration::from_secs(5))
                .await
                .unwrap();
            s.put("new", b"3".to_vec(), Duration::from_secs(50))
                .await
                .unwrap();
            assert_eq!(s.len(), 2);
            assert_eq!(s.get("short").await.unwrap(), None);
            assert!(s.get("long").await.unwrap().is_some());
            // Expired entries are dropped before a live one is evicted.
            clock.advance(Duration::from_secs(60));
            s.put("after", b"4".to_vec(), Duration::from_secs(5))
                .await
                .unwrap();
            assert!(s.get("long").await.unwrap().is_some());
            assert!(s.get("after").await.unwrap().is_some());
            // Replacing a key keeps the count and resets the TTL; a zero TTL deletes.
            s.put("after", b"5".to_vec(), Duration::ZERO).await.unwrap();
            assert_eq!(s.get("after").await.unwrap(), None);
        });
    }
}

//! Time source. Everything time-dependent (token expiry, JWKS age and cooldown, caches) reads
//! this clock, so tests can move time instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, as a duration since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that stands still at the moment it was created and moves only when advanced, so
/// time-dependent behaviour is deterministic in tests.
#[derive(Debug)]
pub struct ManualClock {
    start: Duration,
    offset_ms: AtomicU64,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock frozen at the current system time.
    pub fn new() -> Self {
        ManualClock {
            start: SystemClock.now(),
            offset_ms: AtomicU64::new(0),
        }
    }

    /// Move this clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

//! Time source. Everything time-dependent (token expiry, JWKS age and cooldown, caches) reads
//! this clock, so tests can move time instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds as a [`Duration`], saturating: negative values and NaN are zero, values beyond
/// `Duration::MAX` (a token's `exp` of `1e300`, a huge configured TTL) are `Duration::MAX`.
/// `Duration::from_secs_f64` panics on those; every conversion of a token-supplied or configured
/// number goes through here.
pub(crate) fn secs_f64(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_saturate() {
        assert_eq!(secs_f64(1e300), Duration::MAX);
        assert_eq!(secs_f64(f64::INFINITY), Duration::MAX);
        assert_eq!(secs_f64(-5.0), Duration::ZERO);
        assert_eq!(secs_f64(f64::NAN), Duration::ZERO);
        assert_eq!(secs_f64(1.5), Duration::from_millis(1500));
    }
}

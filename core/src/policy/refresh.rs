//! The one background-refresh mechanism of the policy sources served from memory and reloaded
//! from a backend (the remote scope matrix, `remote.rs`; the database tenant catalogues,
//! `catalogue/`): a reload runs on the tokio runtime the host's `startup` ran on (or the one the
//! runtime was built on), at most one at a time however many requests notice an expired snapshot
//! (single flight), and callers can wait for it (tests, orderly shutdown). The request that
//! starts a reload is never delayed: it is served from the current snapshot. What "expired", the
//! backoff and the stale window mean stays with each source (their state differs), through
//! [`Refresher::due`] and [`servable`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;

#[derive(Debug)]
struct Flight {
    running: AtomicBool,
    idle: Notify,
}

/// Single-flight background reloads on a remembered tokio runtime.
#[derive(Debug)]
pub(crate) struct Refresher {
    flight: Arc<Flight>,
    spawner: RwLock<Option<Handle>>,
}

impl Refresher {
    /// A refresher on the current tokio runtime, if any (else [`Refresher::set_spawner`]).
    pub(crate) fn new() -> Refresher {
        Refresher {
            flight: Arc::new(Flight {
                running: AtomicBool::new(false),
                idle: Notify::new(),
            }),
            spawner: RwLock::new(Handle::try_current().ok()),
        }
    }

    /// Remember the tokio runtime that runs background reloads.
    pub(crate) fn set_spawner(&self, handle: Handle) {
        *self.spawner.write().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    /// Whether a reload is running now.
    pub(crate) fn running(&self) -> bool {
        self.flight.running.load(Ordering::Acquire)
    }

    /// Whether a reload is due: the snapshot is `expired` and the backoff that the last
    /// attempt set (`next_at`) is over at `now` (strictly after it, reference §4.4).
    pub(crate) fn due(expired: bool, next_at: Option<Duration>, now: Duration) -> bool {
        expired && next_at.is_none_or(|n| now > n)
    }

    /// Start `reload` in the background unless one is running or no runtime is known; `true`
    /// when this call started it. Its result is the source's to record.
    pub(crate) fn spawn<F>(&self, reload: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(handle) = self
            .spawner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return false;
        };
        if self
            .flight
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let flight = self.flight.clone();
        handle.spawn(async move {
            reload.await;
            flight.running.store(false, Ordering::Release);
            flight.idle.notify_waiters();
        });
        true
    }

    /// Wait until no background reload is running.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.flight.idle.notified();
            if !self.running() {
                return;
            }
            notified.await;
        }
    }
}

/// The stale-serving rule both sources share: a snapshot of `age` may serve while its reloads
/// fail as long as `age <= max_stale`.
pub(crate) fn servable(age: Duration, max_stale: Duration) -> bool {
    age <= max_stale
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_reload_at_a_time_and_wait_idle() {
        let r = Refresher::new();
        let runs = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(Notify::new());
        let (g, n) = (gate.clone(), runs.clone());
        assert!(r.spawn(async move {
            g.notified().await;
            n.fetch_add(1, Ordering::SeqCst);
        }));
        // While the first runs, no second starts.
        let n = runs.clone();
        assert!(!r.spawn(async move {
            n.fetch_add(10, Ordering::SeqCst);
        }));
        assert!(r.running());
        gate.notify_one();
        r.wait_idle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!r.running());
        // Once idle, the next one starts.
        let n = runs.clone();
        assert!(r.spawn(async move {
            n.fetch_add(1, Ordering::SeqCst);
        }));
        r.wait_idle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn without_a_runtime_nothing_starts() {
        let r = Refresher::new();
        assert!(!r.spawn(async {}));
        assert!(!r.running());
    }

    #[test]
    fn due_and_servable() {
        let s = Duration::from_secs;
        assert!(Refresher::due(true, None, s(5)));
        assert!(!Refresher::due(false, None, s(5)));
        assert!(!Refresher::due(true, Some(s(6)), s(5)));
        assert!(!Refresher::due(true, Some(s(5)), s(5)));
        assert!(Refresher::due(true, Some(s(5)), s(6)));
        assert!(servable(s(120), s(120)));
        assert!(!servable(s(121), s(120)));
    }
}

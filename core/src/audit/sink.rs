//! Where audit events go: [`AuditSink`]s (JSON lines to stderr or a file, or a binding's
//! callback) behind one bounded queue per runtime, so a slow sink never delays a request.
//!
//! The request thread serializes the event and offers the line to the queue without waiting;
//! a full queue drops the line and counts it ([`AuditStats::dropped`]). One delivery thread
//! per runtime (started with the first sink) hands each line to every sink in order.
//! Allowed decisions can be sampled (`audit_sample_allowed`); denials never are.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Receives audit lines: one JSON object per line, newline included (see `docs/audit.md`).
/// Called on the runtime's audit thread, one line at a time, in the order they were queued.
/// A sink may block (the queue absorbs it, then drops); it must not panic (a panic is caught
/// and the line counted as failed).
pub trait AuditSink: Send + Sync + 'static {
    /// Deliver one line.
    fn write(&self, line: &str);
    /// Push buffered lines out (called by [`crate::Runtime::flush_audit`]).
    fn flush(&self) {}
}

impl<F: Fn(&str) + Send + Sync + 'static> AuditSink for F {
    fn write(&self, line: &str) {
        self(line)
    }
}

/// JSON lines to stderr or to a file opened for appending (rotation is the operating system's:
/// `logrotate` with `copytruncate`, or a new file name and a restart).
pub struct JsonLinesSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLinesSink {
    /// Lines to the process's stderr.
    pub fn stderr() -> Self {
        JsonLinesSink {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Lines appended to `path` (created if missing).
    pub fn file(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let f: File = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesSink {
            out: Mutex::new(Box::new(f)),
        })
    }
}

impl AuditSink for JsonLinesSink {
    fn write(&self, line: &str) {
        if let Ok(mut w) = self.out.lock() {
            // An unwritable log must not stop the runtime; the line is lost (as a full disk
            // loses it for any logger).
            let _ = w.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        if let Ok(mut w) = self.out.lock() {
            let _ = w.flush();
        }
    }
}

/// Counts of the audit trail of one runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Lines accepted by the queue.
    pub queued: u64,
    /// Lines handed to every sink.
    pub delivered: u64,
    /// Lines dropped because the queue was full.
    pub dropped: u64,
    /// Allowed decisions left out by sampling.
    pub sampled_out: u64,
}

enum Msg {
    Line(String),
    Flush,
}

struct Shared {
    sinks: Mutex<Vec<Arc<dyn AuditSink>>>,
    delivered: AtomicU64,
    flushes: AtomicU64,
    progress: Mutex<()>,
    wake: Condvar,
}

/// The bounded queue and its delivery thread. Dropping it closes the queue; the thread
/// delivers what is queued and ends.
pub(crate) struct Queue {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    queued: AtomicU64,
    flush_requests: AtomicU64,
}

impl Queue {
    fn start(capacity: usize) -> std::io::Result<Queue> {
        let (tx, rx) = sync_channel(capacity.max(1));
        let shared = Arc::new(Shared {
            sinks: Mutex::new(Vec::new()),
            delivered: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            progress: Mutex::new(()),
            wake: Condvar::new(),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("authsec-audit".into())
            .spawn(move || deliver(rx, s))?;
        Ok(Queue {
            tx,
            shared,
            queued: AtomicU64::new(0),
            flush_requests: AtomicU64::new(0),
        })
    }
}

fn deliver(rx: Receiver<Msg>, s: Arc<Shared>) {
    while let Ok(msg) = rx.recv() {
        // Held while delivering, so `close` returns only once no sink is running.
        let sinks = s.sinks.lock().unwrap_or_else(|e| e.into_inner());
        match msg {
            Msg::Line(line) => {
                for sink in sinks.iter() {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        sink.write(&line)
                    }));
                }
                s.delivered.fetch_add(1, Ordering::Release);
            }
            Msg::Flush => {
                for sink in sinks.iter() {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.flush()));
                }
                s.flushes.fetch_add(1, Ordering::Release);
            }
        }
        drop(sinks);
        let _guard = s.progress.lock();
        s.wake.notify_all();
    }
}

/// The event side of a runtime's observer: sinks, queue, sampling and counts.
pub(crate) struct Events {
    capacity: usize,
    sample_allowed: f64,
    queue: OnceLock<Queue>,
    install: Mutex<()>,
    dropped: AtomicU64,
    sampled_out: AtomicU64,
    allowed_seen: AtomicU64,
}

impl Events {
    pub(crate) fn new(capacity: usize, sample_allowed: f64) -> Self {
        Events {
            capacity,
            sample_allowed: if sample_allowed.is_nan() {
                1.0
            } else {
                sample_allowed.clamp(0.0, 1.0)
            },
            queue: OnceLock::new(),
            install: Mutex::new(()),
            dropped: AtomicU64::new(0),
            sampled_out: AtomicU64::new(0),
            allowed_seen: AtomicU64::new(0),
        }
    }

    /// Whether any sink is attached (one atomic load: the hot path's only cost without one).
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.queue.get().is_some()
    }

    /// Attach a sink (starting the delivery thread with the first).
    pub(crate) fn add_sink(&self, sink: Arc<dyn AuditSink>) -> std::io::Result<()> {
        let _one = self.install.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = self.queue.get() {
            q.shared
                .sinks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sink);
            return Ok(());
        }
        let q = Queue::start(self.capacity)?;
        q.shared
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sink);
        let _ = self.queue.set(q);
        Ok(())
    }

    /// Whether an allowed decision is kept: exactly `round(n * rate)` of the first `n`, spread
    /// evenly (deterministic, so tests and operators can predict it).
    pub(crate) fn keep_allowed(&self) -> bool {
        if self.sample_allowed >= 1.0 {
            return true;
        }
        let n = self.allowed_seen.fetch_add(1, Ordering::Relaxed);
        let keep = (((n + 1) as f64) * self.sample_allowed).floor()
            > ((n as f64) * self.sample_allowed).floor();
        if !keep {
            self.sampled_out.fetch_add(1, Ordering::Relaxed);
        }
        keep
    }

    /// Offer a line without waiting; a full queue drops it and counts the drop. Returns
    /// whether it was queued.
    pub(crate) fn offer(&self, line: String) -> bool {
        let Some(q) = self.queue.get() else {
            return false;
        };
        match q.tx.try_send(Msg::Line(line)) {
            Ok(()) => {
                q.queued.fetch_add(1, Ordering::Release);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Wait until every line queued before this call has reached every sink and the sinks
    /// were flushed, or `timeout` passed. Returns whether it completed.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let Some(q) = self.queue.get() else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let target = q.queued.load(Ordering::Acquire);
        let flush_target = q.flush_requests.fetch_add(1, Ordering::AcqRel) + 1;
        // The flush marker waits for room: it is the caller's wait, never a request's.
        let mut marker = Msg::Flush;
        loop {
            match q.tx.try_send(marker) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    marker = m;
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        let s = &q.shared;
        let mut guard = s.progress.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.delivered.load(Ordering::Acquire) >= target
                && s.flushes.load(Ordering::Acquire) >= flush_target
            {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = match s.wake.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Deliver what is queued (at most `timeout`), then detach every sink: once this returns
    /// no sink is called again (the runtime is going away; a binding frees its callback's
    /// context after it).
    pub(crate) fn close(&self, timeout: Duration) {
        let Some(q) = self.queue.get() else {
            return;
        };
        self.flush(timeout);
        q.shared
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub(crate) fn stats(&self) -> AuditStats {
        let (queued, delivered) = match self.queue.get() {
            Some(q) => (
                q.queued.load(Ordering::Acquire),
                q.shared.delivered.load(Ordering::Acquire),
            ),
            None => (0, 0),
        };
        AuditStats {
            queued,
            delivered,
            dropped: self.dropped.load(Ordering::Relaxed),
            sampled_out: self.sampled_out.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_the_stated_share_evenly() {
        let e = Events::new(16, 0.25);
        let kept: Vec<bool> = (0..8).map(|_| e.keep_allowed()).collect();
        assert_eq!(kept, [false, false, false, true, false, false, false, true]);
        assert_eq!(e.stats().sampled_out, 6);
        let all = Events::new(16, 1.0);
        assert!((0..5).all(|_| all.keep_allowed()));
        let none = Events::new(16, 0.0);
        assert!((0..5).all(|_| !none.keep_allowed()));
        assert!(Events::new(16, f64::NAN).keep_allowed());
    }

    #[test]
    fn lines_reach_every_sink_in_order_and_flush_waits() {
        let e = Events::new(64, 1.0);
        assert!(!e.enabled());
        assert!(!e.offer("dropped before any sink\n".into()));
        let got = Arc::new(Mutex::new(Vec::<String>::new()));
        let g = got.clone();
        e.add_sink(Arc::new(move |l: &str| {
            g.lock().unwrap().push(l.to_string())
        }))
        .unwrap();
        let second = Arc::new(Mutex::new(0usize));
        let s2 = second.clone();
        e.add_sink(Arc::new(move |_: &str| *s2.lock().unwrap() += 1))
            .unwrap();
        assert!(e.enabled());
        for i in 0..10 {
            assert!(e.offer(format!("{i}\n")));
        }
        assert!(e.flush(Duration::from_secs(10)));
        let got = got.lock().unwrap().clone();
        assert_eq!(got, (0..10).map(|i| format!("{i}\n")).collect::<Vec<_>>());
        assert_eq!(*second.lock().unwrap(), 10);
        let st = e.stats();
        assert_eq!((st.queued, st.delivered, st.dropped), (10, 10, 0));
    }

    #[test]
    fn a_panicking_sink_does_not_stop_delivery() {
        let e = Events::new(8, 1.0);
        e.add_sink(Arc::new(|_: &str| panic!("sink bug"))).unwrap();
        let n = Arc::new(AtomicU64::new(0));
        let n2 = n.clone();
        e.add_sink(Arc::new(move |_: &str| {
            n2.fetch_add(1, Ordering::Relaxed);
        }))
        .unwrap();
        e.offer("a\n".into());
        e.offer("b\n".into());
        assert!(e.flush(Duration::from_secs(10)));
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn json_lines_append_to_a_file() {
        let dir = std::env::temp_dir().join(format!("authsec-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, "old\n").unwrap();
        let e = Events::new(8, 1.0);
        e.add_sink(Arc::new(JsonLinesSink::file(&path).unwrap()))
            .unwrap();
        e.offer("{\"v\":1}\n".into());
        assert!(e.flush(Duration::from_secs(10)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n{\"v\":1}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

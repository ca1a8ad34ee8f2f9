//! Observability of a runtime: the audit trail (one event per decision and per lifecycle step,
//! `event`), where events go (`sink`), and request metrics in the Prometheus text format
//! (`metrics`). Tracing spans (`authsec.check`, `authsec.backend`) are emitted through the
//! `tracing` crate where the work happens.
//!
//! This layer sits just above the foundation so every layer that does observable work (the
//! backend client, the token caches, the policy refresh, the runtime) can report to it; it
//! knows nothing of principals or requests: the runtime fills the event.

pub(crate) mod event;
pub(crate) mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub(crate) mod sink;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use event::LifecycleEvent;
use metrics::{Metrics, Snapshot};
use sink::{AuditSink, AuditStats, Events};

/// Default capacity of the audit queue (lines).
pub const DEFAULT_AUDIT_QUEUE: u64 = 4096;

/// The observer of one runtime, shared by every layer that reports to it.
pub(crate) struct Observer {
    pub(crate) metrics: Metrics,
    pub(crate) events: Events,
    clock: Arc<dyn Clock>,
}

impl Observer {
    pub(crate) fn new(queue_capacity: u64, sample_allowed: f64, clock: Arc<dyn Clock>) -> Self {
        Observer {
            metrics: Metrics::default(),
            events: Events::new(
                usize::try_from(queue_capacity).unwrap_or(usize::MAX),
                sample_allowed,
            ),
            clock,
        }
    }

    /// An observer that records into nothing anyone reads (unit tests of lower layers).
    #[cfg(test)]
    pub(crate) fn detached() -> Arc<Self> {
        Arc::new(Observer::new(1, 1.0, Arc::new(crate::clock::SystemClock)))
    }

    /// Attach a sink.
    pub(crate) fn add_sink(&self, sink: Arc<dyn AuditSink>) -> std::io::Result<()> {
        self.events.add_sink(sink)
    }

    /// Emit a lifecycle event (when a sink is attached).
    pub(crate) fn lifecycle(&self, e: LifecycleEvent) {
        if self.events.enabled() {
            self.events.offer(e.to_json_line(SystemTime::now()));
        }
    }

    /// Wait for queued events to reach the sinks.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        self.events.flush(timeout)
    }

    pub(crate) fn stats(&self) -> AuditStats {
        self.events.stats()
    }

    /// Every metric in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let st = self.stats();
        Snapshot {
            metrics: &self.metrics,
            now: self.clock.now(),
            audit_queued: st.queued,
            audit_dropped: st.dropped,
            audit_sampled_out: st.sampled_out,
        }
        .render()
    }
}

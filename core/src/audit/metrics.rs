//! Request metrics of one runtime, exposed in the Prometheus text format (version 0.0.4)
//! through `prometheus-client`'s encoder.
//!
//! Recording is one relaxed atomic add per counter on a per-thread stripe (no lock, no
//! allocation, no shared cache line between threads on different stripes); the encoder sums
//! the stripes at scrape time. The metric names and labels are listed in `docs/audit.md`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::audit::event::{Outcome, REASONS};

/// The `Content-Type` of [`crate::Runtime::metrics_text`]'s answer.
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The backends the runtime calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Jwks,
    Introspection,
    Policy,
    Manifest,
    Services,
    /// The sign-in calls: discovery, token, revocation and userinfo endpoints.
    SignIn,
}

impl Endpoint {
    const ALL: [Endpoint; 6] = [
        Endpoint::Jwks,
        Endpoint::Introspection,
        Endpoint::Policy,
        Endpoint::Manifest,
        Endpoint::Services,
        Endpoint::SignIn,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Jwks => "jwks",
            Endpoint::Introspection => "introspection",
            Endpoint::Policy => "policy",
            Endpoint::Manifest => "manifest",
            Endpoint::Services => "services",
            Endpoint::SignIn => "sign_in",
        }
    }
}

/// The status label of a backend call: its class, or `error` when no answer came.
const STATUS_CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "error"];

fn status_class(status: Option<u16>) -> usize {
    match status {
        Some(200..=299) => 0,
        Some(300..=399) => 1,
        Some(400..=499) => 2,
        Some(500..=599) => 3,
        _ => 4,
    }
}

/// The two caches whose hits and misses are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheName {
    /// The verified-token cache (JWTs).
    Token,
    /// The introspection-result cache.
    Introspection,
}

/// Histogram bucket upper bounds, nanoseconds (1 µs .. 10 s).
const BUCKETS_NS: [u64; 15] = [
    1_000,
    5_000,
    10_000,
    50_000,
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Slots of one histogram: the buckets, the overflow (+Inf), the sum (ns), the count.
const HIST: usize = BUCKETS_NS.len() + 3;

const REASON_SLOTS: usize = REASONS.len() + 1; // slot 0: no reason (allow)
const DECISIONS: usize = 0;
const DECISION_HIST: usize = DECISIONS + Outcome::ALL.len() * REASON_SLOTS;
const BACKEND: usize = DECISION_HIST + HIST;
const BACKEND_HIST: usize = BACKEND + Endpoint::ALL.len() * STATUS_CLASSES.len();
const CACHE: usize = BACKEND_HIST + Endpoint::ALL.len() * HIST;
const SLOTS: usize = CACHE + 4;

/// Stripes per runtime: threads are spread over them so two threads rarely share a line.
const STRIPES: usize = 8;

#[repr(align(128))]
struct Stripe([AtomicU64; SLOTS]);

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

/// The counters of one runtime.
pub(crate) struct Metrics {
    stripes: Box<[Stripe]>,
    /// Unix time (ms) of the last successful remote policy fetch, 0 when none.
    policy_fetched_ms: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            stripes: (0..STRIPES)
                .map(|_| Stripe(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            policy_fetched_ms: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    #[inline]
    fn add(&self, slot: usize, n: u64) {
        let s = STRIPE.try_with(|s| *s).unwrap_or(0);
        self.stripes[s].0[slot].fetch_add(n, Ordering::Relaxed);
    }

    fn sum(&self, slot: usize) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0[slot].load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    fn observe(&self, base: usize, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let b = BUCKETS_NS
            .iter()
            .position(|&u| ns <= u)
            .unwrap_or(BUCKETS_NS.len());
        self.add(base + b, 1);
        self.add(base + HIST - 2, ns);
        self.add(base + HIST - 1, 1);
    }

    /// One decision with its reason (`None` for an allow) and, when measured, its latency.
    #[inline]
    pub(crate) fn decision(&self, outcome: Outcome, reason: Option<usize>, took: Option<Duration>) {
        let r = reason.map_or(0, |i| i + 1);
        self.add(DECISIONS + outcome.index() * REASON_SLOTS + r, 1);
        if let Some(d) = took {
            self.observe(DECISION_HIST, d);
        }
    }

    /// One backend call: its status (`None`: no answer) and duration.
    pub(crate) fn backend(&self, e: Endpoint, status: Option<u16>, took: Duration) {
        let ei = e as usize;
        self.add(
            BACKEND + ei * STATUS_CLASSES.len() + status_class(status),
            1,
        );
        self.observe(BACKEND_HIST + ei * HIST, took);
    }

    /// One cache lookup.
    #[inline]
    pub(crate) fn cache(&self, c: CacheName, hit: bool) {
        self.add(CACHE + (c as usize) * 2 + usize::from(!hit), 1);
    }

    /// Record a successful remote policy fetch at `now`.
    pub(crate) fn policy_fetched(&self, now: Duration) {
        let ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX).max(1);
        self.policy_fetched_ms.store(ms, Ordering::Relaxed);
    }

    /// Total decisions counted for `outcome`.
    #[cfg(test)]
    pub(crate) fn decisions(&self, outcome: Outcome) -> u64 {
        (0..REASON_SLOTS)
            .map(|r| self.sum(DECISIONS + outcome.index() * REASON_SLOTS + r))
            .sum()
    }
}

/// What a scrape reads besides the counters: the audit trail's counts and the clock.
pub(crate) struct Snapshot<'a> {
    pub metrics: &'a Metrics,
    pub now: Duration,
    pub audit_queued: u64,
    pub audit_dropped: u64,
    pub audit_sampled_out: u64,
}

/// A collector over one snapshot; built per scrape.
struct Scrape {
    lines: Vec<Family>,
}

#[derive(Debug)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    series: Vec<(Vec<(&'static str, &'static str)>, Value)>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrape")
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for fam in &self.lines {
            let mut m = encoder.encode_descriptor(fam.name, fam.help, None, fam.kind)?;
            for (labels, v) in &fam.series {
                let mut e = m.encode_family(labels)?;
                match v {
                    Value::Counter(n) => e.encode_counter::<NoLabelSet, _, u64>(
                        n,
                        None::<&Exemplar<NoLabelSet, u64>>,
                    )?,
                    Value::Gauge(g) => e.encode_gauge(g)?,
                    Value::Histogram {
                        sum,
                        count,
                        buckets,
                    } => e.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?,
                }
            }
        }
        Ok(())
    }
}

impl Snapshot<'_> {
    fn histogram(&self, base: usize) -> Value {
        let m = self.metrics;
        let buckets = BUCKETS_NS
            .iter()
            .enumerate()
            .map(|(i, ns)| (*ns as f64 / 1e9, m.sum(base + i)))
            .collect();
        Value::Histogram {
            sum: m.sum(base + HIST - 2) as f64 / 1e9,
            count: m.sum(base + HIST - 1),
            buckets,
        }
    }

    /// The Prometheus text format (0.0.4) of every metric. Series that have not been touched
    /// are left out, except the totals that are always meaningful (dropped events, counts).
    pub(crate) fn render(&self) -> String {
        let m = self.metrics;
        let mut fams = Vec::new();
        let mut decisions = Vec::new();
        for o in Outcome::ALL {
            for r in 0..REASON_SLOTS {
                let n = m.sum(DECISIONS + o.index() * REASON_SLOTS + r);
                if n > 0 {
                    let reason = if r == 0 { "" } else { REASONS[r - 1] };
                    decisions.push((
                        vec![("outcome", o.as_str()), ("reason", reason)],
                        Value::Counter(n),
                    ));
                }
            }
        }
        fams.push(Family {
            name: "authsec_decisions",
            help: "Decisions by outcome and reason code (reason empty for allow)",
            kind: MetricType::Counter,
            series: decisions,
        });
        fams.push(Family {
            name: "authsec_decision_duration_seconds",
            help: "Time from the start of check to the decision",
            kind: MetricType::Histogram,
            series: vec![(vec![], self.histogram(DECISION_HIST))],
        });
        let mut calls = Vec::new();
        let mut call_hist = Vec::new();
        for e in Endpoint::ALL {
            let ei = e as usize;
            let mut any = false;
            for (ci, class) in STATUS_CLASSES.iter().enumerate() {
                let n = m.sum(BACKEND + ei * STATUS_CLASSES.len() + ci);
                if n > 0 {
                    any = true;
                    calls.push((
                        vec![("endpoint", e.as_str()), ("status", *class)],
                        Value::Counter(n),
                    ));
                }
            }
            if any {
                call_hist.push((
                    vec![("endpoint", e.as_str())],
                    self.histogram(BACKEND_HIST + ei * HIST),
                ));
            }
        }
        fams.push(Family {
            name: "authsec_backend_requests",
            help: "Calls to the authorization server and the AuthSec backend by endpoint and status class",
            kind: MetricType::Counter,
            series: calls,
        });
        fams.push(Family {
            name: "authsec_backend_request_duration_seconds",
            help: "Duration of backend calls by endpoint",
            kind: MetricType::Histogram,
            series: call_hist,
        });
        let mut cache = Vec::new();
        for (ci, name) in ["token", "introspection"].into_iter().enumerate() {
            for (hi, result) in ["hit", "miss"].into_iter().enumerate() {
                cache.push((
                    vec![("cache", name), ("result", result)],
                    Value::Counter(m.sum(CACHE + ci * 2 + hi)),
                ));
            }
        }
        fams.push(Family {
            name: "authsec_cache_lookups",
            help: "Verified-token and introspection-result cache lookups",
            kind: MetricType::Counter,
            series: cache,
        });
        let fetched = m.policy_fetched_ms.load(Ordering::Relaxed);
        if fetched > 0 {
            let age = (self.now.as_millis() as f64 - fetched as f64).max(0.0) / 1000.0;
            fams.push(Family {
                name: "authsec_policy_age_seconds",
                help: "Age of the remote policy in use (since its last successful fetch)",
                kind: MetricType::Gauge,
                series: vec![(vec![], Value::Gauge(age))],
            });
        }
        for (name, help, n) in [
            (
                "authsec_audit_events",
                "Audit events queued for the sinks",
                self.audit_queued,
            ),
            (
                "authsec_audit_events_dropped",
                "Audit events dropped because the queue was full",
                self.audit_dropped,
            ),
            (
                "authsec_audit_events_sampled_out",
                "Allowed decisions left out of the audit trail by sampling",
                self.audit_sampled_out,
            ),
        ] {
            fams.push(Family {
                name,
                help,
                kind: MetricType::Counter,
                series: vec![(vec![], Value::Counter(n))],
            });
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape { lines: fams }));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(m: &Metrics) -> String {
        Snapshot {
            metrics: m,
            now: Duration::from_secs(100),
            audit_queued: 3,
            audit_dropped: 2,
            audit_sampled_out: 1,
        }
        .render()
    }

    #[test]
    fn counters_sum_over_threads_and_render_as_prometheus_text() {
        let m = std::sync::Arc::new(Metrics::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        m.decision(Outcome::Allow, None, Some(Duration::from_nanos(800)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        m.decision(
            Outcome::Deny,
            Some(crate::audit::event::reason_index("no_token")),
            Some(Duration::from_micros(7)),
        );
        m.backend(Endpoint::Jwks, Some(200), Duration::from_millis(3));
        m.backend(Endpoint::Jwks, None, Duration::from_millis(20));
        m.cache(CacheName::Token, true);
        m.cache(CacheName::Introspection, false);
        m.policy_fetched(Duration::from_secs(90));
        assert_eq!(m.decisions(Outcome::Allow), 1000);
        let text = render(&m);
        for want in [
            "# TYPE authsec_decisions_total counter\n",
            "authsec_decisions_total{outcome=\"allow\",reason=\"\"} 1000\n",
            "authsec_decisions_total{outcome=\"deny\",reason=\"no_token\"} 1\n",
            "# TYPE authsec_decision_duration_seconds histogram\n",
            "authsec_decision_duration_seconds_bucket{le=\"1e-06\"} 1000\n",
            "authsec_decision_duration_seconds_bucket{le=\"1e-05\"} 1001\n",
            "authsec_decision_duration_seconds_bucket{le=\"+Inf\"} 1001\n",
            "authsec_decision_duration_seconds_count 1001\n",
            "authsec_backend_requests_total{endpoint=\"jwks\",status=\"2xx\"} 1\n",
            "authsec_backend_requests_total{endpoint=\"jwks\",status=\"error\"} 1\n",
            "authsec_backend_request_duration_seconds_count{endpoint=\"jwks\"} 2\n",
            "authsec_cache_lookups_total{cache=\"token\",result=\"hit\"} 1\n",
            "authsec_cache_lookups_total{cache=\"introspection\",result=\"miss\"} 1\n",
            "authsec_policy_age_seconds 10.0\n",
            "authsec_audit_events_total 3\n",
            "authsec_audit_events_dropped_total 2\n",
            "authsec_audit_events_sampled_out_total 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("introspection\",status"), "{text}");
    }
}

//! Scaling and caches at scale, printed as a table (a plain `main`, not criterion):
//! - threads: repeated-token checks per second on 1 thread and on 2 threads sharing one runtime
//!   (DESIGN §7: 2 threads >= 1.8x one; no global lock on the hot path);
//! - caches: 50,000 active tokens requested uniformly at random against the default
//!   `token_cache_capacity` (10,000) and against one that holds them all (60,000): hit rate
//!   (a request under 15 µs never verified a signature: a hit) and p50/p99 latency;
//! - memory: RSS while 1,000,000 distinct tokens are seen, sampled every 100,000 (bounded by the
//!   cache capacity, not by the number of tokens).
//!
//! Tokens are EdDSA (the fixture's `ed-1` key), signed here so minting a million stays cheap.
//! `cargo bench -p authsec-core --bench scale` (`SCALE_QUICK=1` for a smaller, faster run).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::Fixture;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;
const HIT_BELOW: Duration = Duration::from_micros(15);

struct Signer {
    key: Ed25519KeyPair,
    header: String,
    issuer: String,
    exp: u64,
}

impl Signer {
    fn new(issuer: &str) -> Signer {
        let pem = include_str!("../../tests/conformance/keys/ed-1.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).unwrap();
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).expect("ed-1 key");
        let _ = key.public_key();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"ed-1"}"#);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Signer {
            key,
            header,
            issuer: issuer.to_string(),
            exp: now + 7200,
        }
    }

    fn token(&self, i: usize) -> String {
        let claims = json!({"iss": self.issuer, "sub": format!("user-{i}"), "aud": RESOURCE,
            "client_id": "bench", "scope": "issues:read", "exp": self.exp, "jti": format!("t-{i}")});
        let msg = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(msg.as_bytes());
        format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn runtime(tokio: &tokio::runtime::Runtime, base: &str, capacity: u64, warm: &str) -> Runtime {
    let cfg = Config::from_json(
        &json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
            "tool_scopes": {"list_issues": ["issues:read"]}, "token_cache_capacity": capacity})
        .to_string(),
    )
    .unwrap();
    let rt = Runtime::new(cfg).unwrap();
    let auth = format!("Bearer {warm}");
    let headers = [("authorization", auth.as_str())];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: BODY,
    };
    assert!(matches!(
        tokio.block_on(rt.check(&req).resolve()),
        Decision::Allow(_)
    ));
    rt
}

fn check(rt: &Runtime, token: &str) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: BODY,
    };
    match rt.check(&req) {
        Check::Ready(Decision::Allow(_)) => {}
        Check::Ready(d) => panic!("not allowed: {d:?}"),
        Check::Pending(_) => panic!("keys are warm: expected a decision from memory"),
    }
}

/// Checks per second of `threads` threads hammering one runtime with their own repeated token.
fn throughput(rt: &Arc<Runtime>, tokens: &[String], threads: usize, run: Duration) -> f64 {
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let rt = rt.clone();
                let token = tokens[t].clone();
                s.spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < run {
                        for _ in 0..256 {
                            check(&rt, &token);
                        }
                        n += 256;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A small xorshift generator: a fixed, reproducible request order without another crate.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let quick = std::env::var_os("SCALE_QUICK").is_some();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let signer = Signer::new(&base);

    // Threads.
    let tokens: Vec<String> = (0..2).map(|i| signer.token(i)).collect();
    let rt = Arc::new(runtime(&tokio, &base, 10_000, &tokens[0]));
    check(&rt, &tokens[1]);
    let run = Duration::from_secs(if quick { 1 } else { 3 });
    let one = throughput(&rt, &tokens, 1, run);
    let two = throughput(&rt, &tokens, 2, run);
    println!("\nthreads (repeated token, one shared runtime):");
    println!("  1 thread  {one:>12.0} checks/s");
    println!(
        "  2 threads {two:>12.0} checks/s   ratio {:.2} (target >= 1.8)",
        two / one
    );

    // Caches at scale.
    let active = if quick { 5_000 } else { 50_000 };
    let requests = active * 10;
    let pool: Vec<String> = (0..active).map(|i| signer.token(1000 + i)).collect();
    println!("\ncaches: {active} active tokens, {requests} requests uniformly at random:");
    for capacity in [10_000u64, (active as u64) * 6 / 5] {
        let rt = runtime(&tokio, &base, capacity, &pool[0]);
        for t in &pool {
            check(&rt, t); // every token seen once
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = &pool[rng.below(active)];
            let s = Instant::now();
            check(&rt, t);
            times.push(s.elapsed());
        }
        let hits = times.iter().filter(|d| **d < HIT_BELOW).count();
        times.sort();
        println!(
            "  capacity {capacity:>7}: hit rate {:>5.1}%  p50 {:>6.2} µs  p99 {:>7.2} µs",
            100.0 * hits as f64 / requests as f64,
            percentile(&times, 0.50).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6,
        );
    }

    // Memory under a million distinct tokens.
    let distinct = if quick { 100_000 } else { 1_000_000 };
    let rt = runtime(&tokio, &base, 10_000, &pool[0]);
    println!(
        "\nmemory: {distinct} distinct tokens through one runtime (token_cache_capacity 10000):"
    );
    println!("  before      RSS {:>7.1} MiB", rss_mib());
    for i in 0..distinct {
        check(&rt, &signer.token(2_000_000 + i));
        if (i + 1) % (distinct / 10) == 0 {
            println!("  {:>8} tokens  RSS {:>7.1} MiB", i + 1, rss_mib());
        }
    }
}

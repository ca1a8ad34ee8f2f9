//! The cost of the C ABI over the core API on the same request: `authsec_runtime_check_request`
//! (with UTF-8 checks of every input, the decision handle and its free) against
//! `Runtime::check` on an identically configured runtime, both on a repeated RS256 token (the
//! path every request of a session takes), measured in the same run. DESIGN §7 target: the
//! difference is at most 0.3 µs. `cargo bench -p authsec-ffi --bench abi` prints it at the end.

use std::time::Instant;

use authsec::*;

#[path = "../tests/common/mod.rs"]
mod common;
use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::Fixture;
use common::{header, post_mcp_kind, runtime_from_json};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;

/// One check through the core API, from memory.
fn core_check(core: &Runtime, req: &Request<'_>) {
    match core.check(req) {
        Check::Ready(Decision::Allow(a)) => drop(std::hint::black_box(a)),
        other => panic!("expected an allow from memory, got {other:?}"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One check through the C ABI: call, kind, free.
fn abi_check(rt: *const authsec_runtime, headers: &[authsec_header]) -> authsec_decision_kind {
    post_mcp_kind(rt, headers, BODY)
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let token = tokio.block_on(fx.mint(json!({"kid": "rsa-1", "claims": {
        "iss": base, "sub": "bench-user", "aud": RESOURCE, "scope": "issues:read",
        "exp": {"$now": 3600}}})));
    let config =
        json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
        "tool_scopes": {"list_issues": ["issues:read"]}})
        .to_string();
    let auth = format!("Bearer {token}");

    // The core runtime, warmed (JWKS fetched, token verified) outside the timing.
    let core = Runtime::new(Config::from_json(&config).unwrap()).unwrap();
    let pairs = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &pairs,
        body: BODY,
    };
    assert!(matches!(
        tokio.block_on(core.check(&req).resolve()),
        Decision::Allow(_)
    ));

    // The same configuration through the C ABI, warmed the same way.
    let rt = runtime_from_json(&config);
    let headers: Vec<authsec_header> = pairs.iter().map(|(k, v)| header(k, v)).collect();
    assert_eq!(abi_check(rt, &headers), authsec_decision_kind::Allow);

    let mut g = c.benchmark_group("repeated_token");
    g.bench_function("core_check", |b| {
        b.iter(|| core_check(&core, std::hint::black_box(&req)))
    });
    g.bench_function("abi_check_request", |b| {
        b.iter(|| abi_check(rt, std::hint::black_box(&headers)))
    });
    g.finish();

    // The summary line: the two paths in alternating batches, so a change in the machine's
    // speed (these shared VMs move by up to 2x within a minute) lands on both; the difference
    // is the median of the per-round differences.
    let batch = 20_000u32;
    let (mut core_t, mut abi_t, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..41 {
        let start = Instant::now();
        for _ in 0..batch {
            core_check(&core, std::hint::black_box(&req));
        }
        let c = start.elapsed().as_secs_f64() / f64::from(batch);
        let start = Instant::now();
        for _ in 0..batch {
            std::hint::black_box(abi_check(rt, std::hint::black_box(&headers)));
        }
        let a = start.elapsed().as_secs_f64() / f64::from(batch);
        core_t.push(c);
        abi_t.push(a);
        diff.push(a - c);
    }
    let (core_t, abi_t, diff) = (median(core_t), median(abi_t), median(diff));
    println!(
        "\nC ABI overhead on a repeated token: core {:.3} µs, ABI {:.3} µs, difference {:.3} µs ({:.2}x; 41 alternating rounds of {batch} checks, medians)",
        core_t * 1e6,
        abi_t * 1e6,
        diff * 1e6,
        abi_t / core_t
    );
    // SAFETY: the bench owns this reference.
    unsafe { authsec_runtime_free(rt) };
}

criterion_group!(abi, benches);
criterion_main!(abi);

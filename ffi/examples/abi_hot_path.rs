//! A fixed workload for instruction counts of the C ABI's own cost (`valgrind
//! --tool=callgrind`, repeatable where wall-clock benchmarks are not): N checks of one repeated
//! RS256 token on a 200-byte `tools/call`, through `authsec_runtime_check_request` (argument
//! `abi`, the default) or through `Runtime::check` on an identically configured runtime in the
//! same binary (argument `core`). The difference of the two totals divided by N is what the C
//! ABI adds per request (DESIGN §7: at most 0.3 µs); `benches/abi.rs` measures the same in time.
//!
//! `cargo build --release -p authsec-ffi --example abi_hot_path && valgrind --tool=callgrind
//! target/release/examples/abi_hot_path 10000 abi` (and `core`).

use authsec::*;
#[path = "../tests/common/mod.rs"]
mod common;
use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::Fixture;
use common::{header, post_mcp_kind, runtime_from_json};
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;

/// One check through the C ABI, as a C host makes it: call, read the kind, free.
fn abi_check(rt: *const authsec_runtime, headers: &[authsec_header]) -> authsec_decision_kind {
    post_mcp_kind(rt, headers, BODY)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let through_core = args.next().as_deref() == Some("core");
    // The fixture issuer runs on its own thread, so the C ABI's blocking calls are allowed here.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let token = tokio.block_on(fx.mint(json!({"kid": "rsa-1", "claims": {
        "iss": base, "sub": "u", "aud": RESOURCE, "scope": "issues:read",
        "exp": {"$now": 3600}}})));
    let config = json!({"issuer": base, "jwks_url": format!("{base}/jwks"),
        "resource_uri": RESOURCE, "tool_scopes": {"list_issues": ["issues:read"]}})
    .to_string();
    let auth = format!("Bearer {token}");
    let pairs = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if through_core {
        let rt = Runtime::new(Config::from_json(&config).expect("config")).expect("runtime");
        let req = Request {
            method: "POST",
            path: "/mcp",
            headers: &pairs,
            body: BODY,
        };
        assert!(matches!(
            tokio.block_on(rt.check(&req).resolve()),
            Decision::Allow(_)
        ));
        for _ in 0..n {
            match rt.check(std::hint::black_box(&req)) {
                Check::Ready(Decision::Allow(a)) => drop(std::hint::black_box(a)),
                other => panic!("expected an allow from memory, got {other:?}"),
            }
        }
    } else {
        let rt = runtime_from_json(&config);
        let headers: Vec<authsec_header> = pairs.iter().map(|(k, v)| header(k, v)).collect();
        for _ in 0..n.max(1) {
            let kind = abi_check(rt, std::hint::black_box(&headers));
            assert_eq!(kind, authsec_decision_kind::Allow);
        }
        // SAFETY: this function owns the reference.
        unsafe { authsec_runtime_free(rt) };
    }
    println!(
        "abi_hot_path: {n} checks allowed through {}",
        if through_core {
            "the core"
        } else {
            "the C ABI"
        }
    );
}

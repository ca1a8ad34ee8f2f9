//! A fixed workload for instruction counts (`valgrind --tool=callgrind`), which are repeatable
//! on noisy machines where wall-clock benchmarks are not: N checks of one repeated RS256 token
//! on a 200-byte `tools/call` (the verified-token cache path), after one warm-up request.
//!
//! `cargo build --release -p authsec-core --example hot_path && valgrind --tool=callgrind
//! target/release/examples/hot_path 10000` then `callgrind_annotate` the output; compare the
//! totals of two versions divided by N. An argument `sink` attaches an audit sink that
//! discards its lines (the cost of building and queueing one event per check; the delivery
//! thread's instructions are in the total too); `session` adds an `Mcp-Session-Id` header (the
//! cost of a 2025 client's session check, docs/sessions.md).

use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::Fixture;
use serde_json::json;

const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let token = tokio
        .block_on(fx.mint(json!({"kid": "rsa-1", "claims": {"iss": base, "sub": "u", "aud": "https://mcp.example.com/mcp",
            "scope": "issues:read", "exp": {"$now": 3600}}})));
    let cfg = Config::from_json(
        &json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": "https://mcp.example.com/mcp",
            "tool_scopes": {"list_issues": ["issues:read"]}})
        .to_string(),
    )
    .expect("config");
    let rt = Runtime::new(cfg).expect("runtime");
    let sink = std::env::args().skip(2).any(|a| a == "sink");
    let session = std::env::args().skip(2).any(|a| a == "session");
    if sink {
        rt.add_audit_sink(std::sync::Arc::new(|_: &str| {}))
            .expect("audit sink");
    }
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if session {
        headers.push(("mcp-session-id", "6f1d0c2e-9b7a-4e55-8c1f-3a2b9d0e7c41"));
    }
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
    let mut allowed = 0;
    for _ in 0..n {
        if let Check::Ready(Decision::Allow(_)) = rt.check(&req) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, n);
    if sink {
        assert!(rt.flush_audit(std::time::Duration::from_secs(60)));
        assert_eq!(
            rt.audit_stats().delivered + rt.audit_stats().dropped,
            n as u64 + 1
        );
    }
    println!("hot_path: {n} checks allowed (audit sink: {sink}, session: {session})");
}

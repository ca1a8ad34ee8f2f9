//! A fixed filtering workload for instruction counts (`valgrind --tool=callgrind`), beside its
//! baseline in the same process: N filterings of the benchmark's 100-tool `tools/list` answer
//! for a caller allowed a third of the tools (`filter_all`), and N serde_json parses plus
//! serializations of the same body (`baseline_all`, DESIGN §7's baseline: the filter must cost
//! at most half of it).
//!
//! `cargo build --release -p authsec-core --example filter_list`, then `valgrind
//! --tool=callgrind target/release/examples/filter_list 200` and `callgrind_annotate
//! --inclusive=yes` the output: the inclusive counts of `filter_all` and `baseline_all` divided
//! by N are the two per-answer costs (`scripts/instructions.sh` prints them).

use authsec_core::{Config, Decision, FilterOutcome, Request, Runtime};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

#[path = "../benches/support/tools_list.rs"]
mod tools_list;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const LIST: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let token = tokio.block_on(
        fx.mint(json!({"kid": "rsa-1", "claims": {"iss": base, "sub": "u",
        "aud": RESOURCE, "scope": "issues:read", "exp": {"$now": 3600}}})),
    );
    let cfg = Config::from_json(
        &json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
            "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}})
        .to_string(),
    )
    .expect("config");
    let rt = Runtime::new(cfg).expect("runtime");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: LIST,
    };
    let principal = match tokio.block_on(rt.check(&req).resolve()) {
        Decision::Allow(a) => a.principal,
        d => panic!("expected an allow, got {d:?}"),
    };
    // The criterion bench's body (core/benches/check.rs): one third of the tools allowed.
    let body = tools_list::body();

    // One filtering checked outside the counts: the 34 `list_issues` entries are kept.
    let FilterOutcome::Rewritten(once) =
        rt.filter_response(&principal, Some("application/json"), &body)
    else {
        panic!("expected a rewritten list");
    };
    let v: Value = serde_json::from_slice(&once).expect("filtered JSON");
    assert_eq!(v["result"]["tools"].as_array().map(Vec::len), Some(34));
    assert_eq!(filter_all(&rt, &principal, &body, n), n * once.len());
    assert_eq!(baseline_all(&body, n), n * body.len());
    println!(
        "filter_list: {n} filterings of a {}-byte tools/list answer, {n} parse+serialize",
        body.len()
    );
}

/// The filter, N times; returns the bytes written over all runs.
#[inline(never)]
fn filter_all(rt: &Runtime, principal: &authsec_core::Principal, body: &[u8], n: usize) -> usize {
    (0..n)
        .map(|_| {
            match rt.filter_response(
                principal,
                Some("application/json"),
                std::hint::black_box(body),
            ) {
                FilterOutcome::Rewritten(out) => out.len(),
                _ => panic!("expected a rewritten list"),
            }
        })
        .sum()
}

/// The baseline, N times: parse into `serde_json::Value` and serialize; returns the bytes.
#[inline(never)]
fn baseline_all(body: &[u8], n: usize) -> usize {
    (0..n)
        .map(|_| {
            let v: Value = serde_json::from_slice(std::hint::black_box(body)).expect("JSON");
            serde_json::to_vec(&v).expect("serialize").len()
        })
        .sum()
}

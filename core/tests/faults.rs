//! Broken backends through the fixture's fault controls (`/_control/outage`, `/_control/fault`,
//! `/_control/latency`, real HTTP on loopback): for every fault of the JWKS, introspection,
//! sdk-policy and sdk-manifest endpoints, the exact answer a client sees (status, challenge,
//! body) and that no call waits past the configured timeout plus a generous margin
//! ([`CEILING`], a ceiling, never a timing expectation). The faults: 5xx, 429 with Retry-After,
//! connection reset (closed without an answer), truncated body, garbage, oversized (past the
//! 1 MiB cap), slow past the timeout, flapping, and a key rotation mid-run.
//!
//! No panic crosses the boundary: every check here is awaited directly, so a panic fails the
//! test, and a panic inside a shared introspection call would show as the description
//! "introspection failed", which no expectation here accepts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authsec_core::{
    Clock, Config, Decision, ErrorCode, ManifestSource, ManualClock, Request, Runtime,
};
use authsec_fixture::Fixture;
use common::ready_policy;
use serde_json::{json, Value};

mod common;

const RESOURCE: &str = "https://mcp.example.com/mcp";
/// The configured `request_timeout_seconds`.
const TIMEOUT_S: f64 = 1.5;
/// The latency of a "slow" fault: far past the timeout, so a call that waited for it would
/// break the ceiling.
const SLOW_MS: u64 = 10_000;
/// No call may take longer than this (the timeout plus a generous margin for a loaded machine).
const CEILING: Duration = Duration::from_millis(6500);

/// One way an endpoint misbehaves.
#[derive(Clone, Copy, Debug)]
enum Broken {
    Status(u16),
    TooMany,
    Reset,
    Truncated,
    Garbage,
    Oversized,
    Slow,
}

const ALL: [Broken; 9] = [
    Broken::Status(500),
    Broken::Status(502),
    Broken::Status(503),
    Broken::TooMany,
    Broken::Reset,
    Broken::Truncated,
    Broken::Garbage,
    Broken::Oversized,
    Broken::Slow,
];

/// Turn `b` on for `endpoint` (every `every`th arrival, starting with the next).
async fn set(fx: &Fixture, endpoint: &str, b: Broken, every: u64) {
    let (path, body) = match b {
        Broken::Status(s) => (
            "/_control/outage",
            json!({"endpoint": endpoint, "status": s, "every": every}),
        ),
        Broken::TooMany => (
            "/_control/outage",
            json!({"endpoint": endpoint, "status": 429, "retry_after": 120, "every": every}),
        ),
        Broken::Slow => (
            "/_control/latency",
            json!({"endpoint": endpoint, "ms": SLOW_MS}),
        ),
        Broken::Reset => (
            "/_control/fault",
            json!({"endpoint": endpoint, "kind": "reset", "every": every}),
        ),
        Broken::Truncated => (
            "/_control/fault",
            json!({"endpoint": endpoint, "kind": "truncated", "every": every}),
        ),
        Broken::Garbage => (
            "/_control/fault",
            json!({"endpoint": endpoint, "kind": "garbage", "every": every}),
        ),
        Broken::Oversized => (
            "/_control/fault",
            json!({"endpoint": endpoint, "kind": "oversized", "every": every}),
        ),
    };
    assert_eq!(
        fx.control("POST", path, Some(body)).await,
        json!({"ok": true})
    );
}

/// Turn every misbehaviour of `endpoint` off.
async fn heal(fx: &Fixture, endpoint: &str) {
    for (path, body) in [
        (
            "/_control/outage",
            json!({"endpoint": endpoint, "status": 0}),
        ),
        (
            "/_control/fault",
            json!({"endpoint": endpoint, "kind": "none"}),
        ),
        ("/_control/latency", json!({"endpoint": endpoint, "ms": 0})),
    ] {
        assert_eq!(
            fx.control("POST", path, Some(body)).await,
            json!({"ok": true})
        );
    }
}

/// What the core's HTTP client reports for `b` (the transport part of a description).
fn transport(b: Broken) -> Option<&'static str> {
    match b {
        Broken::Reset => Some("request failed"),
        Broken::Truncated => Some("could not read the response"),
        Broken::Oversized => Some("response larger than 1048576 bytes"),
        Broken::Slow => Some("timed out"),
        _ => None,
    }
}

/// How a caller describes `b`: `transport` + the transport failure, `status` + the status
/// (429 for `TooMany`), or `garbage` for a body that is not JSON.
fn describe(b: Broken, transport_failed: &str, status: &str, garbage: &str) -> String {
    match (b, transport(b)) {
        (_, Some(t)) => format!("{transport_failed}{t}"),
        (Broken::Status(s), _) => format!("{status}{s}"),
        (Broken::TooMany, _) => format!("{status}429"),
        _ => garbage.to_string(),
    }
}

/// Await `f`, failing when it takes longer than [`CEILING`].
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = f.await;
    let took = start.elapsed();
    assert!(
        took < CEILING,
        "{what} took {took:?}: past the timeout ({TIMEOUT_S} s) plus margin"
    );
    out
}

/// `base` with the members of `extra` set over it.
fn merged(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn config(base: &str, c: Value) -> Config {
    let defaults = json!({
        "issuer": base, "resource_uri": RESOURCE, "request_timeout_seconds": TIMEOUT_S,
        "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
        "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]},
    });
    Config::from_json(&merged(defaults, c).to_string()).unwrap()
}

fn runtime(cfg: Config) -> (Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let rt = Runtime::builder(cfg)
        .clock(clock.clone() as Arc<dyn Clock>)
        .build()
        .unwrap();
    (rt, clock)
}

async fn jwt(fx: &Fixture, kid: &str, jti: &str) -> String {
    fx.mint(json!({"kid": kid, "claims": {
        "iss": fx.base_url, "sub": "user-1", "aud": RESOURCE, "scope": "issues:read",
        "jti": jti, "exp": {"$now": 86400}}}))
        .await
}

async fn check(rt: &Runtime, token: &str) -> Decision {
    let auth = format!("Bearer {token}");
    // No JSON-RPC id: a refusal is an HTTP answer, not an in-band tool error.
    let body = json!({"method": "tools/call", "params": {"name": "list_issues"}}).to_string();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    bounded(
        "a check",
        rt.check(&Request {
            method: "POST",
            path: "/mcp",
            headers: &headers,
            body: body.as_bytes(),
        })
        .resolve(),
    )
    .await
}

fn assert_allowed(d: &Decision, why: &str) {
    match d {
        Decision::Allow(a) => assert_eq!(a.principal.subject, "user-1", "{why}"),
        other => panic!("{why}: expected an allow, got {other:?}"),
    }
}

/// The exact answer `status` with the Bearer challenge of `error` and `description`, and `body`
/// (compact JSON); no upstream header (`Retry-After`) is ever copied.
fn assert_refused(d: &Decision, status: u16, error: &str, description: &str, body: Value) {
    let Decision::Respond(r) = d else {
        panic!("expected {status} ({description}), got {d:?}");
    };
    assert_eq!(r.status, status, "{description}");
    let challenge = format!(
        "Bearer realm=\"AuthSec Protected MCP Resource\", resource_metadata=\
         \"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", \
         error=\"{error}\", error_description=\"{description}\""
    );
    assert_eq!(r.header("www-authenticate"), Some(challenge.as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("retry-after"),
        None,
        "an upstream header is copied"
    );
    assert_eq!(String::from_utf8_lossy(&r.body), body.to_string());
}

/// The exact answer of a refused token: 401, the invalid_token challenge and body.
fn assert_invalid_token(d: &Decision, description: &str) {
    let body = json!({"error": "invalid_token", "error_description": description,
        "reason": "invalid_token"});
    assert_refused(d, 401, "invalid_token", description, body);
}

/// The exact 503 of a policy that cannot be served.
fn assert_policy_unavailable(d: &Decision, description: &str) {
    let body = json!({"error": "policy_unavailable", "error_description": description});
    assert_refused(d, 503, "policy_unavailable", description, body);
}

async fn counter(fx: &Fixture, name: &str) -> u64 {
    fx.counters().await[name].as_u64().unwrap()
}

// ---- JWKS ----

/// Why a JWKS fetch failed, as the key lookup reports it.
fn jwks_error(b: Broken) -> String {
    describe(
        b,
        "JWKS fetch failed: ",
        "JWKS fetch returned HTTP ",
        "JWKS response is not JSON",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_down_at_start_refuses_then_recovers() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(json!({})).await;
        set(&fx, "jwks", b, 1).await;
        let (rt, clock) = runtime(config(
            &fx.base_url,
            json!({"jwks_url": format!("{}/jwks", fx.base_url)}),
        ));
        // Startup does not fetch the key set: a broken JWKS never delays it.
        let warnings = bounded("startup", rt.startup()).await.unwrap();
        assert!(warnings.is_empty(), "{b:?}: {warnings:?}");
        let t = jwt(&fx, "rsa-1", "a").await;
        assert_invalid_token(
            &check(&rt, &t).await,
            &format!(
                "could not resolve signing key: JWKS unavailable ({})",
                jwks_error(b)
            ),
        );
        assert_eq!(counter(&fx, "jwks").await, 1, "{b:?}");
        // Within the retry interval nothing is fetched again: the same answer from memory.
        assert_invalid_token(
            &check(&rt, &t).await,
            &format!(
                "could not resolve signing key: JWKS unavailable ({})",
                jwks_error(b)
            ),
        );
        assert_eq!(counter(&fx, "jwks").await, 1, "{b:?}");
        heal(&fx, "jwks").await;
        clock.advance(Duration::from_secs(2));
        assert_allowed(&check(&rt, &t).await, &format!("{b:?} healed"));
        assert_eq!(counter(&fx, "jwks").await, 2, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_down_after_start_keeps_known_keys() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(json!({"jwks": ["rsa-1"]})).await;
        let (rt, clock) = runtime(config(
            &fx.base_url,
            json!({"jwks_url": format!("{}/jwks", fx.base_url)}),
        ));
        rt.startup().await.unwrap();
        assert_allowed(
            &check(&rt, &jwt(&fx, "rsa-1", "first").await).await,
            "healthy",
        );
        set(&fx, "jwks", b, 1).await;
        fx.control(
            "POST",
            "/_control/jwks",
            Some(json!({"jwks": ["rsa-1", "rsa-2"]})),
        )
        .await;
        clock.advance(Duration::from_secs(31));
        // An unknown kid makes one refresh, which fails: the kid stays unknown...
        assert_invalid_token(
            &check(&rt, &jwt(&fx, "rsa-2", "new").await).await,
            "could not resolve signing key: unknown kid rsa-2",
        );
        assert_eq!(counter(&fx, "jwks").await, 2, "{b:?}");
        // ...and the known key keeps verifying new tokens, with no further fetch.
        assert_allowed(
            &check(&rt, &jwt(&fx, "rsa-1", "second").await).await,
            &format!("{b:?}: known key"),
        );
        assert_eq!(counter(&fx, "jwks").await, 2, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_mid_run_fetches_the_new_kid_once() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"jwks": ["rsa-1"]})).await;
    let (rt, clock) = runtime(config(
        &fx.base_url,
        json!({"jwks_url": format!("{}/jwks", fx.base_url)}),
    ));
    rt.startup().await.unwrap();
    let old = jwt(&fx, "rsa-1", "old").await;
    assert_allowed(&check(&rt, &old).await, "before the rotation");
    assert_eq!(counter(&fx, "jwks").await, 1);

    // The server starts signing with rsa-2 and publishes both keys.
    fx.control(
        "POST",
        "/_control/jwks",
        Some(json!({"jwks": ["rsa-1", "rsa-2"]})),
    )
    .await;
    clock.advance(Duration::from_secs(31));
    let mut new = Vec::new();
    for i in 0..8 {
        new.push(jwt(&fx, "rsa-2", &format!("new-{i}")).await);
    }
    let rts: Vec<_> = new
        .iter()
        .map(|t| {
            let (rt, t) = (rt.clone(), t.clone());
            tokio::spawn(async move { check(&rt, &t).await })
        })
        .collect();
    for d in futures::future::join_all(rts).await {
        assert_allowed(&d.unwrap(), "new kid");
    }
    assert_eq!(counter(&fx, "jwks").await, 2, "the new kid is fetched once");
    // Old tokens keep working while their key is in the set.
    assert_allowed(&check(&rt, &old).await, "old token, key still published");
    assert_allowed(
        &check(&rt, &jwt(&fx, "rsa-1", "old-2").await).await,
        "old key",
    );
    assert_eq!(counter(&fx, "jwks").await, 2);

    // rsa-1 leaves the published set; once the held set is past its maximum age it is
    // refetched, and rsa-1 tokens are refused while rsa-2 ones keep working.
    fx.control("POST", "/_control/jwks", Some(json!({"jwks": ["rsa-2"]})))
        .await;
    assert_allowed(
        &check(&rt, &jwt(&fx, "rsa-1", "old-3").await).await,
        "not refetched yet",
    );
    clock.advance(Duration::from_secs(3601));
    assert_invalid_token(
        &check(&rt, &jwt(&fx, "rsa-1", "old-4").await).await,
        "could not resolve signing key: unknown kid rsa-1",
    );
    assert_eq!(counter(&fx, "jwks").await, 3);
    assert_allowed(&check(&rt, &new[0]).await, "new key after the old one left");
    assert_allowed(
        &check(&rt, &jwt(&fx, "rsa-2", "later").await).await,
        "new key",
    );
    assert_eq!(counter(&fx, "jwks").await, 3);
}

// ---- introspection ----

fn introspection_error(b: Broken) -> String {
    describe(
        b,
        "introspection request failed: ",
        "introspection returned HTTP ",
        "introspection returned non-JSON body",
    )
}

fn introspection_backend(base: &str) -> Value {
    json!({"introspection": {"opaque-1": {
        "active": true, "sub": "user-1", "iss": base, "aud": RESOURCE,
        "scope": "issues:read", "exp": {"$now": 3600}}}})
}

fn introspection_config(base: &str, extra: Value) -> Config {
    config(
        base,
        merged(
            json!({"introspection_url": format!("{base}/introspect")}),
            extra,
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_faults_are_401_and_never_wait() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(introspection_backend(&fx.base_url)).await;
        let (rt, _) = runtime(introspection_config(&fx.base_url, json!({})));
        rt.startup().await.unwrap();
        set(&fx, "introspection", b, 1).await;
        // Every request asks again (a failure is not cached, a Retry-After is not waited on).
        for n in 1..=2 {
            assert_invalid_token(&check(&rt, "opaque-1").await, &introspection_error(b));
            assert_eq!(counter(&fx, "introspection").await, n, "{b:?}");
        }
        heal(&fx, "introspection").await;
        assert_allowed(&check(&rt, "opaque-1").await, &format!("{b:?} healed"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_faults_per_mode() {
    let fx = Fixture::start().await.unwrap();
    let jwks = format!("{}/jwks", fx.base_url);
    for b in [Broken::Status(503), Broken::Reset, Broken::Slow] {
        fx.reset(introspection_backend(&fx.base_url)).await;
        let t = jwt(&fx, "rsa-1", "m").await;
        set(&fx, "introspection", b, 1).await;
        // jwt_and_introspect: a valid JWT still needs a live introspection answer.
        let (rt, _) = runtime(introspection_config(
            &fx.base_url,
            json!({"jwks_url": jwks, "validation_mode": "jwt_and_introspect"}),
        ));
        rt.startup().await.unwrap();
        assert_invalid_token(&check(&rt, &t).await, &introspection_error(b));
        // jwt_or_introspect: a valid JWT never calls introspection; an opaque token does.
        let (rt, _) = runtime(introspection_config(
            &fx.base_url,
            json!({"jwks_url": jwks, "validation_mode": "jwt_or_introspect"}),
        ));
        rt.startup().await.unwrap();
        let before = counter(&fx, "introspection").await;
        assert_allowed(&check(&rt, &t).await, &format!("{b:?}: JWT first"));
        assert_eq!(counter(&fx, "introspection").await, before);
        assert_invalid_token(
            &check(&rt, "opaque-1").await,
            &format!(
                "JWT verify failed (invalid JWT: not a compact JWT); introspection failed ({})",
                introspection_error(b)
            ),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_flapping() {
    let fx = Fixture::start().await.unwrap();
    for b in [Broken::Status(503), Broken::Reset, Broken::Truncated] {
        fx.reset(introspection_backend(&fx.base_url)).await;
        set(&fx, "introspection", b, 2).await;
        // No result cache: every other call fails, and each request gets its own call's answer.
        let (rt, _) = runtime(introspection_config(&fx.base_url, json!({})));
        rt.startup().await.unwrap();
        for n in 0..6 {
            let d = check(&rt, "opaque-1").await;
            if n % 2 == 0 {
                assert_invalid_token(&d, &introspection_error(b));
            } else {
                assert_allowed(&d, &format!("{b:?} call {n}"));
            }
        }
        assert_eq!(counter(&fx, "introspection").await, 6);
        // With the result cache, the first good answer serves until its TTL, whatever flaps.
        fx.reset(introspection_backend(&fx.base_url)).await;
        set(&fx, "introspection", b, 2).await;
        let (rt, _) = runtime(introspection_config(
            &fx.base_url,
            json!({"introspection_cache_ttl_seconds": 60}),
        ));
        rt.startup().await.unwrap();
        assert_invalid_token(&check(&rt, "opaque-1").await, &introspection_error(b));
        for _ in 0..4 {
            assert_allowed(&check(&rt, "opaque-1").await, &format!("{b:?} cached"));
        }
        assert_eq!(counter(&fx, "introspection").await, 2);
    }
}

// ---- sdk-policy ----

fn policy_config(base: &str, extra: Value) -> Config {
    let c = json!({"jwks_url": format!("{base}/jwks"), "resource_server_id": "rs-1",
        "validation_mode": "jwt_only"});
    config(base, merged(c, extra))
}

/// How a failed scope matrix fetch is described (`scope matrix fetch: ...` or `decode`).
fn policy_error(b: Broken) -> String {
    describe(
        b,
        "scope matrix fetch: ",
        "scope matrix fetch: HTTP ",
        "scope matrix decode:",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_faults_at_startup_per_mode() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(json!({"policy": ready_policy()})).await;
        set(&fx, "policy", b, 1).await;
        let t = jwt(&fx, "rsa-1", "p").await;
        // remote_required: startup fails, within the timeout.
        let rt = Runtime::new(policy_config(&fx.base_url, json!({}))).unwrap();
        let e = bounded("startup", rt.startup()).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::StartupFailed);
        let want = format!(
            "remote_required initial scope matrix fetch failed: {}",
            policy_error(b)
        );
        assert!(e.message().starts_with(&want), "{b:?}: {}", e.message());
        // remote_with_local_fallback: starts with a warning and serves the local map.
        let rt = Runtime::new(policy_config(
            &fx.base_url,
            json!({"policy_mode": "remote_with_local_fallback"}),
        ))
        .unwrap();
        let w = bounded("startup", rt.startup()).await.unwrap();
        assert_eq!(w.len(), 1, "{b:?}: {w:?}");
        assert!(
            w[0].starts_with(&format!(
                "initial scope matrix fetch failed: {}",
                policy_error(b)
            )),
            "{w:?}"
        );
        assert!(w[0].ends_with("; using the local tool_scopes"), "{w:?}");
        assert_allowed(&check(&rt, &t).await, &format!("{b:?}: local map"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_faults_after_start_serve_stale_then_503() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(json!({"policy": ready_policy()})).await;
        let (rt, clock) = runtime(policy_config(&fx.base_url, json!({})));
        rt.startup().await.unwrap();
        let t = jwt(&fx, "rsa-1", "p").await;
        assert_allowed(&check(&rt, &t).await, "fresh");
        set(&fx, "policy", b, 1).await;
        clock.advance(Duration::from_secs(31));
        // Past the TTL: served from the old map at once, the refresh runs in the background.
        assert_allowed(&check(&rt, &t).await, &format!("{b:?}: stale"));
        bounded("the refresh", rt.wait_policy_refresh()).await;
        assert_eq!(rt.policy_status().unwrap().fetches, 2, "{b:?}");
        assert_allowed(&check(&rt, &t).await, &format!("{b:?}: stale window"));
        clock.advance(Duration::from_secs(90));
        let d = check(&rt, &t).await;
        let Decision::Respond(r) = &d else {
            panic!("{b:?}: {d:?}")
        };
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let desc = body["error_description"].as_str().unwrap().to_string();
        assert!(
            desc.starts_with(&format!(
                "scope matrix cache stale (age=121s) and last refresh failed: {}",
                policy_error(b)
            )),
            "{b:?}: {desc}"
        );
        assert_policy_unavailable(&d, &desc);
        bounded("the refresh", rt.wait_policy_refresh()).await;
        // Healed: the next refresh brings the map back.
        heal(&fx, "policy").await;
        clock.advance(Duration::from_secs(31));
        let _ = check(&rt, &t).await;
        rt.wait_policy_refresh().await;
        assert_allowed(&check(&rt, &t).await, &format!("{b:?}: recovered"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_flapping_never_denies_within_the_stale_window() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let (rt, clock) = runtime(policy_config(&fx.base_url, json!({})));
    rt.startup().await.unwrap();
    let t = jwt(&fx, "rsa-1", "p").await;
    // Every other refresh fails: the success in between renews the map before the failed one
    // ages past the 120 s stale window.
    set(&fx, "policy", Broken::Status(503), 2).await;
    for _ in 0..6 {
        clock.advance(Duration::from_secs(31));
        assert_allowed(&check(&rt, &t).await, "flapping");
        rt.wait_policy_refresh().await;
    }
    assert_eq!(rt.policy_status().unwrap().fetches, 7);
    assert_eq!(counter(&fx, "policy").await, 7);
}

// ---- sdk-manifest ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_down_or_slow_never_delays_startup_or_requests() {
    let fx = Fixture::start().await.unwrap();
    for b in ALL {
        fx.reset(json!({"policy": ready_policy()})).await;
        set(&fx, "manifest", b, 1).await;
        let rt = Runtime::new(policy_config(
            &fx.base_url,
            json!({"publish_manifest": true}),
        ))
        .unwrap();
        let t = jwt(&fx, "rsa-1", "m").await;
        // A host publishes in the background while it serves.
        let publisher = {
            let rt = rt.clone();
            tokio::spawn(async move {
                rt.publish_manifest(ManifestSource::Tools(vec![json!({"name": "list_issues"})]))
                    .await
            })
        };
        bounded("startup", rt.startup()).await.unwrap();
        for _ in 0..3 {
            assert_allowed(&check(&rt, &t).await, &format!("{b:?}: while publishing"));
        }
        // The publish itself ends as its own timeout and the backend's answer say.
        let report = publisher.await.unwrap();
        let want = match (b, transport(b)) {
            (Broken::Slow | Broken::Garbage, _) => None,
            (_, Some(t)) => Some(format!("manifest publish failed: {t}")),
            (Broken::Status(s), _) => Some(format!(
                "manifest publish returned HTTP {s}: {{\"error\":\"outage\"}}"
            )),
            _ => Some("manifest publish returned HTTP 429: {\"error\":\"outage\"}".into()),
        };
        match (report, want) {
            (Err(e), Some(w)) => {
                assert_eq!(e.code(), ErrorCode::Backend, "{b:?}");
                assert_eq!(e.message(), w, "{b:?}");
            }
            // Slow (under the 30 s publish timeout) arrives; garbage is a 200 without counts.
            (Ok(r), None) => {
                let (seen, generation) = if matches!(b, Broken::Slow) {
                    (Some(1), Some(1))
                } else {
                    (None, None)
                };
                assert_eq!(
                    (r.tools_sent, r.tools_seen, r.generation),
                    (1, seen, generation)
                );
            }
            (r, w) => panic!("{b:?}: {r:?}, expected {w:?}"),
        }
    }
}

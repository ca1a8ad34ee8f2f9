//! Remote policy (AuthSec scope matrix) and manifest publishing against the fixture backend:
//! single background refresh under concurrency, startup rules per policy mode, and the manifest
//! payload, pagination, SSE answers and session forwarding through the synthetic handshake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec_core::{
    Clock, Config, Decision, ErrorCode, ManifestSource, ManualClock, Request, RpcAnswer, RpcCall,
    Runtime,
};
use authsec_fixture::Fixture;
use common::ready_policy;
use futures::FutureExt;
use serde_json::{json, Value};

mod common;

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn config(base: &str, extra: Value) -> Config {
    let mut c = json!({
        "issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
        "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
        "resource_server_id": "rs-1", "validation_mode": "jwt_only",
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    Config::from_json(&c.to_string()).unwrap()
}

async fn token(fx: &Fixture, scope: &str) -> String {
    fx.mint(json!({"kid": "rsa-1", "claims": {
        "iss": fx.base_url, "sub": "user-1", "aud": RESOURCE, "scope": scope,
        "exp": {"$now": 3600}}}))
        .await
}

async fn call(rt: &Runtime, token: &str, tool: &str) -> Decision {
    let auth = format!("Bearer {token}");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}})
        .to_string();
    let headers = [("authorization", auth.as_str())];
    rt.check(&Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: body.as_bytes(),
    })
    .resolve()
    .await
}

fn status_of(d: &Decision) -> u16 {
    match d {
        Decision::Respond(r) => r.status,
        Decision::Allow(_) => 0,
        Decision::PassThrough => 1,
        other => panic!("unexpected decision {other:?}"),
    }
}

async fn counter(fx: &Fixture, name: &str) -> u64 {
    fx.counters().await[name].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_checks_after_expiry_make_one_fetch() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let clock = Arc::new(ManualClock::new());
    let rt = Runtime::builder(config(&fx.base_url, json!({})))
        .clock(clock.clone() as Arc<dyn Clock>)
        .build()
        .unwrap();
    rt.startup().await.unwrap();
    let tok = token(&fx, "issues:read").await;
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    assert_eq!(counter(&fx, "policy").await, 1);

    // Slow the backend so the refresh is still in flight while the 50 checks run.
    fx.control(
        "POST",
        "/_control/latency",
        Some(json!({"endpoint": "policy", "ms": 300})),
    )
    .await;
    clock.advance(Duration::from_secs(31));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (rt, tok) = (rt.clone(), tok.clone());
            tokio::spawn(async move { call(&rt, &tok, "list_issues").await })
        })
        .collect();
    for t in tasks {
        // Stale-while-revalidate: every request is served from the old map at once.
        assert!(matches!(t.await.unwrap(), Decision::Allow(_)));
    }
    for _ in 0..50 {
        if rt.policy_status().unwrap().fetches == 2 && counter(&fx, "policy").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(counter(&fx, "policy").await, 2, "exactly one refresh fetch");
    assert_eq!(rt.policy_status().unwrap().fetches, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_rules_per_mode() {
    let fx = Fixture::start().await.unwrap();
    // Backend down: remote_required fails startup...
    fx.reset(json!({"policy": {"status": 503, "body": {"status": "pending_scan"}}}))
        .await;
    let rt = Runtime::new(config(&fx.base_url, json!({}))).unwrap();
    let err = rt.startup().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StartupFailed);
    assert!(
        err.message().starts_with(
            "remote_required initial scope matrix fetch failed: scope matrix fetch: HTTP 503"
        ),
        "{}",
        err.message()
    );
    // ...unless publish_manifest is on: it starts in deny-all (503 policy_unavailable).
    let rt = Runtime::new(config(&fx.base_url, json!({"publish_manifest": true}))).unwrap();
    let warnings = rt.startup().await.unwrap();
    assert!(warnings[0].contains("deny-all"), "{warnings:?}");
    let tok = token(&fx, "issues:read").await;
    match call(&rt, &tok, "list_issues").await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 503);
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["error"], "policy_unavailable");
            assert!(r
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"policy_unavailable\""));
        }
        d => panic!("{d:?}"),
    }
    // Fallback mode starts with a warning and serves the local map.
    let rt = Runtime::new(config(
        &fx.base_url,
        json!({"policy_mode": "remote_with_local_fallback", "tool_scopes": {"list_issues": ["issues:read"]}}),
    ))
    .unwrap();
    assert_eq!(rt.startup().await.unwrap().len(), 1);
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    assert_eq!(
        status_of(&call(&rt, &tok, "create_issue").await),
        200,
        "in-band 403"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_policy_clears_the_map_and_recovers() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let clock = Arc::new(ManualClock::new());
    let rt = Runtime::builder(config(&fx.base_url, json!({})))
        .clock(clock.clone() as Arc<dyn Clock>)
        .build()
        .unwrap();
    rt.startup().await.unwrap();
    let tok = token(&fx, "issues:read").await;
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    let meta: Value = serde_json::from_slice(&rt.metadata().body).unwrap();
    assert_eq!(
        meta["scopes_supported"],
        json!(["issues:read", "issues:write"])
    );

    fx.control(
        "POST",
        "/_control/policy",
        Some(json!({"status": 200, "body": {
        "state": "needs_setup", "policy_complete": false, "reason": "rs_needs_setup",
        "tools": {}, "tool_policy": []}})),
    )
    .await;
    clock.advance(Duration::from_secs(31));
    call(&rt, &tok, "list_issues").await; // starts the refresh, served from the old map
    wait_fetches(&rt, 2).await;
    match call(&rt, &tok, "list_issues").await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 503);
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                r#"{"error":"policy_unavailable","error_description":"authsec policy incomplete: state=needs_setup reason=rs_needs_setup"}"#
            );
        }
        d => panic!("{d:?}"),
    }
    let st = rt.policy_status().unwrap();
    assert!(!st.has_data && !st.policy_complete);
    assert_eq!(st.state, "needs_setup");
    // The metadata falls back to the configured scopes (none here).
    let meta: Value = serde_json::from_slice(&rt.metadata().body).unwrap();
    assert_eq!(meta["scopes_supported"], json!([]));

    // Recovery after the backoff, with a changed scopes_supported reaching the metadata.
    let mut p = ready_policy();
    p["body"]["scopes_supported"] = json!(["issues:read"]);
    fx.control("POST", "/_control/policy", Some(p)).await;
    clock.advance(Duration::from_secs(11));
    call(&rt, &tok, "list_issues").await;
    wait_fetches(&rt, 3).await;
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    let meta: Value = serde_json::from_slice(&rt.metadata().body).unwrap();
    assert_eq!(meta["scopes_supported"], json!(["issues:read"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_serves_stale_map_then_503_beyond_the_window() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let clock = Arc::new(ManualClock::new());
    let rt = Runtime::builder(config(&fx.base_url, json!({})))
        .clock(clock.clone() as Arc<dyn Clock>)
        .build()
        .unwrap();
    rt.startup().await.unwrap();
    let tok = token(&fx, "issues:read").await;
    fx.control(
        "POST",
        "/_control/outage",
        Some(json!({"endpoint": "policy", "status": 503})),
    )
    .await;
    clock.advance(Duration::from_secs(60));
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    wait_fetches(&rt, 2).await;
    // Within the stale window the old map still serves, and the backoff suppresses refetches.
    assert!(matches!(
        call(&rt, &tok, "list_issues").await,
        Decision::Allow(_)
    ));
    assert_eq!(counter(&fx, "policy").await, 2);
    clock.advance(Duration::from_secs(61)); // age 121 s > 120 s with the last refresh failed
    match call(&rt, &tok, "list_issues").await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 503);
            assert!(String::from_utf8_lossy(&r.body).contains("scope matrix cache stale"));
        }
        d => panic!("{d:?}"),
    }
}

async fn wait_fetches(rt: &Runtime, n: u64) {
    for _ in 0..100 {
        let st = rt.policy_status().unwrap();
        if st.fetches >= n && st.fetches > 0 {
            // The fetch counter moves before the answer is applied: wait for the refresh to
            // finish (a fixed sleep lost this race on a loaded machine).
            rt.wait_policy_refresh().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no fetch {n}");
}

/// A tiny MCP handler for the synthetic handshake: 3 pages of tools, the last page over SSE,
/// and a session id that must come back on every call after `initialize`.
fn handler(
    seen_sessions: Arc<Mutex<Vec<Option<String>>>>,
    calls: Arc<AtomicUsize>,
) -> authsec_core::RpcHandler {
    Arc::new(move |call: RpcCall| {
        let seen = seen_sessions.clone();
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let req: Value = serde_json::from_slice(&call.body).unwrap();
            let session = call
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("mcp-session-id"))
                .map(|(_, v)| v.clone());
            let method = req["method"].as_str().unwrap().to_string();
            if method == "server/discover" {
                // A legacy server: no such method without a session (what the SDKs answer).
                return Ok(RpcAnswer {
                    status: 400,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: No valid session ID provided"}}"#.to_vec(),
                });
            }
            if method != "initialize" {
                seen.lock().unwrap().push(session);
            }
            let json_answer = |v: Value| RpcAnswer {
                status: 200,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("mcp-session-id".into(), "sess-42".into()),
                ],
                body: v.to_string().into_bytes(),
            };
            Ok(match method.as_str() {
                "initialize" => json_answer(json!({"jsonrpc": "2.0", "id": 0, "result": {}})),
                "notifications/initialized" => RpcAnswer { status: 202, headers: vec![], body: vec![] },
                _ => {
                    let id = req["id"].clone();
                    match req["params"]["cursor"].as_str() {
                        None => json_answer(json!({"jsonrpc": "2.0", "id": id, "result": {
                            "tools": [{"name": "list_issues", "inputSchema": {"type": "object"}}],
                            "nextCursor": "p2"}})),
                        Some("p2") => json_answer(json!({"jsonrpc": "2.0", "id": id, "result": {
                            "tools": [{"name": "create_issue", "title": "Create", "annotations": {"destructiveHint": true}}],
                            "nextCursor": "p3"}})),
                        _ => RpcAnswer {
                            status: 200,
                            headers: vec![("content-type".into(), "text/event-stream".into())],
                            body: format!(
                                "event: message\ndata: {}\n\n",
                                json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{"name": "close_issue", "suggested_scopes": ["issues:admin"]}]}})
                            )
                            .into_bytes(),
                        },
                    }
                }
            })
        }
        .boxed()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_through_synthetic_handshake() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let rt = Runtime::new(config(
        &fx.base_url,
        json!({"tool_scope_suggestions": {"list_issues": ["issues:read"], "close_issue": ["ignored"]}}),
    ))
    .unwrap();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let report = rt
        .publish_manifest(ManifestSource::Handshake(handler(
            sessions.clone(),
            calls.clone(),
        )))
        .await
        .unwrap();
    assert_eq!(report.tools_sent, 3);
    assert_eq!(report.generation, Some(1));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        6,
        "server/discover (refused: legacy), initialize, initialized, 3 pages"
    );
    assert!(sessions
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.as_deref() == Some("sess-42")));
    let last = fx.control("GET", "/_control/last", None).await;
    let m = &last["manifest"];
    assert_eq!(
        m["json"],
        json!({"tools": [
            {"name": "list_issues", "input_schema": {"type": "object"}, "suggested_scopes": ["issues:read"]},
            {"name": "create_issue", "title": "Create", "annotations": {"destructiveHint": true}},
            {"name": "close_issue", "suggested_scopes": ["issues:admin"]}
        ]})
    );
    assert_eq!(m["authorization"], "Basic cnMtMTpzZWNyZXQtMQ==");
    assert_eq!(m["content_type"], "application/json");
}

/// A server that speaks only MCP 2026-07-28, as its transport page says: every POST must carry
/// `MCP-Protocol-Version: 2026-07-28`, a matching `Mcp-Method` and the `_meta` protocol version
/// (else 400 with the HeaderMismatch error); `initialize` does not exist (-32601, 404); a session
/// id is never minted, and one sent by the client is a test failure. Two pages of tools, the
/// second over SSE.
fn modern_only_handler(log: Arc<Mutex<Vec<String>>>) -> authsec_core::RpcHandler {
    Arc::new(move |call: RpcCall| {
        let log = log.clone();
        async move {
            let req: Value = serde_json::from_slice(&call.body).unwrap();
            let h = |n: &str| {
                call.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
            };
            let method = req["method"].as_str().unwrap_or("").to_string();
            log.lock().unwrap().push(method.clone());
            assert_eq!(h("mcp-session-id"), None, "no session in 2026-07-28");
            let json_answer = |status: u16, v: Value| RpcAnswer {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: v.to_string().into_bytes(),
            };
            let id = req["id"].clone();
            if h("mcp-protocol-version").as_deref() != Some("2026-07-28")
                || h("mcp-method").as_deref() != Some(method.as_str())
                || req["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] != "2026-07-28"
            {
                return Ok(json_answer(400, json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32020, "message": "Header mismatch"}})));
            }
            Ok(match method.as_str() {
                "server/discover" => json_answer(200, json!({"jsonrpc": "2.0", "id": id, "result": {
                    "resultType": "complete", "supportedVersions": ["2026-07-28"],
                    "capabilities": {"tools": {}}, "ttlMs": 0, "cacheScope": "public"}})),
                "tools/list" => match req["params"]["cursor"].as_str() {
                    None => json_answer(200, json!({"jsonrpc": "2.0", "id": id, "result": {
                        "resultType": "complete", "ttlMs": 0, "cacheScope": "public",
                        "tools": [{"name": "list_issues", "inputSchema": {"type": "object"}}],
                        "nextCursor": "p2"}})),
                    Some("p2") => RpcAnswer {
                        status: 200,
                        headers: vec![("content-type".into(), "text/event-stream".into())],
                        body: format!("event: message\ndata: {}\n\n", json!({"jsonrpc": "2.0", "id": id,
                            "result": {"resultType": "complete", "tools": [{"name": "create_issue"}]}}))
                        .into_bytes(),
                    },
                    Some(other) => panic!("unknown cursor {other}"),
                },
                _ => json_answer(404, json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": "Method not found"}})),
            })
        }
        .boxed()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_from_a_2026_07_28_only_server() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy()})).await;
    let rt = Runtime::new(config(&fx.base_url, json!({}))).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let report = rt
        .publish_manifest(ManifestSource::Handshake(modern_only_handler(log.clone())))
        .await
        .unwrap();
    assert_eq!(report.tools_sent, 2);
    assert_eq!(
        *log.lock().unwrap(),
        vec!["server/discover", "tools/list", "tools/list"],
        "discover, then two pages; never initialize"
    );
    let last = fx.control("GET", "/_control/last", None).await;
    assert_eq!(
        last["manifest"]["json"],
        json!({"tools": [
            {"name": "list_issues", "input_schema": {"type": "object"}},
            {"name": "create_issue"}
        ]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_errors_are_reported_not_fatal() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"policy": ready_policy(), "credentials": {"client_id": "rs-1", "client_secret": "other"}}))
        .await;
    let rt = Runtime::new(config(&fx.base_url, json!({"publish_manifest": true}))).unwrap();
    let err = rt
        .publish_manifest(ManifestSource::Tools(vec![json!({"name": "list_issues"})]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Backend);
    assert!(
        err.message()
            .starts_with("manifest publish returned HTTP 401"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("other"));
    // An empty inventory is not sent at all.
    let err = rt
        .publish_manifest(ManifestSource::Tools(vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert_eq!(counter(&fx, "manifest").await, 1);
}

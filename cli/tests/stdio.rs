//! `authsec proxy --stdio`: the stdio bridge behind the proxy, with a dependency-free stdio MCP
//! server (`tests/support/stdio_server.py`, run by `python3`): sessions (initialize, the
//! session id, SSE answers carrying the server's notification, DELETE), a session refused to
//! another caller, a child that exits ends its session, 2026-07-28 stateless requests each in a
//! child of their own, no session for an older client without `initialize`, and the child's
//! environment without the configuration's variables.

use std::sync::Arc;
use std::time::Duration;

use authsec_cli::proxy::stdio::StdioUpstream;
use authsec_cli::proxy::{Proxy, ProxyOptions};
use authsec_cli::telemetry::LogSink;
use authsec_core::{Config, Runtime};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

const RESOURCE: &str = "http://127.0.0.1:18080/mcp";

struct Env {
    fx: Fixture,
    base: String,
    bridge: Arc<StdioUpstream>,
    proxy: Proxy,
}

async fn start() -> Env {
    let fx = Fixture::start().await.unwrap();
    let cfg = Config::from_json(
        &json!({"issuer": fx.base_url, "jwks_url": format!("{}/jwks", fx.base_url), "resource_uri": RESOURCE,
                "tool_scopes": {"echo": ["mcp:read"], "env": ["mcp:read"], "exit": ["mcp:read"], "pid": ["mcp:read"],
                                "secret_tool": ["mcp:admin"]}})
        .to_string(),
    )
    .unwrap();
    let rt = Runtime::new(cfg).unwrap();
    rt.startup().await.unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/stdio_server.py");
    let bridge = Arc::new(StdioUpstream::new(
        vec!["python3".into(), script.into()],
        Duration::from_secs(30),
    ));
    let proxy = Proxy::new(
        rt,
        Arc::new(bridge.clone()),
        ProxyOptions {
            log: LogSink::Off,
            ..ProxyOptions::default()
        },
    );
    let metrics = proxy.metrics();
    bridge.on_session(Arc::new(move |d| metrics.session(d)));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let p = proxy.clone();
    tokio::spawn(async move { p.serve(l, std::future::pending()).await });
    Env {
        fx,
        base,
        bridge,
        proxy,
    }
}

impl Env {
    async fn token(&self, sub: &str, scope: &str) -> String {
        self.fx
            .mint(json!({"kid": "rsa-1", "claims": {"iss": self.fx.base_url, "sub": sub, "aud": RESOURCE,
                "scope": scope, "exp": {"$now": 3600}}}))
            .await
    }

    async fn post(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/mcp", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        (status, h, resp.text().await.unwrap())
    }

    async fn metric(&self, name: &str) -> i64 {
        self.proxy
            .metrics()
            .render()
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name} "))
                    .map(|v| v.parse().unwrap())
            })
            .unwrap()
    }
}

fn init() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
           "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

fn call(id: u32, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"text": "hi"}}})
}

/// The `data:` payloads of an SSE body.
fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

const SSE: (&str, &str) = ("accept", "application/json, text/event-stream");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_one_child_owned_by_its_caller() {
    let e = start().await;
    let alice = e.token("alice", "mcp:read").await;
    let (s, h, body) = e.post(&alice, &[SSE], init()).await;
    assert_eq!(s, 200, "{body}");
    let sid = h
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(sid.len(), 32, "128 random bits, hex");
    assert_eq!(
        events(&body)[0]["result"]["serverInfo"]["name"],
        "stdio-test"
    );
    assert_eq!(e.bridge.session_count(), 1);

    let with = [SSE, ("mcp-session-id", sid.as_str())];
    let (s, h, body) = e.post(&alice, &with, call(2, "echo")).await;
    assert_eq!(s, 200);
    assert_eq!(h.get("content-type").unwrap(), "text/event-stream");
    let ev = events(&body);
    assert_eq!(
        ev[0]["method"], "notifications/progress",
        "the server's notification on the call's stream"
    );
    assert_eq!(ev[1]["result"]["content"][0]["text"], "echo: hi");

    // tools/list through the bridge is filtered by the core like any upstream's answer.
    let (_, _, body) = e
        .post(
            &alice,
            &with,
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await;
    let names: Vec<String> = events(&body)[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["echo", "env", "exit", "pid"],
        "secret_tool needs mcp:admin"
    );

    // JSON when the client does not accept SSE.
    let (s, h, body) = e
        .post(
            &alice,
            &[("accept", "application/json"), ("mcp-session-id", &sid)],
            call(4, "pid"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h.get("content-type").unwrap(), "application/json");
    let pid: Value = serde_json::from_str(&body).unwrap();
    let first_pid = pid["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();

    // Another caller with a valid token cannot use alice's session.
    let bob = e.token("bob", "mcp:read").await;
    let (s, _, body) = e.post(&bob, &with, call(5, "echo")).await;
    assert_eq!(s, 404, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["message"], "Session not found");

    // The same child answers alice again; DELETE ends it.
    let (_, _, body) = e
        .post(
            &alice,
            &[("accept", "application/json"), ("mcp-session-id", &sid)],
            call(6, "pid"),
        )
        .await;
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["result"]["content"][0]["text"], first_pid.as_str());
    let del = reqwest::Client::new()
        .delete(format!("{}/mcp", e.base))
        .bearer_auth(&alice)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let (s, _, _) = e.post(&alice, &with, call(7, "echo")).await;
    assert_eq!(s, 404);
    assert_eq!(e.bridge.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_exits_ends_its_session() {
    let e = start().await;
    let t = e.token("alice", "mcp:read").await;
    let (_, h, _) = e.post(&t, &[SSE], init()).await;
    let sid = h
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let with = [SSE, ("mcp-session-id", sid.as_str())];
    let (s, _, body) = e.post(&t, &with, call(2, "exit")).await;
    assert_eq!(s, 200);
    assert!(
        events(&body).is_empty(),
        "no answer from a child that exited: {body}"
    );
    for _ in 0..500 {
        if e.bridge.session_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, _, _) = e.post(&t, &with, call(3, "echo")).await;
    assert_eq!(s, 404);
    assert_eq!(e.metric("authsec_proxy_stdio_sessions_open").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_2026_requests_get_a_child_each_and_older_clients_need_a_session() {
    let e = start().await;
    let t = e.token("alice", "mcp:read").await;
    let stateless = [
        ("accept", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "pid"),
    ];
    let mut pids = Vec::new();
    for id in [1, 2] {
        let (s, h, body) = e.post(&t, &stateless, call(id, "pid")).await;
        assert_eq!(s, 200, "{body}");
        assert!(h.get("mcp-session-id").is_none());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["id"], id);
        pids.push(
            v["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_ne!(pids[0], pids[1], "a child per stateless request");
    assert_eq!(e.bridge.session_count(), 0);
    assert_eq!(e.metric("authsec_proxy_stdio_sessions_total").await, 2);

    // An older client that skips initialize has no session to talk to.
    let (s, _, body) = e.post(&t, &[SSE], call(3, "echo")).await;
    assert_eq!(s, 400);
    assert!(body.contains("No valid session ID provided"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_child_never_sees_the_configuration_environment() {
    // Set before any child starts; the variable's value is never read by anyone.
    std::env::set_var("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "not-for-the-child");
    let e = start().await;
    let t = e.token("alice", "mcp:read").await;
    let headers = [
        ("accept", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "env"),
    ];
    let (s, _, body) = e.post(&t, &headers, call(1, "env")).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let seen: Value =
        serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(seen, json!({"authsec": [], "path": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_reaped_and_each_caller_has_a_cap() {
    let e = start().await;
    let alice = e.token("alice", "mcp:read").await;
    let (_, h, _) = e.post(&alice, &[SSE], init()).await;
    let sid = h
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let before_use = std::time::Instant::now();
    let (s, _, _) = e
        .post(&alice, &[SSE, ("mcp-session-id", &sid)], call(2, "echo"))
        .await;
    assert_eq!(s, 200);
    // Used after `before_use`: not idle since then.
    assert_eq!(e.bridge.reap_idle_since(before_use), 0);
    assert_eq!(e.bridge.session_count(), 1);
    // Idle since now: reaped, and its id is unknown afterwards.
    assert_eq!(e.bridge.reap_idle_since(std::time::Instant::now()), 1);
    let (s, _, _) = e
        .post(&alice, &[SSE, ("mcp-session-id", &sid)], call(3, "echo"))
        .await;
    assert_eq!(s, 404);

    // 16 sessions per caller; another caller is not affected.
    for _ in 0..16 {
        let (s, _, _) = e.post(&alice, &[SSE], init()).await;
        assert_eq!(s, 200);
    }
    let (s, _, body) = e.post(&alice, &[SSE], init()).await;
    assert_eq!(s, 503);
    assert!(body.contains("Too many sessions for this caller"), "{body}");
    let bob = e.token("bob", "mcp:read").await;
    let (s, _, _) = e.post(&bob, &[SSE], init()).await;
    assert_eq!(s, 200);
    assert_eq!(e.bridge.reap_idle_since(std::time::Instant::now()), 17);
}

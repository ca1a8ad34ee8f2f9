//! The audit trail and the metrics through the public API: a slow sink never delays a request
//! (the flood test), drops are counted exactly, events are well-formed JSON lines of schema 1
//! without the token, private claims stay out, sampling never hides a denial, lifecycle events,
//! the JSON-lines file sink from `audit_log`, and the Prometheus text.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec_core::{Check, Config, Decision, Request, Runtime};
use serde_json::Value;

fn config(extra: &str) -> Config {
    Config::from_json(&format!(
        r#"{{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
            "resource_uri": "https://mcp.example.com/mcp",
            "tool_scopes": {{"list_issues": ["issues:read"]}}{extra}}}"#
    ))
    .unwrap()
}

const CALL: &[u8] =
    br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_issues"}}"#;

fn check(rt: &Runtime, headers: &[(&str, &str)], body: &[u8]) -> Decision {
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers,
        body,
    };
    match rt.check(&req) {
        Check::Ready(d) => d,
        Check::Pending(_) => panic!("these requests are decided from memory"),
    }
}

fn collector(rt: &Runtime) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    rt.add_audit_sink(Arc::new(move |line: &str| {
        l.lock().unwrap().push(line.to_string())
    }))
    .unwrap();
    lines
}

/// A sink that blocks inside `write` until released: if `check` waited for the sink, the
/// flood below would never finish (the test hangs instead of passing).
#[test]
fn a_blocked_sink_never_delays_requests_and_drops_are_counted() {
    let rt = Runtime::new(config(r#", "audit_queue_capacity": 8"#)).unwrap();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let entered_tx = Mutex::new(entered_tx);
    let delivered = Arc::new(Mutex::new(0usize));
    let d = delivered.clone();
    rt.add_audit_sink(Arc::new(move |_: &str| {
        let _ = entered_tx.lock().unwrap().send(());
        let _ = release_rx.lock().unwrap().recv();
        *d.lock().unwrap() += 1;
    }))
    .unwrap();
    // The first event occupies the sink ...
    assert!(matches!(check(&rt, &[], CALL), Decision::Respond(_)));
    entered_rx.recv().unwrap();
    // ... so the queue holds 8 more and every request beyond them drops its event.
    for _ in 0..1000 {
        assert!(matches!(check(&rt, &[], CALL), Decision::Respond(_)));
    }
    let st = rt.audit_stats();
    assert_eq!((st.queued, st.dropped), (9, 992), "{st:?}");
    let metrics = rt.metrics_text();
    assert!(
        metrics.contains("authsec_audit_events_dropped_total 992\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authsec_decisions_total{outcome=\"deny\",reason=\"no_token\"} 1001\n"),
        "{metrics}"
    );
    for _ in 0..9 {
        release_tx.send(()).unwrap();
    }
    assert!(rt.flush_audit(Duration::from_secs(30)));
    assert_eq!(*delivered.lock().unwrap(), 9);
    assert_eq!(rt.audit_stats().delivered, 9);
}

#[test]
fn decision_events_are_schema_1_lines_without_the_token() {
    let rt = Runtime::new(config("")).unwrap();
    let lines = collector(&rt);
    // A malformed bearer (its text must not reach the event) and no token: both decided from
    // memory, without a key fetch.
    check(
        &rt,
        &[
            ("authorization", "Bearer SECRET-1 SECRET-2"),
            ("x-request-id", "req-42"),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        CALL,
    );
    check(&rt, &[], b"{not json");
    let meta = Request {
        method: "GET",
        path: "/.well-known/oauth-protected-resource/mcp",
        headers: &[],
        body: b"",
    };
    assert!(matches!(
        rt.check(&meta),
        Check::Ready(Decision::Respond(_))
    ));
    assert!(rt.flush_audit(Duration::from_secs(30)));
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        assert!(l.ends_with('\n') && !l[..l.len() - 1].contains('\n'), "{l}");
        assert!(!l.contains("SECRET"), "{l}");
    }
    let ev: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let e = &ev[0];
    assert_eq!(e["v"], 1);
    assert_eq!(e["type"], "decision");
    assert_eq!(e["rpc_id"], 7);
    assert_eq!(e["http_request_id"], "req-42");
    assert_eq!(e["protocol_version"], "2025-11-25");
    assert_eq!(e["method"], "tools/call");
    assert_eq!(e["name"], "list_issues");
    // In-band denial for an MCP client that presented a (malformed) token: HTTP 200.
    assert_eq!(e["decision"], "deny");
    assert_eq!(e["status"], 200);
    assert_eq!(e["error"], "invalid_token");
    assert_eq!(e["reason"], "no_token");
    assert_eq!(e["validation"], "none");
    assert!(e["latency_us"].is_u64() && e["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ev[1]["decision"], "deny");
    assert_eq!(ev[1]["status"], 401);
    assert_eq!(ev[1]["reason"], "no_token");
    assert!(ev[1].get("method").is_none(), "{}", lines[1]);
    assert_eq!(ev[2]["decision"], "respond");
    assert_eq!(ev[2]["reason"], "metadata");
    assert_eq!(ev[2]["http_method"], "GET");
}

#[test]
fn sampling_never_hides_a_denial() {
    let rt = Runtime::new(config(r#", "audit_sample_allowed": 0.0"#)).unwrap();
    let lines = collector(&rt);
    for _ in 0..5 {
        check(&rt, &[], CALL);
    }
    assert!(rt.flush_audit(Duration::from_secs(30)));
    assert_eq!(lines.lock().unwrap().len(), 5);
    assert_eq!(rt.audit_stats().sampled_out, 0);
}

#[test]
fn audit_settings_are_validated() {
    for (extra, msg) in [
        (
            r#", "audit_sample_allowed": 1.5"#,
            "audit_sample_allowed must be between 0 and 1",
        ),
        (
            r#", "audit_queue_capacity": 0"#,
            "audit_queue_capacity must be between 1 and 1000000",
        ),
    ] {
        let e = Runtime::new(config(extra)).unwrap_err();
        assert_eq!(e.code().as_str(), "config_invalid");
        assert_eq!(e.message(), msg);
    }
    let e = Runtime::new(config(r#", "audit_log": "/nonexistent-dir/x/audit.jsonl""#)).unwrap_err();
    assert_eq!(e.code().as_str(), "config_invalid");
    assert!(
        e.message()
            .starts_with("audit_log /nonexistent-dir/x/audit.jsonl cannot be opened: "),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn audit_log_file_gets_startup_and_decisions() {
    let dir = std::env::temp_dir().join(format!("authsec-audit-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let rt = Runtime::new(config(&format!(r#", "audit_log": "{}""#, path.display()))).unwrap();
    rt.startup().await.unwrap();
    check(&rt, &[], CALL);
    assert!(rt.flush_audit(Duration::from_secs(30)));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["type"], "startup");
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["policy_mode"], "local_only");
    assert_eq!(lines[0]["validation_mode"], "jwt_only");
    assert_eq!(lines[1]["type"], "decision");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_sink_means_no_events_but_metrics_still_count() {
    let rt = Runtime::new(config("")).unwrap();
    check(&rt, &[], CALL);
    let st = rt.audit_stats();
    assert_eq!((st.queued, st.dropped), (0, 0));
    let m = rt.metrics_text();
    assert!(
        m.contains("authsec_decisions_total{outcome=\"deny\",reason=\"no_token\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("authsec_decision_duration_seconds_count 1\n"),
        "{m}"
    );
    assert!(rt.flush_audit(Duration::from_millis(1)));
}

#[tokio::test]
async fn manifest_publishing_emits_an_event_without_the_backend_answer() {
    let fx = authsec_fixture::Fixture::start().await.unwrap();
    let base = &fx.base_url;
    let rt = Runtime::new(
        Config::from_json(
            &serde_json::json!({"issuer": base, "jwks_url": format!("{base}/jwks"),
                "resource_uri": "https://mcp.example.com/mcp", "resource_server_id": "rs-1",
                "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
                "policy_mode": "local_only", "tool_scopes": {"list_issues": ["issues:read"]}})
            .to_string(),
        )
        .unwrap(),
    )
    .unwrap();
    let lines = collector(&rt);
    let tools = vec![serde_json::json!({"name": "list_issues"})];
    let report = rt
        .publish_manifest(authsec_core::ManifestSource::Tools(tools))
        .await
        .unwrap();
    // A backend answering an error with a body: a failed event naming only the code.
    fx.control(
        "POST",
        "/_control/outage",
        Some(serde_json::json!({"endpoint": "manifest", "status": 500,
            "body": {"error": "BACKEND-BODY-MARKER"}})),
    )
    .await;
    let refused = rt
        .publish_manifest(authsec_core::ManifestSource::Tools(vec![
            serde_json::json!({"name": "list_issues"}),
        ]))
        .await;
    assert!(refused.is_err());
    assert!(rt.flush_audit(Duration::from_secs(30)));
    let ev: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0]["type"], "manifest_publish");
    assert_eq!(ev[0]["outcome"], "ok");
    assert_eq!(ev[0]["tools"], 1);
    assert_eq!(ev[0]["generation"], report.generation.unwrap());
    assert_eq!(ev[1]["outcome"], "failed");
    assert_eq!(ev[1]["detail"], "backend_error");
    let text = serde_json::to_string(&ev).unwrap();
    assert!(
        !text.contains("BACKEND-BODY-MARKER") && !text.contains("secret-1"),
        "{text}"
    );
}

//! Manifest publishing through the C ABI against the fixture backend: from a tools JSON array
//! (payload as the backend receives it, report JSON), and its failures as a C caller sees them
//! (status, message, no report).

use std::ptr;

use authsec::*;

mod common;
use authsec_fixture::Fixture;
use common::{take_error, text};
use serde_json::{json, Value};

fn runtime(base: &str) -> *const authsec_runtime {
    let cfg = json!({"issuer": base, "jwks_url": format!("{base}/jwks"),
        "resource_uri": "https://mcp.example.com/mcp", "resource_server_id": "rs-1",
        "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
        "policy_mode": "local_only", "tool_scopes": {"list_issues": ["issues:read"]}})
    .to_string();
    let mut rt = ptr::null();
    // SAFETY: live config text and writable out-param.
    let st =
        unsafe { authsec_runtime_new(cfg.as_ptr().cast(), cfg.len(), &mut rt, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    rt
}

/// Publish `tools` on a plain thread (no tokio context), as a C host would.
fn publish(rt: usize, tools: String) -> (authsec_status, Option<Value>, Option<(String, String)>) {
    std::thread::spawn(move || {
        let mut report = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: rt is a live runtime; tools is live for the call.
        unsafe {
            let st = authsec_runtime_publish_manifest(
                rt as *const authsec_runtime,
                tools.as_ptr().cast(),
                tools.len(),
                &mut report,
                &mut err,
            );
            let report_json = (!report.is_null()).then(|| {
                let v = serde_json::from_str(&text(authsec_text_str(report))).unwrap();
                authsec_text_free(report);
                v
            });
            let error = (!err.is_null()).then(|| {
                let (_, name, message) = take_error(err);
                (name, message)
            });
            (st, report_json, error)
        }
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_from_a_tools_array_and_its_failures() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({})).await;
    let rt = runtime(&fx.base_url);
    let addr = rt as usize;
    let tools = json!([
        {"name": "list_issues", "description": "List issues", "inputSchema": {"type": "object"}},
        {"name": "create_issue", "suggested_scopes": ["issues:write"]}
    ])
    .to_string();

    let (st, report, err) = tokio::task::spawn_blocking(move || publish(addr, tools))
        .await
        .unwrap();
    assert_eq!(st, authsec_status::Ok, "{err:?}");
    assert_eq!(
        report,
        Some(json!({"tools_sent": 2, "tools_seen": 2, "generation": 1}))
    );
    let last = fx.control("GET", "/_control/last", None).await;
    let sent = &last["manifest"]["json"]["tools"];
    assert_eq!(sent[0]["name"], "list_issues");
    assert_eq!(sent[0]["input_schema"], json!({"type": "object"}));
    assert_eq!(sent[1]["suggested_scopes"], json!(["issues:write"]));
    assert!(last["manifest"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Basic "));

    // Not an array: invalid_input, and no report is written.
    let (st, report, err) = tokio::task::spawn_blocking(move || publish(addr, "{}".into()))
        .await
        .unwrap();
    assert_eq!(st, authsec_status::InvalidInput);
    assert!(report.is_none());
    assert_eq!(err.unwrap().0, "invalid_input");

    // An empty list is refused before any request.
    let (st, _, err) = tokio::task::spawn_blocking(move || publish(addr, "[]".into()))
        .await
        .unwrap();
    assert_eq!(st, authsec_status::InvalidInput, "{err:?}");

    // The backend down: backend_error naming the status, never the secret.
    fx.control(
        "POST",
        "/_control/outage",
        Some(json!({"endpoint": "manifest", "status": 503})),
    )
    .await;
    let tools = json!([{"name": "list_issues"}]).to_string();
    let (st, report, err) = tokio::task::spawn_blocking(move || publish(addr, tools))
        .await
        .unwrap();
    assert_eq!(st, authsec_status::BackendError);
    assert!(report.is_none());
    let (code, msg) = err.unwrap();
    assert_eq!(code, "backend_error");
    assert!(msg.contains("503"), "{msg}");
    assert!(!msg.contains("secret-1"), "{msg}");
    // SAFETY: the test owns one reference.
    unsafe { authsec_runtime_free(rt) };
}

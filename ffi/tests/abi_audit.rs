//! The audit trail and metrics through the C ABI: a C callback receives the core's lines in
//! order, the flush waits for them, freeing the runtime detaches the callback, the metrics text
//! is the core's, and every argument error is typed.

use std::ptr;
use std::sync::Mutex;

use authsec::*;

mod common;
use common::{header, take_error, text};

fn runtime() -> *const authsec_runtime {
    let cfg = r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
        "resource_uri": "https://mcp.example.com/mcp", "tool_scopes": {"list_issues": ["issues:read"]}}"#;
    let mut rt = ptr::null();
    // SAFETY: live config text and writable out-param.
    let st =
        unsafe { authsec_runtime_new(cfg.as_ptr().cast(), cfg.len(), &mut rt, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    rt
}

unsafe extern "C" fn collect(user_data: *mut libc::c_void, line: *const libc::c_char, len: usize) {
    // SAFETY: the test's Mutex outlives the runtime; line is valid for the call.
    let (lines, bytes) = unsafe {
        (
            &*(user_data as *const Mutex<Vec<String>>),
            std::slice::from_raw_parts(line.cast::<u8>(), len),
        )
    };
    lines
        .lock()
        .unwrap()
        .push(String::from_utf8(bytes.to_vec()).unwrap());
}

fn deny(rt: *const authsec_runtime, id: u32) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"list_issues"}}}}"#
    );
    let headers = [header("x-request-id", "abc")];
    let mut d = ptr::null_mut();
    // SAFETY: live runtime and arguments for the call; writable out-param.
    let st = unsafe {
        authsec_runtime_check_request(
            rt,
            c"POST".as_ptr(),
            4,
            c"/mcp".as_ptr(),
            4,
            headers.as_ptr(),
            headers.len(),
            body.as_ptr(),
            body.len(),
            &mut d,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, authsec_status::Ok);
    // SAFETY: d is ours.
    unsafe { authsec_decision_free(d) };
}

#[test]
fn callback_gets_the_lines_in_order_and_flush_waits() {
    let rt = runtime();
    let lines = Box::new(Mutex::new(Vec::<String>::new()));
    let ud = &*lines as *const Mutex<Vec<String>> as *mut libc::c_void;
    // SAFETY: live runtime; the context outlives it.
    let st = unsafe { authsec_runtime_add_audit_callback(rt, Some(collect), ud, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    for id in 1..=3 {
        deny(rt, id);
    }
    let mut done = false;
    // SAFETY: live runtime; writable out-param.
    let st = unsafe { authsec_runtime_flush_audit(rt, 30_000, &mut done, ptr::null_mut()) };
    assert_eq!((st, done), (authsec_status::Ok, true));
    {
        let got = lines.lock().unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        for (i, l) in got.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["rpc_id"], i + 1);
            assert_eq!(v["reason"], "no_token");
            assert_eq!(v["http_request_id"], "abc");
        }
    }
    let mut m = ptr::null_mut();
    // SAFETY: live runtime; writable out-param.
    let st = unsafe { authsec_runtime_metrics(rt, &mut m, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    // SAFETY: m is a live text we own.
    let metrics = text(unsafe { authsec_text_str(m) });
    // SAFETY: m is ours, freed once.
    unsafe { authsec_text_free(m) };
    assert!(
        metrics.contains("authsec_decisions_total{outcome=\"deny\",reason=\"no_token\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authsec_audit_events_total 3\n"),
        "{metrics}"
    );
    // Freeing the runtime delivers what is queued and detaches the callback; afterwards the
    // context may go.
    deny(rt, 4);
    // SAFETY: we own the runtime.
    unsafe { authsec_runtime_free(rt) };
    assert_eq!(lines.lock().unwrap().len(), 4);
    drop(lines);
}

#[test]
fn argument_errors_are_typed() {
    let rt = runtime();
    let mut err = ptr::null_mut();
    // SAFETY: live runtime; NULL callback on purpose; writable err.
    let st = unsafe { authsec_runtime_add_audit_callback(rt, None, ptr::null_mut(), &mut err) };
    assert_eq!(st, authsec_status::NullParameter);
    let (status, _, message) = take_error(err);
    assert_eq!(status, authsec_status::NullParameter);
    assert!(message.contains("callback"), "{message}");
    // SAFETY: NULL runtime on purpose.
    let st = unsafe {
        authsec_runtime_add_audit_callback(
            ptr::null(),
            Some(collect),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, authsec_status::NullParameter);
    // SAFETY: NULL out-param on purpose.
    let st = unsafe { authsec_runtime_metrics(rt, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(st, authsec_status::NullParameter);
    // SAFETY: NULL runtime on purpose.
    let st =
        unsafe { authsec_runtime_flush_audit(ptr::null(), 1, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(st, authsec_status::NullParameter);
    // No sink: a flush completes at once; NULL completed_out is allowed.
    // SAFETY: live runtime.
    let st = unsafe { authsec_runtime_flush_audit(rt, 1, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    // SAFETY: we own the runtime.
    unsafe { authsec_runtime_free(rt) };
}

//! What a C caller sees when it misuses the ABI: every exported function survives NULL
//! arguments and invalid UTF-8 with a status (never a crash), out-parameters stay untouched on
//! failure, blocking calls refuse to run inside a tokio runtime, a forked child gets
//! `FORKED_PROCESS`, and the version agrees with Cargo.toml and the header.

use std::ptr;

use authsec::*;

mod common;
use common::{post_mcp, take_error, text};

const CONFIG: &str = r#"{"issuer": "https://as.example.com", "jwks_url": "http://127.0.0.1:9/jwks",
  "resource_uri": "https://mcp.example.com/mcp", "tool_scopes": {"list_issues": ["issues:read"]}}"#;

/// (status name, message) of an error returned through `err_out`.
fn take(err: *mut authsec_error) -> (String, String) {
    let (_, name, message) = take_error(err);
    (name, message)
}

fn runtime() -> *const authsec_runtime {
    let mut rt = ptr::null();
    // SAFETY: valid config pointer and out-params.
    let st = unsafe {
        authsec_runtime_new(
            CONFIG.as_ptr().cast(),
            CONFIG.len(),
            &mut rt,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, authsec_status::Ok);
    rt
}

const SENTINEL: usize = 0x5a5a;

#[test]
fn null_arguments_give_a_status_and_leave_outputs_untouched() {
    let rt = runtime();
    let sentinel_rt = SENTINEL as *const authsec_runtime;
    let sentinel_d = SENTINEL as *mut authsec_decision;
    // SAFETY: every call below passes NULL where the contract allows the library to detect it.
    unsafe {
        let mut out = sentinel_rt;
        let mut err = ptr::null_mut();
        assert_eq!(
            authsec_runtime_new(ptr::null(), 5, &mut out, &mut err),
            authsec_status::NullParameter
        );
        assert_eq!(out, sentinel_rt);
        assert_eq!(take(err).0, "null_parameter");
        assert_eq!(
            authsec_runtime_new(
                CONFIG.as_ptr().cast(),
                CONFIG.len(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_from_env(ptr::null(), 3, &mut out, ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_startup(ptr::null(), ptr::null_mut(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_metadata(ptr::null(), ptr::null_mut(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_wait_policy_refresh(ptr::null(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_advance_clock(ptr::null(), 1, ptr::null_mut()),
            authsec_status::NullParameter
        );

        let mut d = sentinel_d;
        let st = post_mcp(
            ptr::null(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut d,
            ptr::null_mut(),
        );
        assert_eq!(st, authsec_status::NullParameter);
        assert_eq!(d, sentinel_d);
        let st = authsec_runtime_check_request(
            rt,
            ptr::null(),
            4,
            "/mcp".as_ptr().cast(),
            4,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut d,
            ptr::null_mut(),
        );
        assert_eq!(st, authsec_status::NullParameter);
        let st = post_mcp(rt, ptr::null(), 2, ptr::null(), 0, &mut d, ptr::null_mut());
        assert_eq!(
            st,
            authsec_status::NullParameter,
            "headers NULL with a count"
        );
        for (runtime, method, headers, count, out) in [
            (
                ptr::null(),
                "POST".as_ptr(),
                ptr::null(),
                0,
                &mut d as *mut _,
            ),
            (rt, ptr::null(), ptr::null(), 0, &mut d as *mut _),
            (rt, "POST".as_ptr(), ptr::null(), 2, &mut d as *mut _),
            (rt, "POST".as_ptr(), ptr::null(), 0, ptr::null_mut()),
        ] {
            let st = authsec_runtime_check_oversized(
                runtime,
                method.cast(),
                4,
                "/mcp".as_ptr().cast(),
                4,
                headers,
                count,
                out,
                ptr::null_mut(),
            );
            assert_eq!(st, authsec_status::NullParameter);
        }
        assert_eq!(d, sentinel_d);
        for (runtime, out) in [(ptr::null(), &mut d as *mut _), (rt, ptr::null_mut())] {
            let st = authsec_runtime_try_check_request(
                runtime,
                "POST".as_ptr().cast(),
                4,
                "/mcp".as_ptr().cast(),
                4,
                ptr::null(),
                0,
                ptr::null(),
                0,
                out,
                ptr::null_mut(),
            );
            assert_eq!(st, authsec_status::NullParameter);
        }
        assert_eq!(d, sentinel_d);
        assert_eq!(authsec_runtime_max_body_bytes(ptr::null()), 0);
        assert_eq!(authsec_runtime_max_body_bytes(rt), 4 * 1024 * 1024);
        let st = post_mcp(rt, ptr::null(), 0, ptr::null(), 10, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::NullParameter, "body NULL with a length");
        let st = post_mcp(
            rt,
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(st, authsec_status::NullParameter);
        assert_eq!(d, sentinel_d);
        let null_header = authsec_header {
            name: ptr::null(),
            name_len: 13,
            value: ptr::null(),
            value_len: 0,
        };
        let st = post_mcp(rt, &null_header, 1, ptr::null(), 0, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::NullParameter);

        let mut f = SENTINEL as *mut authsec_filter_result;
        assert_eq!(
            authsec_runtime_filter_response(
                rt,
                ptr::null(),
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut f,
                ptr::null_mut()
            ),
            authsec_status::NullParameter
        );
        assert_eq!(f as usize, SENTINEL);
        assert_eq!(
            authsec_runtime_publish_manifest(
                ptr::null(),
                ptr::null(),
                0,
                ptr::null_mut(),
                ptr::null_mut()
            ),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_runtime_publish_manifest_handshake(
                rt,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_rpc_answer_set(
                ptr::null_mut(),
                200,
                ptr::null(),
                0,
                ptr::null(),
                0,
                ptr::null(),
                0
            ),
            authsec_status::NullParameter
        );

        // Accessors answer neutral values; a NULL decision never reads as allow.
        assert_eq!(
            authsec_decision_get_kind(ptr::null()),
            authsec_decision_kind::Respond
        );
        assert!(!authsec_decision_filter_tools_list(ptr::null()));
        // "Must the answer be filtered?" answers yes on any doubt.
        assert!(authsec_decision_filter_reads(ptr::null(), ptr::null(), 0));
        assert!(authsec_decision_filter_reads(
            ptr::null(),
            b"x".as_ptr().cast(),
            1
        ));
        assert_eq!(authsec_decision_subject(ptr::null()).len, 0);
        assert_eq!(authsec_decision_principal_json(ptr::null()).len, 0);
        assert!(authsec_decision_response(ptr::null()).is_null());
        assert_eq!(authsec_response_status(ptr::null()), 0);
        assert_eq!(authsec_response_header_count(ptr::null()), 0);
        assert_eq!(authsec_response_body(ptr::null()).len, 0);
        let (mut k, mut v) = (authsec_version(), authsec_version());
        assert_eq!(
            authsec_response_header(ptr::null(), 0, &mut k, &mut v),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_filter_result_get_kind(ptr::null()),
            authsec_filter_kind::Respond
        );
        assert!(authsec_filter_result_response(ptr::null()).is_null());
        assert_eq!(authsec_filter_result_body(ptr::null()).len, 0);
        assert_eq!(
            authsec_error_code(ptr::null()),
            authsec_status::NullParameter
        );
        assert_eq!(authsec_error_message(ptr::null()).len, 0);
        assert_eq!(authsec_text_str(ptr::null()).len, 0);
        assert_eq!(authsec_runtime_metadata_path(ptr::null()).len, 0);
        assert!(!authsec_error_message(ptr::null()).data.is_null());

        // Every free accepts NULL.
        authsec_runtime_free(ptr::null());
        authsec_decision_free(ptr::null_mut());
        authsec_response_free(ptr::null_mut());
        authsec_filter_result_free(ptr::null_mut());
        authsec_text_free(ptr::null_mut());
        authsec_error_free(ptr::null_mut());
        authsec_runtime_free(rt);
    }
}

#[test]
fn invalid_utf8_gives_invalid_utf8_and_no_decision() {
    let rt = runtime();
    let bad = b"\xff\xfe";
    // SAFETY: all pointers are live for each call.
    unsafe {
        let mut out = ptr::null();
        let mut err = ptr::null_mut();
        assert_eq!(
            authsec_runtime_new(bad.as_ptr().cast(), 2, &mut out, &mut err),
            authsec_status::InvalidUtf8
        );
        assert_eq!(
            take(err),
            ("invalid_utf8".into(), "config is not valid UTF-8".into())
        );
        assert!(out.is_null());

        let name = "authorization";
        let h = authsec_header {
            name: name.as_ptr().cast(),
            name_len: name.len(),
            value: bad.as_ptr().cast(),
            value_len: 2,
        };
        let mut d = ptr::null_mut();
        let st = post_mcp(rt, &h, 1, ptr::null(), 0, &mut d, &mut err);
        assert_eq!(st, authsec_status::InvalidUtf8);
        assert_eq!(take(err).1, "header value is not valid UTF-8");
        assert!(d.is_null());
        let st = authsec_runtime_check_request(
            rt,
            bad.as_ptr().cast(),
            2,
            "/mcp".as_ptr().cast(),
            4,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut d,
            ptr::null_mut(),
        );
        assert_eq!(st, authsec_status::InvalidUtf8);
        assert!(
            authsec_runtime_publish_manifest(
                rt,
                bad.as_ptr().cast(),
                2,
                ptr::null_mut(),
                ptr::null_mut()
            ) == authsec_status::InvalidUtf8
        );

        // A body is bytes: invalid UTF-8 there is a decision (401 for the missing token), not an error.
        let st = post_mcp(rt, ptr::null(), 0, bad.as_ptr(), 2, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::Ok);
        assert_eq!(authsec_decision_get_kind(d), authsec_decision_kind::Respond);
        assert_eq!(authsec_response_status(authsec_decision_response(d)), 401);
        authsec_decision_free(d);
        authsec_runtime_free(rt);
    }
}

#[test]
fn config_errors_carry_the_reference_message() {
    let cfg = r#"{"issuer": "https://as.example.com"}"#;
    let mut out = ptr::null();
    let mut err = ptr::null_mut();
    // SAFETY: live pointers.
    let st = unsafe { authsec_runtime_new(cfg.as_ptr().cast(), cfg.len(), &mut out, &mut err) };
    assert_eq!(st, authsec_status::ConfigInvalid);
    let (code, msg) = take(err);
    assert_eq!(code, "config_invalid");
    assert!(msg.contains("resource_uri"), "{msg}");
    assert!(out.is_null());
    let secret = r#"{"issuer": "x", "introspection_client_secret": "s3cr3t-value", "bogus": 1}"#;
    // SAFETY: live pointers.
    let st =
        unsafe { authsec_runtime_new(secret.as_ptr().cast(), secret.len(), &mut out, &mut err) };
    assert_eq!(st, authsec_status::ConfigInvalid);
    let (_, msg) = take(err);
    assert!(!msg.contains("s3cr3t"), "secret leaked into {msg}");
}

#[test]
fn advance_clock_refuses_a_system_clock_runtime() {
    let rt = runtime();
    let mut err = ptr::null_mut();
    // SAFETY: live runtime.
    let st = unsafe { authsec_runtime_advance_clock(rt, 1000, &mut err) };
    assert_eq!(st, authsec_status::InvalidArgument);
    assert_eq!(take(err).0, "invalid_argument");
    // SAFETY: owned once.
    unsafe { authsec_runtime_free(rt) };
}

#[test]
fn filter_refuses_a_decision_that_is_not_an_allow() {
    let rt = runtime();
    let mut d = ptr::null_mut();
    let mut f = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: live pointers.
    unsafe {
        let st = post_mcp(rt, ptr::null(), 0, ptr::null(), 0, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::Ok);
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#;
        let st = authsec_runtime_filter_response(
            rt,
            d,
            ptr::null(),
            0,
            body.as_ptr(),
            body.len(),
            &mut f,
            &mut err,
        );
        assert_eq!(st, authsec_status::InvalidArgument);
        assert!(f.is_null());
        assert!(take(err).1.contains("allow decision"));
        // Not an allow: "must the answer be filtered" is yes (never a reason to skip the filter).
        assert!(authsec_decision_filter_reads(d, ptr::null(), 0));
        authsec_decision_free(d);
        authsec_runtime_free(rt);
    }
}

#[test]
fn response_filter_refuses_a_decision_that_is_not_an_allow_and_null_outputs() {
    let rt = runtime();
    let mut d = ptr::null_mut();
    let sentinel = SENTINEL as *mut authsec_response_filter;
    // SAFETY: live pointers; NULL where the library must detect it.
    unsafe {
        let st = post_mcp(rt, ptr::null(), 0, ptr::null(), 0, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::Ok);
        let mut f = sentinel;
        let mut err = ptr::null_mut();
        let ct = "text/event-stream";
        let st = authsec_runtime_response_filter(
            rt,
            d,
            ct.as_ptr().cast(),
            ct.len(),
            ptr::null(),
            0,
            &mut f,
            &mut err,
        );
        assert_eq!(st, authsec_status::InvalidArgument);
        assert_eq!(f, sentinel, "out-parameter untouched on failure");
        assert!(take(err).1.contains("allow decision"));
        let st = authsec_runtime_response_filter(
            rt,
            d,
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            &mut err,
        );
        assert_eq!(st, authsec_status::NullParameter);
        assert_eq!(take(err).0, "null_parameter");
        let bad = [0xffu8];
        let st = authsec_runtime_response_filter(
            rt,
            d,
            bad.as_ptr().cast(),
            1,
            ptr::null(),
            0,
            &mut f,
            ptr::null_mut(),
        );
        assert!(
            st == authsec_status::InvalidArgument || st == authsec_status::InvalidUtf8,
            "{st:?}"
        );
        assert_eq!(f, sentinel);
        let (mut fwd, mut resp) = (
            authsec_bytes {
                data: ptr::null(),
                len: 0,
            },
            ptr::null(),
        );
        let st = authsec_response_filter_finish(ptr::null_mut(), &mut fwd, &mut resp, &mut err);
        assert_eq!(st, authsec_status::NullParameter);
        assert_eq!(take(err).0, "null_parameter");
        authsec_decision_free(d);
        authsec_runtime_free(rt);
    }
}

#[test]
fn canned_answers_are_the_core_bytes() {
    // SAFETY: writable out-parameters; owned responses freed once.
    unsafe {
        let mut r = ptr::null_mut();
        assert_eq!(
            authsec_response_startup_failed(&mut r, ptr::null_mut()),
            authsec_status::Ok
        );
        assert_eq!(authsec_response_status(r), 503);
        assert_eq!(
            common::bytes(authsec_response_body(r)),
            br#"{"error":"temporarily_unavailable","error_description":"authorization is not available"}"#
        );
        authsec_response_free(r);
        assert_eq!(
            authsec_response_internal_error(&mut r, ptr::null_mut()),
            authsec_status::Ok
        );
        assert_eq!(authsec_response_status(r), 500);
        authsec_response_free(r);
        let mut err = ptr::null_mut();
        assert_eq!(
            authsec_response_internal_error(ptr::null_mut(), &mut err),
            authsec_status::NullParameter
        );
        assert_eq!(take(err).0, "null_parameter");
    }
}

#[test]
fn blocking_calls_refuse_to_run_inside_a_tokio_runtime() {
    let rt = runtime();
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let rt_addr = rt as usize;
    let (st, name) = tokio_rt.block_on(async move {
        let mut err = ptr::null_mut();
        let mut d = ptr::null_mut();
        // SAFETY: live runtime.
        let st = unsafe {
            post_mcp(
                rt_addr as *const authsec_runtime,
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut d,
                &mut err,
            )
        };
        (st, take(err).0)
    });
    assert_eq!(st, authsec_status::WrongThreadContext);
    assert_eq!(name, "wrong_thread_context");
    // SAFETY: owned once.
    unsafe { authsec_runtime_free(rt) };
}

#[test]
fn a_forked_child_gets_forked_process() {
    let rt = runtime();
    // A decision made before the fork, for the filter call in the child.
    let mut before = ptr::null_mut();
    // SAFETY: live runtime, writable out-param.
    let st = unsafe {
        post_mcp(
            rt,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut before,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, authsec_status::Ok);
    // SAFETY: fork in a test process; the child only makes ABI calls, each of which must refuse
    // before doing anything, and then _exits with a code the parent checks.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut failures = 0;
        let mut expect = |st: authsec_status| {
            if st != authsec_status::ForkedProcess {
                failures += 1;
            }
        };
        let sentinel = SENTINEL as *mut authsec_decision;
        let mut d = sentinel;
        let mut filtered = SENTINEL as *mut authsec_filter_result;
        let mut response = SENTINEL as *mut authsec_response;
        let mut warnings = SENTINEL as *mut authsec_text;
        let mut new_rt = SENTINEL as *const authsec_runtime;
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#;
        let ct = "application/json";
        // SAFETY: rt and `before` are valid memory inherited from the parent; every out-param
        // is writable.
        unsafe {
            expect(post_mcp(
                rt,
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut d,
                ptr::null_mut(),
            ));
            expect(authsec_runtime_filter_response(
                rt,
                before,
                ct.as_ptr().cast(),
                ct.len(),
                body.as_ptr(),
                body.len(),
                &mut filtered,
                ptr::null_mut(),
            ));
            expect(authsec_runtime_metadata(rt, &mut response, ptr::null_mut()));
            expect(authsec_runtime_startup(rt, &mut warnings, ptr::null_mut()));
            expect(authsec_runtime_wait_policy_refresh(rt, ptr::null_mut()));
            expect(authsec_runtime_new(
                CONFIG.as_ptr().cast(),
                CONFIG.len(),
                &mut new_rt,
                ptr::null_mut(),
            ));
            // Freeing in the child is a no-op for the runtime (its threads are gone) and safe.
            authsec_runtime_free(rt);
        }
        let untouched = d == sentinel
            && filtered as usize == SENTINEL
            && response as usize == SENTINEL
            && warnings as usize == SENTINEL
            && new_rt as usize == SENTINEL;
        let code = if failures == 0 && untouched { 0 } else { 1 };
        // SAFETY: leave the child without running the parent's destructors or test harness.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status}: an entry point did not refuse with FORKED_PROCESS or wrote an output"
    );
    // The parent keeps working.
    let mut d = ptr::null_mut();
    // SAFETY: live runtime.
    unsafe {
        let st = post_mcp(rt, ptr::null(), 0, ptr::null(), 0, &mut d, ptr::null_mut());
        assert_eq!(st, authsec_status::Ok);
        authsec_decision_free(d);
        authsec_decision_free(before);
        authsec_runtime_free(rt);
    }
}

#[test]
fn version_agrees_with_cargo_and_the_header() {
    let v = text(authsec_version());
    assert_eq!(v, format!("authsec/{}", env!("CARGO_PKG_VERSION")));
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../include/authsec.h"))
            .unwrap();
    let mut parts = env!("CARGO_PKG_VERSION").split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        let want = format!("#define AUTHSEC_VERSION_{name} {}", parts.next().unwrap());
        assert!(header.contains(&want), "header lacks {want}");
    }
    // Every status constant in the header has the Rust number.
    for s in authsec_status::ALL {
        let c = format!("AUTHSEC_STATUS_{} = {},", s.name().to_uppercase(), s as u32);
        assert!(header.contains(&c), "header lacks {c}");
    }
}

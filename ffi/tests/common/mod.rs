//! Helpers the ABI tests and the ABI bench share: reading borrowed strings, taking an error
//! returned through `err_out`, building header entries, and `POST /mcp` through
//! `authsec_runtime_check_request` (raw, or as a host makes it: call, read the kind, free).

#![allow(dead_code)] // each test binary uses a subset

use authsec::*;

/// Copy a borrowed string.
pub fn text(s: authsec_str) -> String {
    // SAFETY: the library returns valid UTF-8 of `len` bytes at a non-NULL pointer.
    let b = unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.len) };
    std::str::from_utf8(b).expect("utf-8").to_string()
}

/// Copy borrowed bytes.
pub fn bytes(b: authsec_bytes) -> Vec<u8> {
    // SAFETY: `len` readable bytes at a non-NULL pointer, borrowed from a live handle.
    unsafe { std::slice::from_raw_parts(b.data, b.len) }.to_vec()
}

/// Take (and free) an error returned through `err_out`: its status, status name and message.
pub fn take_error(err: *mut authsec_error) -> (authsec_status, String, String) {
    assert!(!err.is_null(), "a failed call must fill err_out");
    // SAFETY: err is a live error owned by the caller of this helper.
    unsafe {
        let status = authsec_error_code(err);
        let name = std::ffi::CStr::from_ptr(authsec_status_name(status as u32))
            .to_str()
            .unwrap()
            .to_string();
        let message = text(authsec_error_message(err));
        authsec_error_free(err);
        (status, name, message)
    }
}

/// A header entry borrowing `name` and `value`.
pub fn header(name: &str, value: &str) -> authsec_header {
    authsec_header {
        name: name.as_ptr().cast(),
        name_len: name.len(),
        value: value.as_ptr().cast(),
        value_len: value.len(),
    }
}

/// `POST /mcp` with raw header and body pointers (so tests can pass NULLs).
///
/// # Safety
/// As for `authsec_runtime_check_request`.
pub unsafe fn post_mcp(
    rt: *const authsec_runtime,
    headers: *const authsec_header,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    decision_out: *mut *mut authsec_decision,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        authsec_runtime_check_request(
            rt,
            "POST".as_ptr().cast(),
            4,
            "/mcp".as_ptr().cast(),
            4,
            headers,
            header_count,
            body,
            body_len,
            decision_out,
            err_out,
        )
    }
}

/// One `POST /mcp` check as a C host makes it on the hot path: call, read the decision's kind,
/// free the decision. Panics unless the call returns OK (the ABI bench and
/// `examples/abi_hot_path.rs` time and count exactly this).
pub fn post_mcp_kind(
    rt: *const authsec_runtime,
    headers: &[authsec_header],
    body: &[u8],
) -> authsec_decision_kind {
    let mut d = std::ptr::null_mut();
    // SAFETY: every pointer/length pair is live for the call; rt is a live runtime by the
    // caller's contract.
    unsafe {
        let st = post_mcp(
            rt,
            headers.as_ptr(),
            headers.len(),
            body.as_ptr(),
            body.len(),
            &mut d,
            std::ptr::null_mut(),
        );
        assert_eq!(st, authsec_status::Ok);
        let kind = authsec_decision_get_kind(d);
        authsec_decision_free(d);
        kind
    }
}

/// A runtime built through `authsec_runtime_new` from config JSON; panics unless it builds. The
/// caller owns the reference (free it with `authsec_runtime_free`).
pub fn runtime_from_json(config: &str) -> *const authsec_runtime {
    let mut rt = std::ptr::null();
    // SAFETY: live config text and a writable out-param.
    let st = unsafe {
        authsec_runtime_new(
            config.as_ptr().cast(),
            config.len(),
            &mut rt,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(st, authsec_status::Ok);
    rt
}

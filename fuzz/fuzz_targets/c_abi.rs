//! The C ABI entry points (the `extern "C"` functions of authsec-ffi) with arbitrary bytes,
//! lengths and NULLs, as a C host could call them within their documented contract: every
//! pointer is NULL (with any length) or readable for its length; out-pointers may be NULL.
//!
//! The input is a little program: each step takes one byte for the call and then the blobs and
//! flags that call needs. A blob is a length byte and that many bytes; the length byte 0xFE is
//! followed by a 16-bit little-endian length, 0xFF means a NULL pointer with the next byte as
//! its length.
//!
//! Invariants, for every call:
//! - it returns one of the documented statuses, never `PANIC` (libFuzzer also aborts on any
//!   panic, caught or not) nor `INTERNAL`;
//! - `OK` exactly when an error is not set; on `OK` the out-pointer is set, otherwise it is left
//!   as it was and the error (when `err_out` is given) has that status and a non-empty UTF-8
//!   message;
//! - a NULL out-pointer, a NULL handle, or a NULL pointer with a non-zero length never gives `OK`;
//! - a decision has a known kind; every response has a status in 100..=599, header names that
//!   are RFC 9110 tokens, header values that are field-values (visible ASCII, space and tab, no
//!   leading or trailing whitespace), and a readable body;
//! - filtering with a decision that is not an allow is refused with `INVALID_ARGUMENT`;
//! - every handle is freed (LeakSanitizer runs at exit).
//!
//! A configuration naming an audit log or a tenant catalogue database is validated but not built
//! (it would open a fuzzed path or address).

#![no_main]

use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use authsec::*;
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"{"issuer": "https://as.example.com",
  "jwks_url": "http://127.0.0.1:9/jwks",
  "resource_uri": "https://mcp.example.com/mcp",
  "tool_scopes": {"read_a": ["a"], "write_b": ["b"]},
  "cors_allowed_origins": ["https://app.example.com"]}"#;

struct Rt(*const authsec_runtime);
// SAFETY: a runtime is documented as usable from any thread.
unsafe impl Send for Rt {}
// SAFETY: as above.
unsafe impl Sync for Rt {}

fn runtime() -> *const authsec_runtime {
    static RT: OnceLock<Rt> = OnceLock::new();
    RT.get_or_init(|| {
        let mut rt = null();
        // SAFETY: CONFIG is readable for its length; rt is writable.
        let st = unsafe {
            authsec_runtime_new(CONFIG.as_ptr().cast(), CONFIG.len(), &mut rt, null_mut())
        };
        assert_eq!(st, authsec_status::Ok);
        Rt(rt)
    })
    .0
}

struct Input<'a>(&'a [u8]);

/// A pointer/length pair as a C caller may pass it.
#[derive(Clone, Copy)]
struct Blob {
    ptr: *const u8,
    len: usize,
}

impl Blob {
    fn null_with_len(&self) -> bool {
        self.ptr.is_null() && self.len > 0
    }
    fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            &[]
        } else {
            // SAFETY: a non-NULL blob points into the fuzzer's input for its length.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn blob(&mut self) -> Blob {
        let n = match self.byte() {
            0xFF => {
                return Blob {
                    ptr: null(),
                    len: usize::from(self.byte()),
                }
            }
            0xFE => usize::from(u16::from_le_bytes([self.byte(), self.byte()])),
            n => usize::from(n),
        };
        let n = n.min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Blob {
            ptr: b.as_ptr(),
            len: n,
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn str_bytes(s: authsec_str) -> Vec<u8> {
    assert!(!s.data.is_null(), "an authsec_str with a NULL data pointer");
    // SAFETY: the library documents data as readable for len while its owner lives.
    unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.len) }.to_vec()
}

/// Check the status/error pair of one call and free the error.
fn settle(st: authsec_status, err: *mut authsec_error, err_given: bool, must_fail: bool) {
    assert!(authsec_status::ALL.contains(&st), "an undocumented status");
    assert!(
        st != authsec_status::Panic && st != authsec_status::Internal,
        "status {st:?}"
    );
    if must_fail {
        assert!(
            st != authsec_status::Ok,
            "OK with a NULL where one is not allowed"
        );
    }
    if !err_given {
        return;
    }
    if st == authsec_status::Ok {
        assert!(err.is_null(), "an error set on OK");
        return;
    }
    assert!(!err.is_null(), "no error set for {st:?}");
    // SAFETY: err is a live error from the library.
    unsafe {
        assert_eq!(authsec_error_code(err), st);
        let msg = str_bytes(authsec_error_message(err));
        assert!(!msg.is_empty() && std::str::from_utf8(&msg).is_ok());
        authsec_error_free(err);
    }
}

/// An out-parameter for a string, before the call writes it.
fn no_str() -> authsec_str {
    authsec_str {
        data: null(),
        len: 0,
    }
}

/// Check one response's status, headers and body.
fn check_response(r: *const authsec_response) {
    assert!(!r.is_null());
    // SAFETY: r is a live response.
    unsafe {
        let status = authsec_response_status(r);
        assert!((100..=599).contains(&status), "status {status}");
        let n = authsec_response_header_count(r);
        for i in 0..n {
            let (mut name, mut value) = (no_str(), no_str());
            assert_eq!(
                authsec_response_header(r, i, &mut name, &mut value),
                authsec_status::Ok
            );
            let name = str_bytes(name);
            let value = str_bytes(value);
            assert!(
                !name.is_empty() && name.iter().all(|b| is_tchar(*b)),
                "header name {name:?}"
            );
            assert!(
                value
                    .iter()
                    .all(|b| (0x20..=0x7E).contains(b) || *b == b'\t'),
                "header value {:?}",
                String::from_utf8_lossy(&value)
            );
            assert!(!value.first().is_some_and(|b| *b == b' ' || *b == b'\t'));
            assert!(!value.last().is_some_and(|b| *b == b' ' || *b == b'\t'));
        }
        let (mut name, mut value) = (no_str(), no_str());
        assert_eq!(
            authsec_response_header(r, n, &mut name, &mut value),
            authsec_status::InvalidArgument
        );
        let body = authsec_response_body(r);
        assert!(!body.data.is_null());
        let bytes = std::slice::from_raw_parts(body.data, body.len);
        std::hint::black_box(bytes.iter().map(|b| u64::from(*b)).sum::<u64>());
    }
}

/// Check a decision and (when it is not an allow) that filtering with it is refused.
fn check_decision(d: *mut authsec_decision, input: &mut Input) {
    // SAFETY: d is a live decision.
    unsafe {
        let kind = authsec_decision_get_kind(d);
        assert!(matches!(
            kind,
            authsec_decision_kind::Allow
                | authsec_decision_kind::Respond
                | authsec_decision_kind::PassThrough
        ));
        let resp = authsec_decision_response(d);
        if kind == authsec_decision_kind::Respond {
            check_response(resp);
        }
        str_bytes(authsec_decision_subject(d));
        str_bytes(authsec_decision_issuer(d));
        if kind == authsec_decision_kind::Allow {
            return;
        }
        let ct = input.blob();
        let body = input.blob();
        let mut result = null_mut();
        let mut err = null_mut();
        let st = authsec_runtime_filter_response(
            runtime(),
            d,
            ct.ptr.cast(),
            ct.len,
            body.ptr,
            body.len,
            &mut result,
            &mut err,
        );
        settle(st, err, true, true);
        assert!(result.is_null());
        if !ct.null_with_len() && !body.null_with_len() && std::str::from_utf8(ct.bytes()).is_ok() {
            assert_eq!(st, authsec_status::InvalidArgument);
        }
        let mut filter = null_mut();
        let mut err = null_mut();
        let st = authsec_runtime_response_filter(
            runtime(),
            d,
            ct.ptr.cast(),
            ct.len,
            null(),
            0,
            &mut filter,
            &mut err,
        );
        settle(st, err, true, true);
        assert!(filter.is_null());
    }
}

fn request(input: &mut Input, oversized: bool) {
    let flags = input.byte();
    let rt = if flags & 1 == 1 { null() } else { runtime() };
    let err_given = flags & 2 == 0;
    let out_given = flags & 4 == 0;
    let method = input.blob();
    let path = input.blob();
    let count = usize::from(input.byte() % 4);
    let blobs: Vec<(Blob, Blob)> = (0..count).map(|_| (input.blob(), input.blob())).collect();
    let headers: Vec<authsec_header> = blobs
        .iter()
        .map(|(n, v)| authsec_header {
            name: n.ptr.cast(),
            name_len: n.len,
            value: v.ptr.cast(),
            value_len: v.len,
        })
        .collect();
    let headers_null = flags & 8 == 8 && count > 0;
    let hp = if headers_null {
        null()
    } else {
        headers.as_ptr()
    };
    let body = input.blob();
    let nulls = rt.is_null()
        || !out_given
        || headers_null
        || method.null_with_len()
        || path.null_with_len()
        || blobs
            .iter()
            .any(|(n, v)| n.null_with_len() || v.null_with_len())
        || (!oversized && body.null_with_len());
    let mut decision: *mut authsec_decision = null_mut();
    let out = if out_given {
        &mut decision as *mut _
    } else {
        null_mut()
    };
    let mut err: *mut authsec_error = null_mut();
    let errp = if err_given {
        &mut err as *mut _
    } else {
        null_mut()
    };
    // SAFETY: every pointer is NULL or readable for its length; outs are NULL or writable.
    let st = unsafe {
        if oversized {
            authsec_runtime_check_oversized(
                rt,
                method.ptr.cast(),
                method.len,
                path.ptr.cast(),
                path.len,
                hp,
                count,
                out,
                errp,
            )
        } else {
            authsec_runtime_try_check_request(
                rt,
                method.ptr.cast(),
                method.len,
                path.ptr.cast(),
                path.len,
                hp,
                count,
                body.ptr,
                body.len,
                out,
                errp,
            )
        }
    };
    settle(st, err, err_given, nulls);
    if st == authsec_status::Ok {
        assert!(!decision.is_null());
        check_decision(decision, input);
        // SAFETY: decision is live and freed once.
        unsafe { authsec_decision_free(decision) };
    } else {
        assert!(decision.is_null(), "an out-pointer written on failure");
    }
}

fn config_call(input: &mut Input, op: u8) {
    let cfg = input.blob();
    let mut err = null_mut();
    let must_fail = cfg.null_with_len();
    // SAFETY: cfg is NULL or readable for its length; outs are writable.
    unsafe {
        match op {
            0 => {
                let st = authsec_config_validate(cfg.ptr.cast(), cfg.len, &mut err);
                settle(st, err, true, must_fail);
            }
            1 => {
                let mut text = null_mut();
                let st = authsec_config_resolve(cfg.ptr.cast(), cfg.len, &mut text, &mut err);
                settle(st, err, true, must_fail);
                if st == authsec_status::Ok {
                    let s = str_bytes(authsec_text_str(text));
                    let v: serde_json::Value =
                        serde_json::from_slice(&s).expect("resolve answers JSON");
                    assert!(v
                        .get("normalized")
                        .is_some_and(serde_json::Value::is_object));
                    authsec_text_free(text);
                } else {
                    assert!(text.is_null());
                }
            }
            _ => {
                // Nothing is written at a fuzzed path: no audit log, no tenant catalogue.
                let text = std::str::from_utf8(cfg.bytes()).unwrap_or("");
                if authsec_core::Config::from_json(text).is_ok_and(|c| {
                    !c.audit_log.is_empty()
                        || c.rbac_catalogue.is_some_and(|r| {
                            !r.sqlite.is_empty() || r.postgres != authsec_core::Secret::default()
                        })
                }) {
                    return;
                }
                let mut rt = null();
                let st = if op == 2 {
                    authsec_runtime_new(cfg.ptr.cast(), cfg.len, &mut rt, &mut err)
                } else {
                    authsec_runtime_new_with_manual_clock(
                        cfg.ptr.cast(),
                        cfg.len,
                        &mut rt,
                        &mut err,
                    )
                };
                settle(st, err, true, must_fail);
                if st == authsec_status::Ok {
                    assert!(!rt.is_null());
                    let mut resp = null_mut();
                    assert_eq!(
                        authsec_runtime_metadata(rt, &mut resp, null_mut()),
                        authsec_status::Ok
                    );
                    check_response(resp);
                    authsec_response_free(resp);
                    authsec_runtime_free(rt);
                } else {
                    assert!(rt.is_null());
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    for _ in 0..16 {
        if input.0.is_empty() {
            break;
        }
        match input.byte() % 9 {
            op @ 0..=3 => config_call(&mut input, op),
            4 => request(&mut input, false),
            5 => request(&mut input, true),
            6 => {
                let mut n = [0u8; 4];
                n.iter_mut().for_each(|b| *b = input.byte());
                let name = authsec_status_name(u32::from_le_bytes(n));
                assert!(!name.is_null());
                // SAFETY: the library returns a static NUL-terminated string.
                let s = unsafe { std::ffi::CStr::from_ptr(name) };
                assert!(s.to_bytes().iter().all(u8::is_ascii_graphic));
            }
            7 => {
                let mut resp = null_mut();
                let mut err = null_mut();
                let rt = if input.byte() & 1 == 1 {
                    null()
                } else {
                    runtime()
                };
                // SAFETY: rt is NULL or live; outs are writable.
                let st = unsafe { authsec_runtime_metadata(rt, &mut resp, &mut err) };
                settle(st, err, true, rt.is_null());
                if st == authsec_status::Ok {
                    check_response(resp);
                    // SAFETY: resp is live and freed once.
                    unsafe { authsec_response_free(resp) };
                }
            }
            _ => {
                // Accessors and frees take NULL and answer neutral values.
                // SAFETY: NULL is allowed for every one of these.
                unsafe {
                    assert_eq!(
                        authsec_decision_get_kind(null()),
                        authsec_decision_kind::Respond
                    );
                    assert!(authsec_decision_response(null()).is_null());
                    assert_eq!(authsec_response_status(null()), 0);
                    assert_eq!(authsec_response_header_count(null()), 0);
                    authsec_decision_free(null_mut());
                    authsec_response_free(null_mut());
                    authsec_error_free(null_mut());
                    authsec_text_free(null_mut());
                }
            }
        }
    }
});

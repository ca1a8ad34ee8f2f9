//! `authsec_runtime`: one configured authsec instance (an `authsec_core::Runtime`), shared and
//! thread-safe, with its lifecycle, startup, request checks, metadata and test hooks.

use std::sync::Arc;
use std::time::Duration;

use authsec_core::{Check, Config, ManualClock, Request, Runtime};

use crate::boundary::{arg_bytes, arg_ref, arg_str, call, check_out, opt_ref, write_out};
use crate::decision::{authsec_decision, authsec_response};
use crate::error::authsec_error;
use crate::hidden;
use crate::status::{authsec_status, Fail};
use crate::text::{authsec_str, authsec_text};

/// A configured runtime. **Ownership:** shared (reference counted); `authsec_runtime_new` and
/// friends give the caller one reference, `authsec_runtime_free` drops it. **Thread safety:**
/// every function taking a `const authsec_runtime *` may be called from any number of threads at
/// once; share one runtime per process. See docs/ffi-conventions.md.
pub struct authsec_runtime {
    pub(crate) core: Runtime,
    clock: Option<Arc<ManualClock>>,
}

/// One request header: name and value, UTF-8, not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct authsec_header {
    /// Header name (any case).
    pub name: *const libc::c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// Header value.
    pub value: *const libc::c_char,
    /// Length of `value` in bytes.
    pub value_len: usize,
}

fn build(config: Config, manual_clock: bool) -> Result<*const authsec_runtime, Fail> {
    let hidden = hidden::get()?;
    // Built inside the hidden runtime's context so background work (policy refresh) runs there.
    let _enter = hidden.enter();
    let clock = manual_clock.then(|| Arc::new(ManualClock::new()));
    let mut builder = Runtime::builder(config);
    if let Some(c) = &clock {
        builder = builder.clock(c.clone() as Arc<dyn authsec_core::Clock>);
    }
    let core = builder.build()?;
    Ok(Arc::into_raw(Arc::new(authsec_runtime { core, clock })))
}

fn new_from_json(
    config_json: *const libc::c_char,
    config_len: usize,
    manual_clock: bool,
    runtime_out: *mut *const authsec_runtime,
) -> Result<(), Fail> {
    check_out(runtime_out, "runtime_out")?;
    let text = arg_str!(config_json, config_len, "config");
    let config = Config::from_json(text)?;
    write_out(runtime_out, build(config, manual_clock)?)
}

/// Build a runtime from a JSON configuration (the snake_case fields of the AuthSec SDK
/// configuration; unknown fields are refused).
///
/// On `AUTHSEC_STATUS_OK`, `*runtime_out` receives a new runtime the caller frees with
/// `authsec_runtime_free`. On failure (`AUTHSEC_STATUS_CONFIG_INVALID` with the reference SDK's
/// message, `AUTHSEC_STATUS_INVALID_UTF8`, ...) `*runtime_out` is unchanged. The library copies
/// the configuration and keeps no pointer to it.
///
/// # Safety
/// `config_json` points to `config_len` readable bytes; `runtime_out` points to writable storage;
/// `err_out` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_new(
    config_json: *const libc::c_char,
    config_len: usize,
    runtime_out: *mut *const authsec_runtime,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        new_from_json(config_json, config_len, false, runtime_out)
    })
}

/// Like `authsec_runtime_new`, with a clock that stands still until
/// `authsec_runtime_advance_clock` moves it. For tests only (expiry, cache TTLs, cooldowns).
///
/// # Safety
/// As for `authsec_runtime_new`.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_new_with_manual_clock(
    config_json: *const libc::c_char,
    config_len: usize,
    runtime_out: *mut *const authsec_runtime,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        new_from_json(config_json, config_len, true, runtime_out)
    })
}

/// Build a runtime from environment variables named `<prefix>ISSUER`, `<prefix>JWKS_URL`, ...
/// (the reference SDK's variables; an empty prefix means `AUTHSEC_`).
///
/// Ownership and failures as for `authsec_runtime_new`.
///
/// # Safety
/// `prefix` points to `prefix_len` readable bytes (or is NULL with 0); other pointers as for
/// `authsec_runtime_new`.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_from_env(
    prefix: *const libc::c_char,
    prefix_len: usize,
    runtime_out: *mut *const authsec_runtime,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(runtime_out, "runtime_out")?;
        let prefix = arg_str!(prefix, prefix_len, "prefix");
        let prefix = if prefix.is_empty() {
            "AUTHSEC_"
        } else {
            prefix
        };
        write_out(runtime_out, build(Config::from_env(prefix)?, false)?)
    })
}

/// Drop the caller's reference. NULL is fine; freeing twice is not.
///
/// # Safety
/// `rt` is NULL or a runtime from this library the caller has not freed yet.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_free(rt: *const authsec_runtime) {
    crate::boundary::accessor((), || {
        // In a forked child the runtime is left as it is: dropping it could wait on locks or
        // tasks of threads that did not survive the fork. The child's exit reclaims it.
        if !rt.is_null() && !crate::fork::in_forked_child() {
            // SAFETY: from Arc::into_raw in `build`; this drops the caller's one reference.
            drop(unsafe { Arc::from_raw(rt) });
        }
    })
}

/// Run startup: the initial remote policy fetch and its mode rules. May block (network).
///
/// On `AUTHSEC_STATUS_OK`, when `warnings_out` is not NULL, `*warnings_out` receives a JSON array
/// of warning strings for the host to log (freed with `authsec_text_free`). Fails with
/// `AUTHSEC_STATUS_STARTUP_FAILED` when the policy mode makes the failure fatal.
///
/// # Safety
/// `rt` is a live runtime; `warnings_out` and `err_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_startup(
    rt: *const authsec_runtime,
    warnings_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let warnings = hidden::block_on(rt.core.startup())??;
        if !warnings_out.is_null() {
            let json = serde_json::to_string(&warnings)
                .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?;
            write_out(warnings_out, authsec_text::boxed(json))?;
        }
        Ok(())
    })
}

/// Decide what happens to one HTTP request reaching the protected MCP endpoint.
///
/// `method`, `path` and the headers are UTF-8 text (`AUTHSEC_STATUS_INVALID_UTF8` otherwise);
/// `body` is the complete request body (NULL with `body_len` 0 for none). On
/// `AUTHSEC_STATUS_OK`, `*decision_out` receives a decision the caller frees with
/// `authsec_decision_free`: allow (call the handler; see `authsec_decision_filter_tools_list`),
/// respond (write the given status, headers and body; do not call the handler), or pass-through.
/// A denial is a successful call. Any other status means the host must refuse the request.
///
/// Does not block when the decision needs no I/O (the common case); otherwise blocks until the
/// JWKS fetch or the introspection finishes (bounded by `request_timeout_seconds`).
///
/// # Safety
/// `rt` is a live runtime; every pointer/length pair is readable; `headers` points to
/// `header_count` entries (or is NULL with 0); `decision_out` is writable; `err_out` is NULL or
/// writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn authsec_runtime_check_request(
    rt: *const authsec_runtime,
    method: *const libc::c_char,
    method_len: usize,
    path: *const libc::c_char,
    path_len: usize,
    headers: *const authsec_header,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    decision_out: *mut *mut authsec_decision,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(decision_out, "decision_out")?;
        // SAFETY: the arguments are as this function's contract requires.
        let a = unsafe {
            request_args(
                rt,
                method,
                method_len,
                path,
                path_len,
                headers,
                header_count,
                body,
                body_len,
            )
        }?;
        hidden::check_may_block()?;
        let decision = match a.rt.core.check(&a.request()) {
            Check::Ready(d) => d,
            Check::Pending(p) => hidden::block_on(p)?,
        };
        write_out(decision_out, authsec_decision::boxed(decision))
    })
}

/// `authsec_runtime_check_request` without blocking, for hosts on an event loop: the decision
/// when the core can make it from memory (warm keys, a cached token, local or cached policy:
/// every request of a session after its first), else `AUTHSEC_STATUS_WOULD_BLOCK` and no
/// decision, and the host makes the blocking call off its event loop. Never blocks and may be
/// called from any thread, a tokio worker included. Arguments as for
/// `authsec_runtime_check_request`.
///
/// # Safety
/// As for `authsec_runtime_check_request`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn authsec_runtime_try_check_request(
    rt: *const authsec_runtime,
    method: *const libc::c_char,
    method_len: usize,
    path: *const libc::c_char,
    path_len: usize,
    headers: *const authsec_header,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    decision_out: *mut *mut authsec_decision,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(decision_out, "decision_out")?;
        // SAFETY: the arguments are as this function's contract requires.
        let a = unsafe {
            request_args(
                rt,
                method,
                method_len,
                path,
                path_len,
                headers,
                header_count,
                body,
                body_len,
            )
        }?;
        match a.rt.core.check(&a.request()) {
            Check::Ready(d) => write_out(decision_out, authsec_decision::boxed(d)),
            // Dropping the pending check is safe: key fetches and introspections are shared and
            // survive a dropped waiter; the blocking call joins them.
            Check::Pending(_) => Err(Fail::new(
                authsec_status::WouldBlock,
                "the decision needs I/O; call authsec_runtime_check_request where blocking is fine",
            )),
        }
    })
}

/// Decide a request whose body the host stopped reading because it is over `max_body_bytes` (a
/// declared `Content-Length` over the limit, or more bytes than that arrived): the decision
/// `authsec_runtime_check_request` would give the whole body (the metadata document on its
/// route, otherwise the `413` answer), without passing the body. Never blocks. On
/// `AUTHSEC_STATUS_OK`, `*decision_out` receives a decision of kind RESPOND.
///
/// # Safety
/// As `authsec_runtime_check_request`, without the body.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_check_oversized(
    rt: *const authsec_runtime,
    method: *const libc::c_char,
    method_len: usize,
    path: *const libc::c_char,
    path_len: usize,
    headers: *const authsec_header,
    header_count: usize,
    decision_out: *mut *mut authsec_decision,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(decision_out, "decision_out")?;
        // SAFETY: the arguments are as this function's contract requires (no body).
        let a = unsafe {
            request_args(
                rt,
                method,
                method_len,
                path,
                path_len,
                headers,
                header_count,
                std::ptr::null(),
                0,
            )
        }?;
        let decision = a.rt.core.check_oversized(&a.request());
        write_out(decision_out, authsec_decision::boxed(decision))
    })
}

/// The RFC 9728 protected-resource metadata response (the same answer a `GET` on the metadata
/// path gets from `authsec_runtime_check_request`). On `AUTHSEC_STATUS_OK`, `*response_out`
/// receives a response the caller frees with `authsec_response_free`.
///
/// # Safety
/// `rt` is a live runtime; `response_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_metadata(
    rt: *const authsec_runtime,
    response_out: *mut *mut authsec_response,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(response_out, "response_out")?;
        let rt = arg_ref!(rt, "runtime");
        write_out(response_out, authsec_response::boxed(rt.core.metadata()))
    })
}

/// `max_body_bytes` of the runtime's configuration: hosts stop reading a request body above it
/// and call `authsec_runtime_check_oversized`. 0 when `rt` is NULL.
///
/// # Safety
/// `rt` is NULL or a live runtime.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_max_body_bytes(rt: *const authsec_runtime) -> u64 {
    crate::boundary::accessor(0, || {
        opt_ref!(rt).map_or(0, |r| r.core.config().max_body_bytes)
    })
}

/// The path the metadata document is served at (e.g.
/// `/.well-known/oauth-protected-resource/mcp`), borrowed until `rt` is freed; empty when `rt`
/// is NULL.
///
/// # Safety
/// `rt` is NULL or a live runtime.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_metadata_path(rt: *const authsec_runtime) -> authsec_str {
    crate::boundary::accessor(authsec_str::EMPTY, || {
        opt_ref!(rt).map_or(authsec_str::EMPTY, |r| {
            authsec_str::from(r.core.metadata_path())
        })
    })
}

/// Wait until a background policy refresh, if one runs, has finished. May block. Useful in tests
/// and before an orderly shutdown.
///
/// # Safety
/// `rt` is a live runtime; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_wait_policy_refresh(
    rt: *const authsec_runtime,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        hidden::block_on(rt.core.wait_policy_refresh())
    })
}

/// Move the clock of a runtime built with `authsec_runtime_new_with_manual_clock` forward by
/// `millis` milliseconds. Tests only. `AUTHSEC_STATUS_INVALID_ARGUMENT` for any other runtime.
///
/// # Safety
/// `rt` is a live runtime; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_advance_clock(
    rt: *const authsec_runtime,
    millis: u64,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let clock = rt.clock.as_ref().ok_or_else(|| {
            Fail::new(
                authsec_status::InvalidArgument,
                "this runtime has the system clock; only runtimes built with authsec_runtime_new_with_manual_clock can be advanced",
            )
        })?;
        clock.advance(Duration::from_millis(millis));
        Ok(())
    })
}

/// The borrowed arguments of the exports that decide a request.
struct RequestArgs<'a> {
    rt: &'a authsec_runtime,
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

impl RequestArgs<'_> {
    fn request(&self) -> Request<'_> {
        Request {
            method: self.method,
            path: self.path,
            headers: &self.headers,
            body: self.body,
        }
    }
}

/// Borrow and check (NULL, UTF-8) the arguments of a request-deciding export.
///
/// # Safety
/// As for `authsec_runtime_check_request`: `rt` is NULL or live, every pointer/length pair is
/// NULL with 0 or readable, `headers` points to `header_count` readable entries.
#[allow(clippy::too_many_arguments)]
unsafe fn request_args<'a>(
    rt: *const authsec_runtime,
    method: *const libc::c_char,
    method_len: usize,
    path: *const libc::c_char,
    path_len: usize,
    headers: *const authsec_header,
    header_count: usize,
    body: *const u8,
    body_len: usize,
) -> Result<RequestArgs<'a>, Fail> {
    Ok(RequestArgs {
        rt: arg_ref!(rt, "runtime"),
        method: arg_str!(method, method_len, "method"),
        path: arg_str!(path, path_len, "path"),
        body: arg_bytes!(body, body_len, "body"),
        // SAFETY: headers points to header_count readable entries, per the contract.
        headers: unsafe { header_pairs(headers, header_count) }?,
    })
}

/// Borrow `count` C headers as `(name, value)` pairs (UTF-8 checked).
///
/// # Safety
/// `headers` points to `count` entries whose pointers are readable for their lengths (or
/// `count` is 0).
unsafe fn header_pairs<'a>(
    headers: *const authsec_header,
    count: usize,
) -> Result<Vec<(&'a str, &'a str)>, Fail> {
    let mut pairs = Vec::with_capacity(count);
    if count == 0 {
        return Ok(pairs);
    }
    if headers.is_null() {
        return Err(Fail::null("headers"));
    }
    // SAFETY: headers points to count entries, per the contract.
    let list = unsafe { std::slice::from_raw_parts(headers, count) };
    for h in list {
        let name = arg_str!(h.name, h.name_len, "header name");
        let value = arg_str!(h.value, h.value_len, "header value");
        pairs.push((name, value));
    }
    Ok(pairs)
}

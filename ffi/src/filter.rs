//! `authsec_response_filter`: the core's streaming response filter (feed the handler's answer in
//! chunks, forward what comes back, finish), and the fixed answers a host writes when it has no
//! decision (`authsec_response_startup_failed`, `authsec_response_internal_error`).

use authsec_core::{FilterOutcome, Response, ResponseFilter};

use crate::boundary::{
    accessor, arg_bytes, arg_mut, arg_ref, arg_str, call, check_out, opt_ref, write_out,
};
use crate::decision::{
    authsec_decision, authsec_filter_kind, authsec_filter_result, authsec_response, decision_allow,
};
use crate::error::authsec_error;
use crate::runtime::authsec_runtime;
use crate::status::{authsec_status, Fail};
use crate::text::authsec_bytes;

/// A handler's answer being filtered on its way to the client. **Ownership:** owned by the
/// caller, freed with `authsec_response_filter_free`; bytes and responses borrowed from it live
/// until the next call on it or until it is freed. **Thread safety:** mutable: one thread at a
/// time (it may move between threads).
pub struct authsec_response_filter {
    inner: ResponseFilter,
    /// The bytes of the last feed/finish.
    out: Vec<u8>,
    /// The refusal, once there is one.
    refused: Option<authsec_response>,
}

/// Start filtering the handler's answer to an allowed request: pass the allow `decision`, the
/// answer's Content-Type and Content-Encoding (NULL with 0 when absent). On `AUTHSEC_STATUS_OK`,
/// `*filter_out` receives a filter the caller frees with `authsec_response_filter_free`.
/// `AUTHSEC_STATUS_INVALID_ARGUMENT` when `decision` is not an allow decision.
///
/// Then feed every chunk of the body with `authsec_response_filter_feed` and call
/// `authsec_response_filter_finish` once. Before sending the head: drop Content-Length unless
/// `authsec_response_filter_passthrough` is true (for a held JSON answer, send the length of what
/// finish returns), and drop Content-Encoding when `authsec_response_filter_drops_content_encoding`
/// is true. A non-OK status from feed or finish means: forward nothing more (answer 500, or close
/// the stream when bytes were sent).
///
/// # Safety
/// `rt` and `decision` are live; pointer/length pairs are readable; `filter_out` is writable;
/// `err_out` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn authsec_runtime_response_filter(
    rt: *const authsec_runtime,
    decision: *const authsec_decision,
    content_type: *const libc::c_char,
    content_type_len: usize,
    content_encoding: *const libc::c_char,
    content_encoding_len: usize,
    filter_out: *mut *mut authsec_response_filter,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(filter_out, "filter_out")?;
        let rt = arg_ref!(rt, "runtime");
        // SAFETY: decision is NULL or live, per the contract.
        let allow = unsafe { decision_allow(decision) }?;
        let ct = arg_str!(content_type, content_type_len, "content type");
        let ce = arg_str!(content_encoding, content_encoding_len, "content encoding");
        let inner = rt.core.response_filter(
            allow.principal.clone(),
            allow.tools_list_request,
            (!content_type.is_null()).then_some(ct),
            (!content_encoding.is_null()).then_some(ce),
        );
        let f = authsec_response_filter {
            inner,
            out: Vec::new(),
            refused: None,
        };
        write_out(filter_out, Box::into_raw(Box::new(f)))
    })
}

/// Write the outcome of a feed or finish.
fn step(
    f: &mut authsec_response_filter,
    result: Result<Vec<u8>, Response>,
    forward_out: *mut authsec_bytes,
    response_out: *mut *const authsec_response,
) -> Result<(), Fail> {
    match result {
        Ok(bytes) => {
            f.out = bytes;
            write_out(response_out, std::ptr::null())?;
            write_out(forward_out, authsec_bytes::from(&f.out[..]))
        }
        Err(r) => {
            f.out.clear();
            let r: &authsec_response = f.refused.get_or_insert(authsec_response::from(r));
            write_out(forward_out, authsec_bytes::EMPTY)?;
            write_out(response_out, r as *const authsec_response)
        }
    }
}

/// Feed the next `chunk` of the handler's body. On `AUTHSEC_STATUS_OK` either `*response_out`
/// is NULL and `*forward_out` holds the bytes to forward now (often empty: an SSE event is
/// forwarded once complete, a JSON tools/list answer at finish), or `*response_out` is a response
/// to write instead of the handler's answer (502 `bad_gateway` for an answer that cannot be read,
/// 503 when policy is unavailable): forward nothing more; if bytes were already sent, close the
/// stream. Both are borrowed from the filter until its next call or its free.
///
/// # Safety
/// `filter` is a live filter used by no other thread; `chunk` points to `chunk_len` readable
/// bytes; `forward_out` and `response_out` are writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_feed(
    filter: *mut authsec_response_filter,
    chunk: *const u8,
    chunk_len: usize,
    forward_out: *mut authsec_bytes,
    response_out: *mut *const authsec_response,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(forward_out, "forward_out")?;
        check_out(response_out, "response_out")?;
        let f = arg_mut!(filter, "filter");
        let chunk = arg_bytes!(chunk, chunk_len, "chunk");
        let r = f.inner.feed(chunk);
        step(f, r, forward_out, response_out)
    })
}

/// The end of the handler's body: the last bytes to forward (for a JSON tools/list answer, the
/// whole filtered body), or a response to write instead, as for `authsec_response_filter_feed`.
///
/// # Safety
/// As for `authsec_response_filter_feed`.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_finish(
    filter: *mut authsec_response_filter,
    forward_out: *mut authsec_bytes,
    response_out: *mut *const authsec_response,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(forward_out, "forward_out")?;
        check_out(response_out, "response_out")?;
        let f = arg_mut!(filter, "filter");
        let r = f.inner.finish();
        step(f, r, forward_out, response_out)
    })
}

/// True when the filter leaves the answer alone (open policy, or a non-SSE answer to a request
/// without tools/list): the host may forward the handler's bytes and headers itself. False for a
/// NULL filter.
///
/// # Safety
/// `filter` is NULL or a live filter.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_passthrough(
    filter: *const authsec_response_filter,
) -> bool {
    accessor(false, || {
        opt_ref!(filter).is_some_and(|f| f.inner.passthrough())
    })
}

/// True when the filter decodes the answer's Content-Encoding (gzip, deflate, br): the bytes it
/// returns are decoded; drop the Content-Encoding header. True for a NULL filter (never send a
/// header that could be wrong).
///
/// # Safety
/// `filter` is NULL or a live filter.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_drops_content_encoding(
    filter: *const authsec_response_filter,
) -> bool {
    accessor(true, || {
        opt_ref!(filter).is_none_or(|f| f.inner.drops_content_encoding())
    })
}

/// True when nothing is forwarded before finish (a JSON answer to tools/list; send its
/// Content-Length from what finish returns). True for a NULL filter.
///
/// # Safety
/// `filter` is NULL or a live filter.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_holds_body(
    filter: *const authsec_response_filter,
) -> bool {
    accessor(true, || {
        opt_ref!(filter).is_none_or(|f| f.inner.holds_body())
    })
}

/// Free a filter. NULL is fine; freeing twice is not.
///
/// # Safety
/// `filter` is NULL or a live filter from this library.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_filter_free(filter: *mut authsec_response_filter) {
    accessor((), || {
        if !filter.is_null() {
            // SAFETY: from Box::into_raw in `authsec_runtime_response_filter`, freed once.
            drop(unsafe { Box::from_raw(filter) });
        }
    })
}

/// The answer to write while startup has failed (503 `temporarily_unavailable`, no challenge),
/// the same bytes in every binding. `*response_out` receives an owned response (free with
/// `authsec_response_free`).
///
/// # Safety
/// `response_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_startup_failed(
    response_out: *mut *mut authsec_response,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        write_out(
            response_out,
            authsec_response::boxed(Response::startup_failed()),
        )
    })
}

/// The answer to write when a call into the library failed (any non-OK status on the request
/// path): 500 `server_error`, a fixed description. `*response_out` receives an owned response.
///
/// # Safety
/// `response_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_internal_error(
    response_out: *mut *mut authsec_response,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        write_out(
            response_out,
            authsec_response::boxed(Response::internal_error()),
        )
    })
}

/// Filter the handler's whole answer to an allowed request (the one-shot form of
/// `authsec_runtime_response_filter`, for an answer without Content-Encoding): pass the allow
/// `decision` it was made for, the answer's Content-Type (NULL with 0 when absent) and body
/// (JSON or a `text/event-stream`). An SSE answer is always filtered, a JSON one when the request
/// contained tools/list; an answer that must be read and cannot be gives kind `RESPOND` (502). On `AUTHSEC_STATUS_OK`, `*result_out` receives a result the
/// caller frees with `authsec_filter_result_free`. `AUTHSEC_STATUS_INVALID_ARGUMENT` when
/// `decision` is not an allow decision.
///
/// # Safety
/// `rt` and `decision` are live; pointer/length pairs are readable; `result_out` is writable;
/// `err_out` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn authsec_runtime_filter_response(
    rt: *const authsec_runtime,
    decision: *const authsec_decision,
    content_type: *const libc::c_char,
    content_type_len: usize,
    body: *const u8,
    body_len: usize,
    result_out: *mut *mut authsec_filter_result,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(result_out, "result_out")?;
        let rt: &authsec_runtime = arg_ref!(rt, "runtime");
        // SAFETY: `decision` is NULL or a live decision, per this function's contract.
        let allow = unsafe { decision_allow(decision) }?;
        let ct = arg_str!(content_type, content_type_len, "content type");
        let body = arg_bytes!(body, body_len, "body");
        let ct = (!content_type.is_null()).then_some(ct);
        let result = match rt.core.filter_allowed_response(allow, ct, body) {
            FilterOutcome::Unchanged => authsec_filter_result {
                kind: authsec_filter_kind::Unchanged,
                body: Vec::new(),
                response: None,
            },
            FilterOutcome::Rewritten(b) => authsec_filter_result {
                kind: authsec_filter_kind::Rewritten,
                body: b,
                response: None,
            },
            FilterOutcome::Respond(r) => authsec_filter_result {
                kind: authsec_filter_kind::Respond,
                body: Vec::new(),
                response: Some(authsec_response::from(r)),
            },
            // An outcome this library version does not know: never forward, refuse.
            _ => authsec_filter_result {
                kind: authsec_filter_kind::Respond,
                body: Vec::new(),
                response: Some(authsec_response::from(Response::internal_error())),
            },
        };
        write_out(result_out, Box::into_raw(Box::new(result)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_handles_are_refused_or_neutral() {
        let mut fwd = authsec_bytes::EMPTY;
        let mut resp: *const authsec_response = std::ptr::null();
        // SAFETY: NULL filter; outputs are writable.
        let st = unsafe {
            authsec_response_filter_feed(
                std::ptr::null_mut(),
                std::ptr::null(),
                0,
                &mut fwd,
                &mut resp,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(st, authsec_status::NullParameter);
        // SAFETY: NULL is accepted by the accessors and free.
        unsafe {
            assert!(!authsec_response_filter_passthrough(std::ptr::null()));
            assert!(authsec_response_filter_drops_content_encoding(
                std::ptr::null()
            ));
            authsec_response_filter_free(std::ptr::null_mut());
        }
    }
}

//! `authsec_decision` (what the host does with a request), `authsec_response` (an answer the
//! runtime writes itself) and `authsec_filter_result` (a `tools/list` answer after filtering).

use std::sync::{Arc, OnceLock};

use libc::c_char;

use authsec_core::{Allow, Decision, Principal, Response};

use crate::boundary::{accessor, call, check_out, opt_ref, write_out};
use crate::status::{authsec_status, Fail};
use crate::text::{authsec_bytes, authsec_str};

/// The kind of a decision.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum authsec_decision_kind {
    /// Call the MCP handler with the original body; the principal is available.
    Allow = 1,
    /// Write the decision's response; do not call the handler.
    Respond = 2,
    /// Call the handler with the original body and no principal (handshake pass-through).
    PassThrough = 3,
}

/// The decision for one request. **Ownership:** owned by the caller, freed with
/// `authsec_decision_free`; everything borrowed from it lives until then. **Thread safety:**
/// read-only; may be read from several threads.
pub struct authsec_decision {
    kind: authsec_decision_kind,
    allow: Option<Allow>,
    response: Option<authsec_response>,
    principal_json: OnceLock<String>,
}

impl authsec_decision {
    pub(crate) fn boxed(decision: Decision) -> *mut authsec_decision {
        let (kind, allow, response) = match decision {
            Decision::Allow(a) => (authsec_decision_kind::Allow, Some(a), None),
            Decision::Respond(r) => (
                authsec_decision_kind::Respond,
                None,
                Some(authsec_response::from(r)),
            ),
            Decision::PassThrough => (authsec_decision_kind::PassThrough, None, None),
            // A decision this library version does not know: refuse with the core's 500.
            _ => (
                authsec_decision_kind::Respond,
                None,
                Some(authsec_response::from(Response::internal_error())),
            ),
        };
        Box::into_raw(Box::new(authsec_decision {
            kind,
            allow,
            response,
            principal_json: OnceLock::new(),
        }))
    }

    pub(crate) fn principal(&self) -> Option<&Arc<Principal>> {
        self.allow.as_ref().map(|a| &a.principal)
    }
}

/// An HTTP answer: status, headers (lower-case names) and body. **Ownership:** owned by the
/// caller when returned by `authsec_runtime_metadata` (free with `authsec_response_free`);
/// borrowed from its parent when returned by `authsec_decision_response` or
/// `authsec_filter_result_response` (never free those). **Thread safety:** read-only.
pub struct authsec_response {
    inner: Response,
}

impl From<Response> for authsec_response {
    fn from(inner: Response) -> Self {
        authsec_response { inner }
    }
}

impl authsec_response {
    pub(crate) fn boxed(r: Response) -> *mut authsec_response {
        Box::into_raw(Box::new(authsec_response::from(r)))
    }
}

/// The outcome of filtering a `tools/list` answer.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum authsec_filter_kind {
    /// Forward the handler's body as it is.
    Unchanged = 1,
    /// Forward `authsec_filter_result_body` instead, with its length as Content-Length.
    Rewritten = 2,
    /// Write `authsec_filter_result_response` instead of the handler's answer (policy
    /// unavailable: 503; an answer that cannot be read: 502).
    Respond = 3,
}

/// A filtered `tools/list` answer. **Ownership:** owned by the caller, freed with
/// `authsec_filter_result_free`. **Thread safety:** read-only.
pub struct authsec_filter_result {
    pub(crate) kind: authsec_filter_kind,
    pub(crate) body: Vec<u8>,
    pub(crate) response: Option<authsec_response>,
}

/// The allow of an allow decision.
///
/// # Safety
/// `d` is NULL or a live decision.
pub(crate) unsafe fn decision_allow<'a>(d: *const authsec_decision) -> Result<&'a Allow, Fail> {
    let d = opt_ref!(d).ok_or_else(|| Fail::null("decision"))?;
    d.allow.as_ref().ok_or_else(|| {
        Fail::new(
            authsec_status::InvalidArgument,
            "filtering needs the allow decision of the request",
        )
    })
}

/// The kind of `decision`. A NULL decision reads as `AUTHSEC_DECISION_KIND_RESPOND` with no
/// response: never as allow.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_get_kind(
    decision: *const authsec_decision,
) -> authsec_decision_kind {
    accessor(authsec_decision_kind::Respond, || {
        opt_ref!(decision).map_or(authsec_decision_kind::Respond, |d| d.kind)
    })
}

/// For an allow decision: whether the handler's answer must go through the response filter
/// (`authsec_runtime_response_filter`, or `authsec_runtime_filter_response` for a whole body):
/// true for every allowed request under a policy, since any SSE stream may carry a tools/list
/// result. False otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_filter_tools_list(
    decision: *const authsec_decision,
) -> bool {
    accessor(false, || {
        opt_ref!(decision)
            .and_then(|d| d.allow.as_ref())
            .is_some_and(|a| a.filter_tools_list)
    })
}

/// For an allow decision: whether the handler's answer with this Content-Type (NULL with 0 when
/// absent) must go through `authsec_runtime_response_filter`. False means the filter would pass
/// the answer unchanged (the usual case: the JSON answer to a `tools/call`), so the host may
/// forward it without creating one. True on any doubt: a NULL or non-allow decision, or a
/// Content-Type that is not readable UTF-8 (creating the filter then says what is wrong).
///
/// # Safety
/// `decision` is NULL or a live decision; `content_type` is NULL or readable for
/// `content_type_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_filter_reads(
    decision: *const authsec_decision,
    content_type: *const c_char,
    content_type_len: usize,
) -> bool {
    accessor(true, || {
        let Some(allow) = opt_ref!(decision).and_then(|d| d.allow.as_ref()) else {
            return true;
        };
        // SAFETY: the caller guarantees `content_type` is NULL or readable for its length.
        match unsafe { crate::text::str_in(content_type, content_type_len, "content type") } {
            Ok(ct) => allow.reads_response((!content_type.is_null()).then_some(ct)),
            Err(_) => true,
        }
    })
}

/// For an allow decision: the principal's subject (`sub`), borrowed until the decision is freed.
/// Empty otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_subject(
    decision: *const authsec_decision,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(decision)
            .and_then(|d| d.principal())
            .map_or(authsec_str::EMPTY, |p| authsec_str::from(&p.subject))
    })
}

/// For an allow decision: a text field of the principal read with the core's accessor.
///
/// # Safety
/// `decision` is NULL or a live decision.
unsafe fn principal_str(
    decision: *const authsec_decision,
    field: impl FnOnce(&Principal) -> &str,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(decision)
            .and_then(|d| d.principal())
            .map_or(authsec_str::EMPTY, |p| authsec_str::from(field(p)))
    })
}

/// For an allow decision: the principal's issuer (`iss`), borrowed until the decision is freed.
/// Empty otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_issuer(decision: *const authsec_decision) -> authsec_str {
    // SAFETY: `decision` is NULL or live, per this function's contract.
    unsafe { principal_str(decision, |p| &p.issuer) }
}

/// For an allow decision of a workload caller (authenticated with a JWT-SVID): its SPIFFE ID,
/// borrowed until the decision is freed. Empty for OAuth callers and other decisions.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_spiffe_id(
    decision: *const authsec_decision,
) -> authsec_str {
    // SAFETY: `decision` is NULL or live, per this function's contract.
    unsafe { principal_str(decision, |p| p.spiffe_id().unwrap_or("")) }
}

/// For an allow decision: the OAuth client the token was issued to (`client_id`, else `azp`,
/// else the subject: the core's `Principal::client_id`, what the MCP SDKs' `AuthInfo.clientId`
/// needs), borrowed until the decision is freed. Empty otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_client_id(
    decision: *const authsec_decision,
) -> authsec_str {
    // SAFETY: `decision` is NULL or live, per this function's contract.
    unsafe { principal_str(decision, |p| p.client_id()) }
}

/// For an allow decision whose token has a numeric `exp`: writes it (Unix seconds) to
/// `*expires_at_out` and returns true. Returns false, writing nothing, otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision; `expires_at_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_expires_at(
    decision: *const authsec_decision,
    expires_at_out: *mut u64,
) -> bool {
    accessor(false, || {
        let exp = opt_ref!(decision)
            .and_then(|d| d.principal())
            .and_then(|p| p.expires_at());
        match exp {
            Some(e) => write_out(expires_at_out, e).is_ok(),
            None => false,
        }
    })
}

/// For an allow decision: how many scopes the principal holds (0 otherwise).
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_scope_count(decision: *const authsec_decision) -> usize {
    accessor(0, || {
        opt_ref!(decision)
            .and_then(|d| d.principal())
            .map_or(0, |p| p.scopes.len())
    })
}

/// For an allow decision: scope `index` (in token order), borrowed until the decision is freed.
/// Empty when `index` is out of range or for other decisions.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_scope(
    decision: *const authsec_decision,
    index: usize,
) -> authsec_str {
    // SAFETY: `decision` is NULL or live, per this function's contract.
    unsafe { principal_str(decision, |p| p.scopes.get(index).map_or("", String::as_str)) }
}

/// For an allow decision: how many audiences the token names (0 otherwise).
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_audience_count(
    decision: *const authsec_decision,
) -> usize {
    accessor(0, || {
        opt_ref!(decision)
            .and_then(|d| d.principal())
            .map_or(0, |p| p.audience.len())
    })
}

/// For an allow decision: audience `index`, borrowed until the decision is freed. Empty when
/// `index` is out of range or for other decisions.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_audience(
    decision: *const authsec_decision,
    index: usize,
) -> authsec_str {
    // SAFETY: `decision` is NULL or live, per this function's contract.
    unsafe {
        principal_str(decision, |p| {
            p.audience.get(index).map_or("", String::as_str)
        })
    }
}

/// For an allow decision: the principal as a JSON object (`subject`, `issuer`, `audience`,
/// `scopes`, `claims`, `active`), borrowed until the decision is freed. Built on first use.
/// Empty otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_principal_json(
    decision: *const authsec_decision,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        let Some(d) = opt_ref!(decision) else {
            return authsec_str::EMPTY;
        };
        let Some(p) = d.principal() else {
            return authsec_str::EMPTY;
        };
        let json = d
            .principal_json
            .get_or_init(|| serde_json::to_string(&**p).unwrap_or_default());
        authsec_str::from(json)
    })
}

/// For a respond decision: the response to write, borrowed until the decision is freed (do not
/// free it). NULL otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_response(
    decision: *const authsec_decision,
) -> *const authsec_response {
    accessor(std::ptr::null(), || {
        opt_ref!(decision)
            .and_then(|d| d.response.as_ref())
            .map_or(std::ptr::null(), |r| r as *const authsec_response)
    })
}

/// Free a decision. NULL is fine; freeing twice is not.
///
/// # Safety
/// `decision` is NULL or a live decision from this library.
#[no_mangle]
pub unsafe extern "C" fn authsec_decision_free(decision: *mut authsec_decision) {
    accessor((), || {
        if !decision.is_null() {
            // SAFETY: from Box::into_raw in `authsec_decision::boxed`, freed once.
            drop(unsafe { Box::from_raw(decision) });
        }
    })
}

/// The HTTP status of `response`; 0 when NULL.
///
/// # Safety
/// `response` is NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_status(response: *const authsec_response) -> u16 {
    accessor(0, || opt_ref!(response).map_or(0, |r| r.inner.status))
}

/// The number of headers of `response`; 0 when NULL.
///
/// # Safety
/// `response` is NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_header_count(response: *const authsec_response) -> usize {
    accessor(0, || {
        opt_ref!(response).map_or(0, |r| r.inner.headers.len())
    })
}

/// Header `index` of `response` (lower-case name and value, borrowed from the response).
/// `AUTHSEC_STATUS_INVALID_ARGUMENT` when `index` is out of range; outputs unchanged on failure.
///
/// # Safety
/// `response` is a live response; `name_out` and `value_out` are writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_header(
    response: *const authsec_response,
    index: usize,
    name_out: *mut authsec_str,
    value_out: *mut authsec_str,
) -> authsec_status {
    call(std::ptr::null_mut(), || {
        check_out(name_out, "name_out")?;
        check_out(value_out, "value_out")?;
        let r = opt_ref!(response).ok_or_else(|| Fail::null("response"))?;
        let (name, value) = r.inner.headers.get(index).ok_or_else(|| {
            Fail::new(authsec_status::InvalidArgument, "header index out of range")
        })?;
        write_out(name_out, authsec_str::from(name))?;
        write_out(value_out, authsec_str::from(value))
    })
}

/// The body of `response`, borrowed from it; empty when NULL.
///
/// # Safety
/// `response` is NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_body(response: *const authsec_response) -> authsec_bytes {
    accessor(authsec_bytes::EMPTY, || {
        opt_ref!(response).map_or(authsec_bytes::EMPTY, |r| {
            authsec_bytes::from(&r.inner.body[..])
        })
    })
}

/// Free a response returned by `authsec_runtime_metadata`. NULL is fine. Never pass a response
/// borrowed from a decision or a filter result.
///
/// # Safety
/// `response` is NULL or an owned response from this library, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_response_free(response: *mut authsec_response) {
    accessor((), || {
        if !response.is_null() {
            // SAFETY: from Box::into_raw in `authsec_response::boxed`, freed once.
            drop(unsafe { Box::from_raw(response) });
        }
    })
}

/// The kind of `result`; `AUTHSEC_FILTER_KIND_RESPOND` with no response when NULL (never
/// "forward").
///
/// # Safety
/// `result` is NULL or a live filter result.
#[no_mangle]
pub unsafe extern "C" fn authsec_filter_result_get_kind(
    result: *const authsec_filter_result,
) -> authsec_filter_kind {
    accessor(authsec_filter_kind::Respond, || {
        opt_ref!(result).map_or(authsec_filter_kind::Respond, |r| r.kind)
    })
}

/// The rewritten body (kind `REWRITTEN`), borrowed from `result`; empty otherwise.
///
/// # Safety
/// `result` is NULL or a live filter result.
#[no_mangle]
pub unsafe extern "C" fn authsec_filter_result_body(
    result: *const authsec_filter_result,
) -> authsec_bytes {
    accessor(authsec_bytes::EMPTY, || {
        opt_ref!(result).map_or(authsec_bytes::EMPTY, |r| authsec_bytes::from(&r.body[..]))
    })
}

/// The response to write instead (kind `RESPOND`), borrowed from `result`; NULL otherwise.
///
/// # Safety
/// `result` is NULL or a live filter result.
#[no_mangle]
pub unsafe extern "C" fn authsec_filter_result_response(
    result: *const authsec_filter_result,
) -> *const authsec_response {
    accessor(std::ptr::null(), || {
        opt_ref!(result)
            .and_then(|r| r.response.as_ref())
            .map_or(std::ptr::null(), |r| r as *const authsec_response)
    })
}

/// Free a filter result. NULL is fine; freeing twice is not.
///
/// # Safety
/// `result` is NULL or a live filter result from this library.
#[no_mangle]
pub unsafe extern "C" fn authsec_filter_result_free(result: *mut authsec_filter_result) {
    accessor((), || {
        if !result.is_null() {
            // SAFETY: from Box::into_raw in `authsec_runtime_filter_response`, freed once.
            drop(unsafe { Box::from_raw(result) });
        }
    })
}

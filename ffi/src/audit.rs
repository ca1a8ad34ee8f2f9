//! The audit trail and the metrics through the C ABI: a C function pointer as an audit sink,
//! flushing the audit queue, and the Prometheus text of a runtime's metrics. The core writes
//! every byte; this file only carries them (`docs/audit.md`).

use std::sync::Arc;
use std::time::Duration;

use crate::boundary::{arg_ref, call, check_out, write_out};
use crate::error::authsec_error;
use crate::runtime::authsec_runtime;
use crate::status::{authsec_status, Fail};
use crate::text::authsec_text;

/// An audit callback: `line` points to `len` bytes of UTF-8, one JSON object followed by `\n`
/// (not NUL-terminated), valid only during the call. Called on the runtime's audit thread, one
/// line at a time, in order; it may block (the bounded queue absorbs it, then drops and counts)
/// and must not call back into the same runtime's `authsec_runtime_flush_audit`.
pub type authsec_audit_callback = Option<
    unsafe extern "C" fn(user_data: *mut libc::c_void, line: *const libc::c_char, len: usize),
>;

/// A C callback with its context, called from the audit thread.
struct CSink {
    f: unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char, usize),
    user_data: usize,
}

impl authsec_core::AuditSink for CSink {
    fn write(&self, line: &str) {
        // SAFETY: the caller of `authsec_runtime_add_audit_callback` promised a callable
        // function and a context valid until the runtime is freed; the line outlives the call.
        unsafe {
            (self.f)(
                self.user_data as *mut libc::c_void,
                line.as_ptr().cast(),
                line.len(),
            )
        }
    }
}

/// Deliver every later audit event of `rt` to `callback` (with `user_data`), on the runtime's
/// audit thread. Several callbacks may be attached; there is no removal: `user_data` must stay
/// valid until `authsec_runtime_free(rt)` has returned (which delivers what is queued, at most
/// 5 s, and detaches every callback first). `AUTHSEC_STATUS_NULL_PARAMETER` for a NULL
/// callback.
///
/// # Safety
/// `rt` is a live runtime; `callback` is NULL or callable from any thread with `user_data`;
/// `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_add_audit_callback(
    rt: *const authsec_runtime,
    callback: authsec_audit_callback,
    user_data: *mut libc::c_void,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let f = callback.ok_or_else(|| Fail::null("callback"))?;
        rt.core
            .add_audit_sink(Arc::new(CSink {
                f,
                user_data: user_data as usize,
            }))
            .map_err(Fail::from)
    })
}

/// Wait until every audit event queued before this call has reached every callback (and the
/// `audit_log` file is flushed), at most `timeout_ms` milliseconds. `*completed_out` (optional)
/// says whether it completed. May block; never call it from an audit callback.
///
/// # Safety
/// `rt` is a live runtime; `completed_out` and `err_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_flush_audit(
    rt: *const authsec_runtime,
    timeout_ms: u64,
    completed_out: *mut bool,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let done = rt.core.flush_audit(Duration::from_millis(timeout_ms));
        if !completed_out.is_null() {
            write_out(completed_out, done)?;
        }
        Ok(())
    })
}

/// The runtime's metrics in the Prometheus text format 0.0.4 (serve with `Content-Type:
/// text/plain; version=0.0.4; charset=utf-8`): `*metrics_out` receives a text the caller frees
/// with `authsec_text_free`.
///
/// # Safety
/// `rt` is a live runtime; `metrics_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_metrics(
    rt: *const authsec_runtime,
    metrics_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        check_out(metrics_out, "metrics_out")?;
        write_out(metrics_out, authsec_text::boxed(rt.core.metrics_text()))
    })
}

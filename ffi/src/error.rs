//! `authsec_error`: the optional detail of a failed call (a status and a message).

use crate::boundary::opt_ref;
use crate::status::authsec_status;
use crate::text::authsec_str;

/// Why a call failed. **Ownership:** returned through `err_out`, owned by the caller, freed with
/// `authsec_error_free`. **Thread safety:** read-only. The message never contains a token or a
/// secret.
pub struct authsec_error {
    pub(crate) status: authsec_status,
    pub(crate) message: String,
}

/// The status of `err`; `AUTHSEC_STATUS_NULL_PARAMETER` when `err` is NULL.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_error_code(err: *const authsec_error) -> authsec_status {
    crate::boundary::accessor(authsec_status::NullParameter, || {
        opt_ref!(err).map_or(authsec_status::NullParameter, |e| e.status)
    })
}

/// The message of `err`, borrowed until `err` is freed; empty when `err` is NULL.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_error_message(err: *const authsec_error) -> authsec_str {
    crate::boundary::accessor(authsec_str::EMPTY, || {
        opt_ref!(err).map_or(authsec_str::EMPTY, |e| authsec_str::from(&e.message))
    })
}

/// Free an error. NULL is fine; freeing twice is not.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_error_free(err: *mut authsec_error) {
    crate::boundary::accessor((), || {
        if !err.is_null() {
            // SAFETY: the pointer came from Box::into_raw in `boundary::report` and is freed once.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

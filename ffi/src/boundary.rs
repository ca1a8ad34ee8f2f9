//! The panic boundary every exported function runs inside, and the reporting of failures
//! through the optional `err_out` parameter.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::authsec_error;
use crate::status::{authsec_status, Fail};

/// Run a fallible exported body: a failure or a caught panic becomes a status, and, when
/// `err_out` is not NULL, a new `authsec_error`. In a forked child the body does not run at all
/// (`AUTHSEC_STATUS_FORKED_PROCESS`, see `fork`): one rule for every fallible entry point.
pub(crate) fn call(
    err_out: *mut *mut authsec_error,
    f: impl FnOnce() -> Result<(), Fail>,
) -> authsec_status {
    let guarded = || {
        crate::fork::check_not_forked()?;
        f()
    };
    let fail = match catch_unwind(AssertUnwindSafe(guarded)) {
        Ok(Ok(())) => return authsec_status::Ok,
        Ok(Err(fail)) => fail,
        Err(_) => Fail::new(
            authsec_status::Panic,
            "internal panic caught at the C boundary (a bug in authsec); deny the request",
        ),
    };
    let status = fail.status;
    if !err_out.is_null() {
        let err = Box::into_raw(Box::new(authsec_error {
            status,
            message: fail.message,
        }));
        // SAFETY: err_out is not NULL and, by the calling convention, points to writable storage
        // for one pointer.
        unsafe { err_out.write(err) };
    }
    status
}

/// Run an infallible accessor: a caught panic gives `default`.
pub(crate) fn accessor<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// Write an out-parameter after checking it is not NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null("out-parameter"));
    }
    // SAFETY: out is not NULL and points to storage the caller provided for one T.
    unsafe { out.write(value) };
    Ok(())
}

/// Check an out-parameter before doing any work, so a NULL one fails without side effects.
pub(crate) fn check_out<T>(out: *mut T, name: &str) -> Result<(), Fail> {
    if out.is_null() {
        Err(Fail::null(name))
    } else {
        Ok(())
    }
}

/// Borrow a `(pointer, length)` UTF-8 string argument of an exported function; returns early
/// with the failure (`NULL_PARAMETER` for NULL with a length, `INVALID_UTF8`).
macro_rules! arg_str {
    ($ptr:expr, $len:expr, $what:expr) => {
        // SAFETY: every exported function's `# Safety` section requires each pointer/length
        // argument to be NULL (with length 0) or readable for its length during the call.
        unsafe { $crate::text::str_in($ptr, $len, $what) }?
    };
}
pub(crate) use arg_str;

/// Borrow a `(pointer, length)` bytes argument of an exported function; returns early with
/// `NULL_PARAMETER` for NULL with a length.
macro_rules! arg_bytes {
    ($ptr:expr, $len:expr, $what:expr) => {
        // SAFETY: as for `arg_str`.
        unsafe { $crate::text::bytes_in($ptr, $len, $what) }?
    };
}
pub(crate) use arg_bytes;

/// Borrow a handle argument (`*const T` or `*mut T` from this library); returns early with
/// `NULL_PARAMETER` naming `$what` when it is NULL.
macro_rules! arg_ref {
    ($ptr:expr, $what:expr) => {
        // SAFETY: every exported function's `# Safety` section requires handle arguments to be
        // NULL or live handles from this library that the caller has not freed.
        unsafe { $ptr.as_ref() }.ok_or_else(|| $crate::status::Fail::null($what))?
    };
}
pub(crate) use arg_ref;

/// Borrow a handle argument mutably (handles documented as "not used by another thread");
/// returns early with `NULL_PARAMETER` naming `$what` when it is NULL.
macro_rules! arg_mut {
    ($ptr:expr, $what:expr) => {
        // SAFETY: as for `arg_ref`; the function's contract also gives this call exclusive use.
        unsafe { $ptr.as_mut() }.ok_or_else(|| $crate::status::Fail::null($what))?
    };
}
pub(crate) use arg_mut;

/// A handle argument of an accessor as an `Option` (accessors answer a neutral value for NULL).
macro_rules! opt_ref {
    ($ptr:expr) => {
        // SAFETY: as for `arg_ref`.
        unsafe { $ptr.as_ref() }
    };
}
pub(crate) use opt_ref;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_status_with_an_error_and_no_payload() {
        let mut err: *mut authsec_error = std::ptr::null_mut();
        let st = call(&mut err, || panic!("secret-token-abc"));
        assert_eq!(st, authsec_status::Panic);
        // SAFETY: `call` stored a live error.
        let e = unsafe { Box::from_raw(err) };
        assert_eq!(e.status, authsec_status::Panic);
        assert!(!e.message.contains("secret-token-abc"));
        assert_eq!(accessor(7u8, || panic!("x")), 7);
        assert_eq!(
            call(std::ptr::null_mut(), || panic!("x")),
            authsec_status::Panic
        );
    }
}

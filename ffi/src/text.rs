//! Strings and bytes across the boundary: borrowed views out (`authsec_str`, `authsec_bytes`),
//! pointer + length in, and `authsec_text`, an owned text handle for JSON results.

use crate::status::{authsec_status, Fail};

/// A borrowed UTF-8 string: not NUL-terminated, valid until the handle it came from is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct authsec_str {
    /// The first byte (never NULL, even when `len` is 0).
    pub data: *const libc::c_char,
    /// The length in bytes.
    pub len: usize,
}

impl authsec_str {
    pub(crate) const EMPTY: authsec_str = authsec_str {
        data: c"".as_ptr(),
        len: 0,
    };
}

impl From<&str> for authsec_str {
    fn from(s: &str) -> Self {
        if s.is_empty() {
            return authsec_str::EMPTY;
        }
        authsec_str {
            data: s.as_ptr().cast(),
            len: s.len(),
        }
    }
}

impl From<&String> for authsec_str {
    fn from(s: &String) -> Self {
        authsec_str::from(s.as_str())
    }
}

/// Borrowed bytes: valid until the handle they came from is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct authsec_bytes {
    /// The first byte (never NULL, even when `len` is 0).
    pub data: *const u8,
    /// The length in bytes.
    pub len: usize,
}

impl authsec_bytes {
    pub(crate) const EMPTY: authsec_bytes = authsec_bytes {
        data: c"".as_ptr().cast(),
        len: 0,
    };
}

impl From<&[u8]> for authsec_bytes {
    fn from(b: &[u8]) -> Self {
        if b.is_empty() {
            return authsec_bytes::EMPTY;
        }
        authsec_bytes {
            data: b.as_ptr(),
            len: b.len(),
        }
    }
}

/// Borrow `len` bytes at `ptr` (NULL allowed only when `len` is 0).
///
/// # Safety
/// When not NULL, `ptr` points to `len` readable bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes_in<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Fail> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Fail::null(what))
        };
    }
    // SAFETY: guaranteed by the caller (see above); ptr is not NULL.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrow UTF-8 text at `ptr`.
///
/// # Safety
/// As for [`bytes_in`].
pub(crate) unsafe fn str_in<'a>(
    ptr: *const libc::c_char,
    len: usize,
    what: &str,
) -> Result<&'a str, Fail> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes_in(ptr.cast(), len, what) }?;
    std::str::from_utf8(bytes).map_err(|_| {
        Fail::new(
            authsec_status::InvalidUtf8,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Owned text returned by the library (JSON documents such as startup warnings or a manifest
/// report). **Ownership:** owned by the caller, freed with `authsec_text_free`. **Thread
/// safety:** read-only.
pub struct authsec_text {
    pub(crate) text: String,
}

impl authsec_text {
    pub(crate) fn boxed(text: String) -> *mut authsec_text {
        Box::into_raw(Box::new(authsec_text { text }))
    }
}

/// The text, borrowed until `text` is freed; empty when `text` is NULL.
///
/// # Safety
/// `text` is NULL or a live `authsec_text` from this library.
#[no_mangle]
pub unsafe extern "C" fn authsec_text_str(text: *const authsec_text) -> authsec_str {
    crate::boundary::accessor(authsec_str::EMPTY, || {
        // SAFETY: NULL or live, per the contract.
        unsafe { text.as_ref() }.map_or(authsec_str::EMPTY, |t| authsec_str::from(&t.text))
    })
}

/// Free a text. NULL is fine; freeing twice is not.
///
/// # Safety
/// `text` is NULL or a live `authsec_text` from this library.
#[no_mangle]
pub unsafe extern "C" fn authsec_text_free(text: *mut authsec_text) {
    crate::boundary::accessor((), || {
        if !text.is_null() {
            // SAFETY: from Box::into_raw in `authsec_text::boxed`, freed once.
            drop(unsafe { Box::from_raw(text) });
        }
    })
}

/// The library version, `"authsec/<major>.<minor>.<patch>"`, static.
#[no_mangle]
pub extern "C" fn authsec_version() -> authsec_str {
    authsec_str::from(concat!("authsec/", env!("CARGO_PKG_VERSION")))
}

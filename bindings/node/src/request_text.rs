//! The text of a `check` request (method, path and the joined header block), read from its JS
//! strings into one reused buffer.
//!
//! napi-rs converts a `String` argument with two `napi_get_value_string_utf8` calls (one to
//! measure, one to copy) into a freshly allocated and zeroed `Vec`, three times per `check`.
//! Here each string is copied once, straight into a per-thread buffer that keeps its capacity
//! between requests, so the hot path allocates nothing for the request's text; the buffer is
//! measured and grown only when a string does not fit.
//!
//! The header block is `name\0value\0...` (the JS layer joins the flat list), with the number of
//! fields alongside: a name or value containing NUL (never valid HTTP, but a caller may pass
//! one) splits into more fields than were joined, and the block is then refused here
//! ([`RequestText::pairs`] is `None`) so the JS layer sends the list form, which keeps it exact.

use std::cell::RefCell;
use std::ops::Range;

use napi::{check_status, sys, Result};

/// Capacity the per-thread buffer keeps between requests; a larger request's buffer is freed.
const KEEP_MAX: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Append the UTF-8 of the JS string `value` to `buf` (V8 writes well-formed UTF-8: a lone
/// surrogate becomes U+FFFD) and give its range. Fails (`StringExpected`) when `value` is not a
/// string.
///
/// # Safety
/// `env` and `value` must be the live handles of the current N-API call.
unsafe fn append_utf8(
    env: sys::napi_env,
    value: sys::napi_value,
    buf: &mut Vec<u8>,
) -> Result<Range<usize>> {
    let start = buf.len();
    let spare = buf.capacity() - start;
    let mut written = 0usize;
    if spare > 4 {
        // SAFETY: the pointer and `spare` describe the vector's unused capacity; N-API writes
        // at most `spare - 1` bytes and a NUL, and reports how many bytes (without the NUL).
        check_status!(unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().add(start).cast(),
                spare,
                &mut written,
            )
        })?;
        // V8 stops before a character that does not fit (at most 4 bytes). With 4 bytes of room
        // still free after what it wrote, nothing was left out.
        if written + 4 < spare {
            // SAFETY: `written` bytes after `start` were just initialised by N-API.
            unsafe { buf.set_len(start + written) };
            return Ok(start..start + written);
        }
    }
    let mut len = 0usize;
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(env, value, std::ptr::null_mut(), 0, &mut len)
    })?;
    // Room for the NUL and the 4 bytes the first try needs free, so the next request of this
    // size is read in one call.
    buf.reserve(len + 1 + 4);
    // SAFETY: as above, with room for the whole string and its NUL.
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            buf.as_mut_ptr().add(start).cast(),
            len + 1,
            &mut written,
        )
    })?;
    // SAFETY: `written` (<= len) bytes after `start` were just initialised by N-API.
    unsafe { buf.set_len(start + written) };
    Ok(start..start + written)
}

/// A `check` request's method, path and header block, borrowed from the per-thread buffer.
pub(crate) struct RequestText<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// The header pairs, or `None` when the block does not split into `fields` fields.
    pub(crate) pairs: Option<Vec<(&'a str, &'a str)>>,
}

/// Read the three strings and call `f` with them. The buffer is the calling thread's; a nested
/// call (none today: the core never calls back into JS synchronously) gets a buffer of its own.
///
/// # Safety
/// `env` and the three values must be the live handles of the current N-API call.
pub(crate) unsafe fn with_request_text<T>(
    env: sys::napi_env,
    method: sys::napi_value,
    path: sys::napi_value,
    headers: sys::napi_value,
    fields: u32,
    f: impl FnOnce(RequestText<'_>) -> T,
) -> Result<T> {
    SCRATCH.with(|cell| {
        let mut own = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let buf: &mut Vec<u8> = match guard.as_deref_mut() {
            Some(b) => b,
            None => &mut own,
        };
        buf.clear();
        let ranges = (|| {
            Ok::<_, napi::Error>([
                unsafe { append_utf8(env, method, buf) }?,
                unsafe { append_utf8(env, path, buf) }?,
                unsafe { append_utf8(env, headers, buf) }?,
            ])
        })();
        let out = ranges.and_then(|[m, p, h]| {
            let text = |r: Range<usize>| {
                std::str::from_utf8(&buf[r]).map_err(|_| {
                    napi::Error::new(napi::Status::InvalidArg, "request text is not UTF-8")
                })
            };
            let block = text(h)?;
            Ok(f(RequestText {
                method: text(m)?,
                path: text(p)?,
                pairs: split_headers(block, fields),
            }))
        });
        if buf.capacity() > KEEP_MAX {
            *buf = Vec::new();
        }
        out
    })
}

/// Split a header block `name\0value\0name\0value...` into pairs, or `None` when it does not
/// have exactly `fields` fields (a name or value contained NUL) or `fields` is odd.
pub(crate) fn split_headers(block: &str, fields: u32) -> Option<Vec<(&str, &str)>> {
    let fields = fields as usize;
    if !fields.is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(fields / 2);
    if block.is_empty() {
        return (fields == 0).then_some(out);
    }
    let mut it = block.split('\0');
    while let Some(k) = it.next() {
        let v = it.next()?;
        if out.len() == fields / 2 {
            return None;
        }
        out.push((k, v));
    }
    (out.len() == fields / 2).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::split_headers;

    #[test]
    fn header_block() {
        assert_eq!(split_headers("", 0), Some(vec![]));
        assert_eq!(split_headers("", 2), None);
        assert_eq!(
            split_headers("a\0b\0c\0", 4),
            Some(vec![("a", "b"), ("c", "")])
        );
        assert_eq!(split_headers("a\0\0\0", 4), Some(vec![("a", ""), ("", "")]));
        // A value with a NUL in it: more fields than were joined.
        assert_eq!(split_headers("a\0b\0x\0c\0d", 4), None);
        // Fewer fields than said, an odd count, an odd block.
        assert_eq!(split_headers("a\0b", 4), None);
        assert_eq!(split_headers("a\0b\0c", 3), None);
        assert_eq!(split_headers("a\0b\0c", 4), None);
    }
}

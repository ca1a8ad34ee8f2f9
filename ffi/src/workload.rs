//! `authsec_workload`: the workload's X.509-SVID from the SPIFFE Workload API (an
//! `authsec_core::WorkloadIdentity`), kept current in the background on the hidden runtime, with
//! its PEMs, file paths and update counter; `authsec_svid`, one snapshot of it; JWT-SVID fetch.

use std::sync::Arc;
use std::time::Duration;

use authsec_core::{Svid, WorkloadIdentity, WorkloadOptions};

use crate::boundary::{accessor, arg_ref, arg_str, call, check_out, opt_ref, write_out};
use crate::error::authsec_error;
use crate::hidden;
use crate::status::{authsec_status, Fail};
use crate::text::{authsec_str, authsec_text};

/// A workload identity. **Ownership:** shared (reference counted); `authsec_workload_start`
/// gives the caller one reference, `authsec_workload_free` drops it (and stops following updates
/// when it was the last). **Thread safety:** every function taking a `const authsec_workload *`
/// may be called from any thread at once.
pub struct authsec_workload {
    core: WorkloadIdentity,
    dir: String,
    cert: String,
    key: String,
    bundle: String,
}

/// One X.509-SVID snapshot: SPIFFE ID, PEMs, expiry and version. **Ownership:** owned by the
/// caller, freed with `authsec_svid_free`; its strings are borrowed until then. Immutable.
pub struct authsec_svid {
    core: Arc<Svid>,
}

fn path_text(p: &std::path::Path) -> Result<String, Fail> {
    p.to_str().map(str::to_string).ok_or_else(|| {
        Fail::new(
            authsec_status::InvalidArgument,
            "the SVID directory path is not UTF-8",
        )
    })
}

/// Connect to the SPIFFE Workload API, wait for the first X.509-SVID, write it to files and keep
/// it current in the background. Blocks up to `timeout_ms` (0: 10 s).
///
/// `endpoint` is `unix:///path`, an absolute path or `tcp://ip:port`; empty (NULL with 0) or
/// `env` reads `SPIFFE_ENDPOINT_SOCKET`. `cert_dir` is the directory for `svid.crt`, `svid.key`
/// (mode 0600) and `ca.crt`, created with mode 0700 when missing; empty: a new private directory
/// under the system temporary directory (removed at shutdown).
///
/// On `AUTHSEC_STATUS_OK`, `*workload_out` receives a new workload identity (free it with
/// `authsec_workload_free`). Failures: `AUTHSEC_STATUS_WORKLOAD_NOT_CONFIGURED` (no socket given
/// nor in the environment: workload identity disabled), `AUTHSEC_STATUS_CONFIG_INVALID` (an
/// unusable socket string), `AUTHSEC_STATUS_WORKLOAD_API_UNAVAILABLE` (the agent did not answer,
/// refused this workload, or sent no SVID in time), `AUTHSEC_STATUS_INVALID_INPUT` (the
/// directory cannot be written), `AUTHSEC_STATUS_WRONG_THREAD_CONTEXT` (called from a thread
/// running a tokio runtime).
///
/// # Safety
/// `endpoint` and `cert_dir` point to their lengths of readable bytes (or are NULL with 0);
/// `workload_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_start(
    endpoint: *const libc::c_char,
    endpoint_len: usize,
    cert_dir: *const libc::c_char,
    cert_dir_len: usize,
    timeout_ms: u32,
    workload_out: *mut *const authsec_workload,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(workload_out, "workload_out")?;
        let endpoint = arg_str!(endpoint, endpoint_len, "endpoint").to_string();
        let dir = arg_str!(cert_dir, cert_dir_len, "cert_dir");
        let options = WorkloadOptions {
            endpoint,
            cert_dir: (!dir.trim().is_empty()).then(|| dir.into()),
            initial_timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into())),
        };
        let core = hidden::block_on(WorkloadIdentity::start(options))??;
        let files = core.files();
        let w = authsec_workload {
            dir: path_text(&files.dir)?,
            cert: path_text(&files.cert)?,
            key: path_text(&files.key)?,
            bundle: path_text(&files.bundle)?,
            core,
        };
        write_out(workload_out, Arc::into_raw(Arc::new(w)))
    })
}

/// The update counter: 1 after the first SVID, +1 for each new SVID or bundle the Workload API
/// sends. Reload TLS material when it changes. 0 for NULL.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_version(workload: *const authsec_workload) -> u64 {
    accessor(0, || opt_ref!(workload).map_or(0, |w| w.core.version()))
}

/// Wait until the update counter exceeds `after`, at most `timeout_ms`; returns the counter
/// (equal to `after` or less on timeout). Blocks; 0 for NULL or when called from a thread that
/// runs a tokio runtime.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_wait_update(
    workload: *const authsec_workload,
    after: u64,
    timeout_ms: u32,
) -> u64 {
    accessor(0, || {
        let Some(w) = opt_ref!(workload) else {
            return 0;
        };
        let wait = Duration::from_millis(timeout_ms.into());
        hidden::block_on(w.core.wait_update(after, wait)).unwrap_or(0)
    })
}

/// Whether the update stream is connected to the agent now (1) or not (0, also for NULL). While
/// it is not, the last SVID keeps serving until it expires.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_connected(workload: *const authsec_workload) -> bool {
    accessor(false, || {
        opt_ref!(workload).is_some_and(|w| w.core.connected())
    })
}

/// The current X.509-SVID. On `AUTHSEC_STATUS_OK`, `*svid_out` receives a snapshot (free it with
/// `authsec_svid_free`). `AUTHSEC_STATUS_SVID_EXPIRED` once the last SVID has expired without a
/// replacement.
///
/// # Safety
/// `workload` is a live workload identity; `svid_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_current(
    workload: *const authsec_workload,
    svid_out: *mut *mut authsec_svid,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(svid_out, "svid_out")?;
        let w = arg_ref!(workload, "workload");
        let core = w.core.current()?;
        write_out(svid_out, Box::into_raw(Box::new(authsec_svid { core })))
    })
}

/// The directory of the SVID files, borrowed until the workload identity is freed (empty for
/// NULL).
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_dir(workload: *const authsec_workload) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(workload).map_or(authsec_str::EMPTY, |w| authsec_str::from(&w.dir))
    })
}

/// The certificate chain file (`svid.crt`, PEM, leaf first), borrowed like
/// `authsec_workload_dir`.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_cert_file(
    workload: *const authsec_workload,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(workload).map_or(authsec_str::EMPTY, |w| authsec_str::from(&w.cert))
    })
}

/// The private key file (`svid.key`, PKCS#8 PEM, mode 0600), borrowed like
/// `authsec_workload_dir`.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_key_file(
    workload: *const authsec_workload,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(workload).map_or(authsec_str::EMPTY, |w| authsec_str::from(&w.key))
    })
}

/// The trust bundle file (`ca.crt`, PEM), borrowed like `authsec_workload_dir`.
///
/// # Safety
/// `workload` is NULL or a live workload identity.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_bundle_file(
    workload: *const authsec_workload,
) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(workload).map_or(authsec_str::EMPTY, |w| authsec_str::from(&w.bundle))
    })
}

/// Fetch a JWT-SVID of this workload for `audience` (e.g. an MCP server's resource URI) from the
/// Workload API. On `AUTHSEC_STATUS_OK`, `*token_out` receives the compact JWT (free it with
/// `authsec_text_free`). Blocks (bounded, 10 s).
///
/// # Safety
/// `workload` is a live workload identity; `audience` points to `audience_len` readable bytes;
/// `token_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_fetch_jwt_svid(
    workload: *const authsec_workload,
    audience: *const libc::c_char,
    audience_len: usize,
    token_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(token_out, "token_out")?;
        let w = arg_ref!(workload, "workload");
        let audience = arg_str!(audience, audience_len, "audience").to_string();
        let token = hidden::block_on(w.core.fetch_jwt_svid(&[audience]))??;
        write_out(token_out, authsec_text::boxed(token))
    })
}

/// Stop following updates and remove the SVID files (and the directory when the library created
/// it). The last snapshot stays readable with `authsec_workload_current` until it expires.
/// Idempotent. Blocks briefly.
///
/// # Safety
/// `workload` is a live workload identity; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_shutdown(
    workload: *const authsec_workload,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let w = arg_ref!(workload, "workload");
        hidden::block_on(w.core.shutdown())?;
        Ok(())
    })
}

/// Drop the caller's reference. The background updater stops when the last reference of a
/// workload that was not shut down goes (its files stay). NULL is fine; freeing twice is not.
///
/// # Safety
/// `workload` is NULL or a workload identity from this library the caller has not freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_workload_free(workload: *const authsec_workload) {
    accessor((), || {
        if !workload.is_null() && !crate::fork::in_forked_child() {
            // SAFETY: from Arc::into_raw in `authsec_workload_start`; drops one reference.
            drop(unsafe { Arc::from_raw(workload) });
        }
    })
}

/// The SVID's SPIFFE ID, borrowed until the snapshot is freed (empty for NULL).
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_spiffe_id(svid: *const authsec_svid) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(svid).map_or(authsec_str::EMPTY, |s| authsec_str::from(&s.core.spiffe_id))
    })
}

/// The certificate chain (PEM, leaf first), borrowed like `authsec_svid_spiffe_id`.
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_certificate_pem(svid: *const authsec_svid) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(svid).map_or(authsec_str::EMPTY, |s| {
            authsec_str::from(&s.core.certificate_pem)
        })
    })
}

/// The private key (PKCS#8 PEM), borrowed like `authsec_svid_spiffe_id`. Secret: never log it.
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_private_key_pem(svid: *const authsec_svid) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(svid).map_or(authsec_str::EMPTY, |s| {
            authsec_str::from(&s.core.private_key_pem)
        })
    })
}

/// The trust bundle (PEM), borrowed like `authsec_svid_spiffe_id`.
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_bundle_pem(svid: *const authsec_svid) -> authsec_str {
    accessor(authsec_str::EMPTY, || {
        opt_ref!(svid).map_or(authsec_str::EMPTY, |s| {
            authsec_str::from(&s.core.bundle_pem)
        })
    })
}

/// The leaf certificate's `notAfter`, Unix seconds (0 for NULL).
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_expires_at(svid: *const authsec_svid) -> u64 {
    accessor(0, || opt_ref!(svid).map_or(0, |s| s.core.expires_at))
}

/// The update counter value this SVID was published with (0 for NULL).
///
/// # Safety
/// `svid` is NULL or a live snapshot.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_version(svid: *const authsec_svid) -> u64 {
    accessor(0, || opt_ref!(svid).map_or(0, |s| s.core.version))
}

/// Free a snapshot. NULL is fine.
///
/// # Safety
/// `svid` is NULL or a snapshot from this library the caller has not freed.
#[no_mangle]
pub unsafe extern "C" fn authsec_svid_free(svid: *mut authsec_svid) {
    accessor((), || {
        if !svid.is_null() {
            // SAFETY: from Box::into_raw in `authsec_workload_current`.
            drop(unsafe { Box::from_raw(svid) });
        }
    })
}

//! Service credentials over the C ABI (the seed's `ServiceAccessSDK`): the AuthSec services
//! API, called by the core (`services_url`), answers handed to the host as JSON or text. The
//! answers carry credential values: hosts pass them to the code that uses them, never to a log.

use crate::boundary::{arg_ref, arg_str, call, check_out, write_out};
use crate::error::authsec_error;
use crate::hidden;
use crate::runtime::authsec_runtime;
use crate::status::{authsec_status, Fail};
use crate::text::authsec_text;

/// Which answer a call wants.
enum Want {
    Credentials,
    Token,
    UserDetails,
}

/// # Safety
/// As for the exported functions below.
#[allow(clippy::too_many_arguments)]
unsafe fn service_call(
    rt: *const authsec_runtime,
    session_id: *const libc::c_char,
    session_id_len: usize,
    service_name: *const libc::c_char,
    service_name_len: usize,
    out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
    want: Want,
) -> authsec_status {
    call(err_out, || {
        check_out(out, "out")?;
        let rt = arg_ref!(rt, "runtime");
        let session = arg_str!(session_id, session_id_len, "session id");
        let service = arg_str!(service_name, service_name_len, "service name");
        let core = &rt.core;
        let text = match want {
            Want::Credentials => {
                let c = hidden::block_on(core.service_credentials(session, service))??;
                serde_json::to_string(&c.to_json())
                    .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?
            }
            Want::Token => hidden::block_on(core.service_token(session, service))??
                .expose()
                .to_string(),
            Want::UserDetails => {
                let d = hidden::block_on(core.service_user_details(session, service))??;
                serde_json::to_string(&d)
                    .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?
            }
        };
        write_out(out, authsec_text::boxed(text))
    })
}

/// The credentials of the external service `service_name` for the user of `session_id`
/// (`POST {services_url}/credentials`). Blocks for the call. On `AUTHSEC_STATUS_OK`,
/// `*credentials_out` is the answer as JSON (`service_id`, `service_name`, `service_type`,
/// `auth_type`, `url`, `credentials`, `metadata`, `retrieved_at`), freed with
/// `authsec_text_free`. Failures: `AUTHSEC_STATUS_SERVICES_ERROR` (not configured, HTTP error,
/// refusal, unusable answer), `AUTHSEC_STATUS_INVALID_INPUT` (an empty argument); no message
/// carries a credential.
///
/// # Safety
/// `rt` is live; the strings are readable for their lengths; `credentials_out` is writable;
/// `err_out` is NULL or writable. Not from a thread that runs a tokio runtime.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_service_credentials(
    rt: *const authsec_runtime,
    session_id: *const libc::c_char,
    session_id_len: usize,
    service_name: *const libc::c_char,
    service_name_len: usize,
    credentials_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    // SAFETY: the caller keeps this function's contract, which is `service_call`'s.
    unsafe {
        service_call(
            rt,
            session_id,
            session_id_len,
            service_name,
            service_name_len,
            credentials_out,
            err_out,
            Want::Credentials,
        )
    }
}

/// The service's access token (`credentials.access_token`), as for
/// `authsec_runtime_service_credentials`; `AUTHSEC_STATUS_SERVICES_ERROR` with "No access token
/// available for <name>" when the credentials have none.
///
/// # Safety
/// As for `authsec_runtime_service_credentials`.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_service_token(
    rt: *const authsec_runtime,
    session_id: *const libc::c_char,
    session_id_len: usize,
    service_name: *const libc::c_char,
    service_name_len: usize,
    token_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    // SAFETY: the caller keeps this function's contract, which is `service_call`'s.
    unsafe {
        service_call(
            rt,
            session_id,
            session_id_len,
            service_name,
            service_name_len,
            token_out,
            err_out,
            Want::Token,
        )
    }
}

/// The user's details at the service (`POST {services_url}/user-details`) as a JSON object,
/// as for `authsec_runtime_service_credentials`.
///
/// # Safety
/// As for `authsec_runtime_service_credentials`.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_service_user_details(
    rt: *const authsec_runtime,
    session_id: *const libc::c_char,
    session_id_len: usize,
    service_name: *const libc::c_char,
    service_name_len: usize,
    details_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    // SAFETY: the caller keeps this function's contract, which is `service_call`'s.
    unsafe {
        service_call(
            rt,
            session_id,
            session_id_len,
            service_name,
            service_name_len,
            details_out,
            err_out,
            Want::UserDetails,
        )
    }
}

//! The workload-identity exports without an agent: what a C caller sees when SPIRE is disabled
//! (no socket, `SPIFFE_ENDPOINT_SOCKET` unset), when the socket string is unusable, when the
//! agent is down at start, and for NULL arguments (statuses, untouched out-parameters, neutral
//! accessor answers). The exports against a real agent are exercised by the Python and Go
//! bindings' SPIRE tests (tests/spire).

use std::ptr;

use authsec::*;

mod common;
use common::take_error;

fn start(endpoint: &str, timeout_ms: u32) -> (authsec_status, *const authsec_workload, String) {
    let mut w: *const authsec_workload = ptr::null();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointer/length pairs and out-params.
    let st = unsafe {
        authsec_workload_start(
            endpoint.as_ptr().cast(),
            endpoint.len(),
            ptr::null(),
            0,
            timeout_ms,
            &mut w,
            &mut err,
        )
    };
    let message = if err.is_null() {
        String::new()
    } else {
        take_error(err).2
    };
    (st, w, message)
}

#[test]
fn start_failures_are_typed_and_write_no_handle() {
    // The only test of this binary touching the variable.
    std::env::remove_var("SPIFFE_ENDPOINT_SOCKET");
    let (st, w, m) = start("", 500);
    assert_eq!(st, authsec_status::WorkloadNotConfigured);
    assert!(w.is_null());
    assert_eq!(
        m,
        "no Workload API socket given and SPIFFE_ENDPOINT_SOCKET is not set"
    );

    let (st, w, m) = start("relative/agent.sock", 500);
    assert_eq!(st, authsec_status::ConfigInvalid);
    assert!(w.is_null());
    assert!(m.starts_with("Workload API socket must be"), "{m}");

    let missing =
        std::env::temp_dir().join(format!("authsec-no-agent-{}.sock", std::process::id()));
    let (st, w, m) = start(missing.to_str().unwrap(), 500);
    assert_eq!(st, authsec_status::WorkloadApiUnavailable);
    assert!(w.is_null());
    let want = format!(
        "no X.509-SVID from the Workload API at unix://{} within 500 ms: connect failed",
        missing.display()
    );
    assert!(m.starts_with(&want), "{m}");
    assert_eq!(
        authsec_status::WorkloadApiUnavailable.name(),
        "workload_api_unavailable"
    );
    assert_eq!(authsec_status::SvidExpired as u32, 341);
}

#[test]
fn null_arguments() {
    // SAFETY: NULL handles are allowed by every accessor's contract.
    unsafe {
        let mut err = ptr::null_mut();
        assert_eq!(
            authsec_workload_start(ptr::null(), 0, ptr::null(), 0, 1, ptr::null_mut(), &mut err),
            authsec_status::NullParameter
        );
        take_error(err);
        assert_eq!(authsec_workload_version(ptr::null()), 0);
        assert_eq!(authsec_workload_wait_update(ptr::null(), 0, 1), 0);
        assert!(!authsec_workload_connected(ptr::null()));
        assert_eq!(authsec_workload_dir(ptr::null()).len, 0);
        assert_eq!(authsec_workload_cert_file(ptr::null()).len, 0);
        assert_eq!(authsec_workload_key_file(ptr::null()).len, 0);
        assert_eq!(authsec_workload_bundle_file(ptr::null()).len, 0);
        let sentinel = 0x5a5a as *mut authsec_svid;
        let mut svid = sentinel;
        assert_eq!(
            authsec_workload_current(ptr::null(), &mut svid, ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(svid, sentinel);
        let mut tok = ptr::null_mut();
        assert_eq!(
            authsec_workload_fetch_jwt_svid(ptr::null(), ptr::null(), 0, &mut tok, ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert!(tok.is_null());
        assert_eq!(
            authsec_workload_shutdown(ptr::null(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        authsec_workload_free(ptr::null());
        assert_eq!(authsec_svid_spiffe_id(ptr::null()).len, 0);
        assert_eq!(authsec_svid_certificate_pem(ptr::null()).len, 0);
        assert_eq!(authsec_svid_private_key_pem(ptr::null()).len, 0);
        assert_eq!(authsec_svid_bundle_pem(ptr::null()).len, 0);
        assert_eq!(authsec_svid_expires_at(ptr::null()), 0);
        assert_eq!(authsec_svid_version(ptr::null()), 0);
        authsec_svid_free(ptr::null_mut());
        assert_eq!(authsec_decision_spiffe_id(ptr::null()).len, 0);
    }
}

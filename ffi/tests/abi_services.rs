//! Service credentials through the C ABI against the fixture backend's services API: the JSON a
//! C host receives, the token, the user details, and the failures as a C caller sees them
//! (status, name, message without a credential, nothing written to the out-parameter).

use std::ptr;

use authsec::*;

mod common;
use authsec_fixture::Fixture;
use common::{take_error, text};
use serde_json::{json, Value};

type Call = unsafe extern "C" fn(
    *const authsec_runtime,
    *const libc::c_char,
    usize,
    *const libc::c_char,
    usize,
    *mut *mut authsec_text,
    *mut *mut authsec_error,
) -> authsec_status;

fn runtime(base: &str) -> usize {
    let cfg = json!({"issuer": base, "jwks_url": format!("{base}/jwks"),
        "resource_uri": "https://mcp.example.com/mcp",
        "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
        "services_url": format!("{base}/services")})
    .to_string();
    let mut rt = ptr::null();
    // SAFETY: live config text and writable out-param.
    let st =
        unsafe { authsec_runtime_new(cfg.as_ptr().cast(), cfg.len(), &mut rt, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    rt as usize
}

/// One call on a plain thread (no tokio context), as a C host makes it.
fn run(
    f: Call,
    rt: usize,
    session: &'static str,
    service: &'static str,
) -> Result<String, (authsec_status, String, String)> {
    std::thread::spawn(move || {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: rt is live; the strings are live for the call; out-params writable.
        unsafe {
            let st = f(
                rt as *const authsec_runtime,
                session.as_ptr().cast(),
                session.len(),
                service.as_ptr().cast(),
                service.len(),
                &mut out,
                &mut err,
            );
            if st == authsec_status::Ok {
                assert!(err.is_null());
                let t = text(authsec_text_str(out));
                authsec_text_free(out);
                Ok(t)
            } else {
                assert!(out.is_null(), "nothing written on failure");
                Err(take_error(err))
            }
        }
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_token_details_and_failures() {
    let fx = Fixture::start().await.unwrap();
    let creds = json!({"service_id": "svc-1", "service_name": "github", "service_type": "github",
        "auth_type": "oauth2", "url": "https://api.github.com",
        "credentials": {"access_token": "gho-abi-secret-1"}, "metadata": {},
        "retrieved_at": "2026-12-01T10:00:00Z"});
    fx.reset(json!({"services": {"sess-1 github": {"credentials": creds, "user_details": {"login": "octo"}}}}))
        .await;
    let rt = runtime(&fx.base_url);
    let blocking = |f: Call, session: &'static str, service: &'static str| {
        tokio::task::spawn_blocking(move || run(f, rt, session, service))
    };

    let got = blocking(authsec_runtime_service_credentials, "sess-1", "github")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&got).unwrap(), creds);
    let token = blocking(authsec_runtime_service_token, "sess-1", "github")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token, "gho-abi-secret-1");
    let details = blocking(authsec_runtime_service_user_details, "sess-1", "github")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&details).unwrap(),
        json!({"login": "octo"})
    );

    let e = blocking(authsec_runtime_service_token, "sess-1", "gitlab")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e,
        (
            authsec_status::ServicesError,
            "services_error".to_string(),
            "services API returned HTTP 404".to_string()
        )
    );
    assert_eq!(authsec_status::ServicesError as u32, 360);
    let e = blocking(authsec_runtime_service_credentials, "", "github")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (e.0, e.2.as_str()),
        (
            authsec_status::InvalidInput,
            "session_id and service_name are required"
        )
    );
    // SAFETY: rt is live and no call uses it any more.
    unsafe { authsec_runtime_free(rt as *const authsec_runtime) };
}

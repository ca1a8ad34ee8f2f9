//! The principal's typed accessors through the C ABI (what a C, Go or Python host builds its
//! SDK's `AuthInfo`/`TokenInfo` from without decoding the claims): subject, issuer, client id
//! (`client_id`, else `azp`, else the subject), expiry, scopes and audiences of an allow
//! decision, and neutral answers for other decisions and NULL.

use std::ptr;

use authsec::*;

mod common;
use authsec_fixture::Fixture;
use common::{header, post_mcp, text};
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn runtime(base: &str) -> *const authsec_runtime {
    let cfg = json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
        "tool_scopes": {"list_issues": ["issues:read"]}})
    .to_string();
    let mut rt = ptr::null();
    // SAFETY: live config text and writable out-param.
    let st =
        unsafe { authsec_runtime_new(cfg.as_ptr().cast(), cfg.len(), &mut rt, ptr::null_mut()) };
    assert_eq!(st, authsec_status::Ok);
    rt
}

/// Check a tools/call with `token` on a plain thread (the first one fetches the JWKS).
fn check(rt: usize, token: String) -> usize {
    std::thread::spawn(move || {
        let auth = format!("Bearer {token}");
        let headers = [header("authorization", &auth)];
        let body =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}"#;
        let mut d = ptr::null_mut();
        // SAFETY: live runtime, headers and body for the call; writable out-param.
        let st = unsafe {
            post_mcp(
                rt as *const authsec_runtime,
                headers.as_ptr(),
                1,
                body.as_ptr(),
                body.len(),
                &mut d,
                ptr::null_mut(),
            )
        };
        assert_eq!(st, authsec_status::Ok);
        d as usize
    })
    .join()
    .unwrap()
}

fn list(
    d: *const authsec_decision,
    count: unsafe extern "C" fn(*const authsec_decision) -> usize,
    item: unsafe extern "C" fn(*const authsec_decision, usize) -> authsec_str,
) -> Vec<String> {
    // SAFETY: d is NULL or a live decision; indexes are in range or answered empty.
    unsafe { (0..count(d) + 1).map(|i| text(item(d, i))).collect() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_principal_accessors() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({})).await;
    let base = fx.base_url.clone();
    let claims = |extra: serde_json::Value| {
        let mut c = json!({"iss": base, "sub": "user-1", "aud": [RESOURCE, "https://other.example"],
            "scope": "issues:read extra:x", "exp": {"$now": 3600}});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"kid": "rsa-1", "claims": c})
    };
    let with_client = fx
        .mint(claims(json!({"client_id": "c-1", "azp": "spa"})))
        .await;
    let with_azp = fx.mint(claims(json!({"azp": "spa"}))).await;
    let bare = fx.mint(claims(json!({}))).await;
    let rt = runtime(&base);

    // Cold keys: the non-blocking check declines (WOULD_BLOCK, no decision written) instead of
    // fetching; once a blocking check has warmed the keys it decides from memory, even from a
    // thread that runs a tokio runtime (this test's).
    let auth = format!("Bearer {with_client}");
    let headers = [header("authorization", &auth)];
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}"#;
    let try_check = |out: &mut *mut authsec_decision| {
        // SAFETY: live runtime, headers and body; writable out-param.
        unsafe {
            authsec_runtime_try_check_request(
                rt,
                "POST".as_ptr().cast(),
                4,
                "/mcp".as_ptr().cast(),
                4,
                headers.as_ptr(),
                1,
                body.as_ptr(),
                body.len(),
                out,
                ptr::null_mut(),
            )
        }
    };
    let sentinel = 0x5a5a as *mut authsec_decision;
    let mut d = sentinel;
    assert_eq!(try_check(&mut d), authsec_status::WouldBlock);
    assert_eq!(d, sentinel, "nothing written when it would block");

    let d = check(rt as usize, with_client.clone()) as *mut authsec_decision;
    // SAFETY: live decision, freed once.
    unsafe { authsec_decision_free(d) };
    let mut d = ptr::null_mut();
    assert_eq!(try_check(&mut d), authsec_status::Ok);
    // SAFETY: a decision was written; freed once.
    unsafe {
        assert_eq!(authsec_decision_get_kind(d), authsec_decision_kind::Allow);
        authsec_decision_free(d);
    }

    let d = check(rt as usize, with_client) as *mut authsec_decision;
    // SAFETY: d is a live decision until freed below; the out-param is writable.
    unsafe {
        assert_eq!(authsec_decision_get_kind(d), authsec_decision_kind::Allow);
        assert_eq!(text(authsec_decision_subject(d)), "user-1");
        assert_eq!(text(authsec_decision_issuer(d)), base);
        assert_eq!(text(authsec_decision_client_id(d)), "c-1");
        let mut exp = 0u64;
        assert!(authsec_decision_expires_at(d, &mut exp));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(exp > now + 3000 && exp <= now + 3600, "{exp}");
        assert!(
            !authsec_decision_expires_at(d, ptr::null_mut()),
            "NULL out-param: nothing written"
        );
        assert_eq!(
            list(d, authsec_decision_scope_count, authsec_decision_scope),
            ["issues:read", "extra:x", ""]
        );
        assert_eq!(
            list(
                d,
                authsec_decision_audience_count,
                authsec_decision_audience
            ),
            [RESOURCE, "https://other.example", ""]
        );
        authsec_decision_free(d);
    }
    for (token, client) in [(with_azp, "spa"), (bare, "user-1")] {
        let d = check(rt as usize, token) as *mut authsec_decision;
        // SAFETY: live decision, freed once.
        unsafe {
            assert_eq!(text(authsec_decision_client_id(d)), client);
            authsec_decision_free(d);
        }
    }

    // A denial and NULL answer neutrally.
    let d = check(rt as usize, "junk".into()) as *mut authsec_decision;
    // SAFETY: live decision, freed once; NULL is allowed everywhere.
    unsafe {
        assert_eq!(authsec_decision_get_kind(d), authsec_decision_kind::Respond);
        let mut exp = 7u64;
        assert!(!authsec_decision_expires_at(d, &mut exp));
        assert_eq!(exp, 7, "nothing written for a denial");
        assert_eq!(text(authsec_decision_client_id(d)), "");
        assert_eq!(authsec_decision_scope_count(d), 0);
        assert_eq!(text(authsec_decision_issuer(ptr::null())), "");
        assert_eq!(authsec_decision_audience_count(ptr::null()), 0);
        authsec_decision_free(d);
        authsec_runtime_free(rt);
    }
}

//! `authsec_config_*` through the C ABI: what a binding that keeps its own configuration object
//! sees: the environment read by the core's reader (aliases, the secret kept), the inferred modes
//! and normalized values, validation with the reference's messages, and every failure path
//! (NULL, invalid UTF-8, unknown field) with outputs left untouched.

use std::ptr;

use authsec::*;

mod common;
use common::{take_error, text};

/// Call `f` with an out-pointer and return the owned text it wrote, or the error.
fn text_call(
    f: impl FnOnce(*mut *mut authsec_text, *mut *mut authsec_error) -> authsec_status,
) -> Result<serde_json::Value, (String, String)> {
    let mut out: *mut authsec_text = ptr::null_mut();
    let mut err = ptr::null_mut();
    let st = f(&mut out, &mut err);
    if st != authsec_status::Ok {
        assert!(out.is_null(), "output written on failure");
        let (_, name, message) = take_error(err);
        return Err((name, message));
    }
    // SAFETY: a live text from the library, freed once.
    let s = unsafe { text(authsec_text_str(out)) };
    unsafe { authsec_text_free(out) };
    Ok(serde_json::from_str(&s).expect("JSON text"))
}

fn resolve(json: &str) -> Result<serde_json::Value, (String, String)> {
    // SAFETY: valid pointers for the duration of the call.
    text_call(|o, e| unsafe { authsec_config_resolve(json.as_ptr().cast(), json.len(), o, e) })
}

fn validate(json: &str) -> Result<(), (String, String)> {
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers.
    let st = unsafe { authsec_config_validate(json.as_ptr().cast(), json.len(), &mut err) };
    if st == authsec_status::Ok {
        return Ok(());
    }
    let (_, name, message) = take_error(err);
    Err((name, message))
}

#[test]
fn from_env_reads_the_reference_variables_and_aliases() {
    // A prefix no other test uses, so the process environment is not shared.
    let p = "AUTHSEC_ABI_CFG_";
    std::env::set_var(format!("{p}ISSUER"), "https://as.example.com");
    std::env::set_var(format!("{p}JWKS_URI"), "https://as.example.com/jwks");
    std::env::set_var(format!("{p}INTROSPECTION_SECRET"), "s3cret");
    std::env::set_var(format!("{p}RESOURCE"), "https://mcp.example.com/mcp");
    std::env::set_var(format!("{p}SUPPORTED_SCOPES"), "a:read, a:write");
    std::env::set_var(
        format!("{p}TOOL_SCOPES_JSON"),
        r#"{"a": "x:read, x:write"}"#,
    );
    std::env::set_var(format!("{p}POLICY_MODE"), "enforce");
    std::env::set_var(format!("{p}PUBLISH_MANIFEST"), "Yes");
    // SAFETY: valid pointers.
    let cfg =
        text_call(|o, e| unsafe { authsec_config_from_env(p.as_ptr().cast(), p.len(), o, e) })
            .unwrap();
    assert_eq!(cfg["issuer"], "https://as.example.com");
    assert_eq!(cfg["jwks_url"], "https://as.example.com/jwks");
    assert_eq!(cfg["introspection_client_secret"], "s3cret");
    assert_eq!(cfg["resource_uri"], "https://mcp.example.com/mcp");
    assert_eq!(
        cfg["supported_scopes"],
        serde_json::json!(["a:read", "a:write"])
    );
    assert_eq!(
        cfg["tool_scopes"],
        serde_json::json!({"a": ["x:read", "x:write"]})
    );
    assert_eq!(cfg["policy_mode"], "remote_required");
    assert_eq!(cfg["validation_mode"], "unset");
    assert_eq!(cfg["publish_manifest"], true);
    // What from_env returns is what authsec_runtime_new takes, the secret in clear.
    let r = resolve(&cfg.to_string()).unwrap();
    assert_eq!(r["normalized"]["introspection_client_secret"], "s3cret");
    // A malformed JSON variable is refused, naming the variable, never the value.
    let q = "AUTHSEC_ABI_CFG_BAD_";
    std::env::set_var(format!("{q}TOOL_SCOPES_JSON"), "{not json s3cret");
    // SAFETY: valid pointers.
    let e = text_call(|o, e| unsafe { authsec_config_from_env(q.as_ptr().cast(), q.len(), o, e) })
        .unwrap_err();
    assert_eq!(e.0, "config_invalid");
    assert!(
        e.1.starts_with("AUTHSEC_ABI_CFG_BAD_TOOL_SCOPES_JSON is not valid JSON"),
        "{}",
        e.1
    );
    assert!(!e.1.contains("s3cret"));
}

#[test]
fn resolve_gives_inferred_modes_and_normalized_values() {
    let r = resolve(
        r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
        "resource_server_id": " rs-1 ", "bearer_methods_supported": []}"#,
    )
    .unwrap();
    assert_eq!(r["effective_policy_mode"], "remote_required");
    assert_eq!(r["effective_validation_mode"], "jwt_only");
    assert_eq!(
        r["normalized"]["authorization_server"],
        "https://as.example.com"
    );
    assert_eq!(
        r["normalized"]["resource_name"],
        "AuthSec Protected MCP Resource"
    );
    assert_eq!(
        r["normalized"]["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    let r = resolve(r#"{"tool_scopes": {}, "introspection_url": "https://i"}"#).unwrap();
    assert_eq!(r["effective_policy_mode"], "local_only");
    assert_eq!(r["effective_validation_mode"], "introspection_only");
    let r = resolve("{}").unwrap();
    assert_eq!(r["effective_policy_mode"], "open");
}

#[test]
fn validate_gives_the_reference_messages() {
    assert_eq!(
        validate(r#"{"resource_uri": "https://m/mcp"}"#).unwrap_err(),
        ("config_invalid".into(), "issuer is required".into())
    );
    assert_eq!(
        validate(r#"{"issuer": "i", "resource_uri": "https://m/mcp", "introspection_url": "https://i/x"}"#)
            .unwrap_err()
            .1,
        "introspection client credentials are required when introspection is enabled"
    );
    validate(r#"{"issuer": "i", "resource_uri": "https://m/mcp", "jwks_url": "https://i/jwks"}"#)
        .unwrap();
}

#[test]
fn failures_leave_outputs_untouched() {
    assert_eq!(
        resolve(r#"{"jwks_uri": "x"}"#).unwrap_err().0,
        "config_invalid"
    );
    assert!(resolve(r#"{"jwks_uri": "x"}"#)
        .unwrap_err()
        .1
        .contains("jwks_uri"));
    assert_eq!(validate("not json").unwrap_err().0, "config_invalid");
    let bad = [0xffu8, 0xfe];
    // SAFETY: valid pointers; the bytes are deliberately not UTF-8.
    unsafe {
        let sentinel = 0x5a5a as *mut authsec_text;
        let mut out = sentinel;
        let mut err = ptr::null_mut();
        assert_eq!(
            authsec_config_resolve(bad.as_ptr().cast(), 2, &mut out, &mut err),
            authsec_status::InvalidUtf8
        );
        assert_eq!(out, sentinel);
        assert_eq!(take_error(err).1, "invalid_utf8");
        assert_eq!(
            authsec_config_from_env(ptr::null(), 3, &mut out, ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_config_from_env(ptr::null(), 0, ptr::null_mut(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_config_resolve(c"{}".as_ptr(), 2, ptr::null_mut(), ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(
            authsec_config_validate(ptr::null(), 1, ptr::null_mut()),
            authsec_status::NullParameter
        );
        assert_eq!(out, sentinel);
    }
}

fn add_tool_rbac(
    config: &str,
    tool: &str,
    req: &str,
) -> Result<serde_json::Value, (String, String)> {
    // SAFETY: valid pointers for the duration of the call.
    text_call(|o, e| unsafe {
        authsec_config_add_tool_rbac(
            config.as_ptr().cast(),
            config.len(),
            tool.as_ptr().cast(),
            tool.len(),
            req.as_ptr().cast(),
            req.len(),
            o,
            e,
        )
    })
}

/// `authsec_config_add_tool_rbac`: the C registration API fills the core's `tool_rbac` table
/// (the configuration otherwise as given), with the core's rules and messages, and the
/// registered table decides in a runtime built from the result.
#[test]
fn add_tool_rbac_registers_with_the_core_rules() {
    let base = r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
        "resource_uri": "https://mcp.example.com/mcp", "introspection_client_secret": "s3cret"}"#;
    let deploy = r#"{"roles": ["admin", "deployer"], "scopes": ["write"], "resources": ["production"], "require_all": true}"#;
    let cfg = add_tool_rbac(base, " deploy_production ", deploy).unwrap();
    assert_eq!(
        cfg["tool_rbac"],
        serde_json::json!({"deploy_production": {"roles": ["admin", "deployer"], "groups": [],
            "resources": ["production"], "scopes": ["write"], "permissions": [], "require_all": true}})
    );
    assert_eq!(cfg["issuer"], "https://as.example.com");
    assert_eq!(cfg["introspection_client_secret"], "s3cret");
    let text = cfg.to_string();
    // Again with the same requirement: unchanged; a second tool is added.
    let same = add_tool_rbac(&text, "deploy_production", deploy).unwrap();
    assert_eq!(same["tool_rbac"], cfg["tool_rbac"]);
    let two = add_tool_rbac(&text, "calculator", "{}").unwrap();
    assert_eq!(two["tool_rbac"].as_object().unwrap().len(), 2);
    assert!(validate(&two.to_string()).is_ok());
    let err = |name: &str, msg: &str| Err((name.to_string(), msg.to_string()));
    assert_eq!(
        add_tool_rbac(&text, "deploy_production", r#"{"roles": ["admin"]}"#),
        err(
            "config_invalid",
            "tool_rbac['deploy_production'] is registered twice with different requirements"
        )
    );
    assert_eq!(
        add_tool_rbac(&text, "t", r#"{"roles": [""]}"#),
        err(
            "config_invalid",
            "tool_rbac['t'].roles contains an empty value"
        )
    );
    assert_eq!(
        add_tool_rbac(&text, " ", "{}"),
        err("config_invalid", "tool_rbac contains an empty tool name")
    );
    let (name, message) = add_tool_rbac(&text, "t", r#"{"role": ["admin"]}"#).unwrap_err();
    assert_eq!(name, "config_invalid");
    assert!(
        message.starts_with("invalid tool_rbac requirement JSON: unknown field `role`"),
        "{message}"
    );
    let (name, _) = add_tool_rbac(r#"{"nope": 1}"#, "t", "{}").unwrap_err();
    assert_eq!(name, "config_invalid");
    // NULL and invalid UTF-8 for the tool: usage errors, nothing written.
    let raw = |tool: *const u8, len: usize| {
        let mut out: *mut authsec_text = ptr::null_mut();
        let mut e = ptr::null_mut();
        // SAFETY: `tool` is NULL (refused before any read) or points to `len` readable bytes.
        let st = unsafe {
            authsec_config_add_tool_rbac(
                base.as_ptr().cast(),
                base.len(),
                tool.cast(),
                len,
                deploy.as_ptr().cast(),
                deploy.len(),
                &mut out,
                &mut e,
            )
        };
        assert!(out.is_null(), "output written on failure");
        (st, take_error(e).1)
    };
    assert_eq!(
        raw(ptr::null(), 3),
        (authsec_status::NullParameter, "null_parameter".to_string())
    );
    let bad = [0xffu8, 0xfe];
    assert_eq!(
        raw(bad.as_ptr(), bad.len()),
        (authsec_status::InvalidUtf8, "invalid_utf8".to_string())
    );
}

//! `authsec_config_*`: the core's configuration rules for bindings that keep a configuration
//! object of their own (Python's `Config`): read it from the environment, resolve the inferred
//! modes and the normalized values, and validate it, all without building a runtime. The core
//! decides; the binding only translates.

use authsec_core::Config;

use crate::boundary::{arg_str, call, check_out, write_out};
use crate::error::authsec_error;
use crate::status::{authsec_status, Fail};
use crate::text::authsec_text;

/// The configuration as the JSON `authsec_runtime_new` takes. `Serialize` redacts the secret
/// (so a logged configuration never carries it); here the caller gets back its own input, which
/// must stay usable, so the secret is written in clear into this one document.
pub(crate) fn to_value(config: &Config) -> Result<serde_json::Value, Fail> {
    let mut v = serde_json::to_value(config).map_err(|_| {
        Fail::new(
            authsec_status::Internal,
            "configuration is not serializable",
        )
    })?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "introspection_client_secret".into(),
            config.introspection_client_secret.expose().into(),
        );
        if let (Some(s), Some(serde_json::Value::Object(sign_in))) =
            (&config.sign_in, obj.get_mut("sign_in"))
        {
            sign_in.insert("client_secret".into(), s.client_secret.expose().into());
        }
    }
    Ok(v)
}

/// Read the configuration from environment variables named `<prefix>ISSUER`,
/// `<prefix>JWKS_URL`, ... (the reference SDK's variables and legacy aliases; an empty prefix
/// means `AUTHSEC_`), without validating it, as the reference's `from_env` does. Fails with
/// `AUTHSEC_STATUS_CONFIG_INVALID` only when a `*_JSON` variable cannot be read.
///
/// On `AUTHSEC_STATUS_OK`, `*config_out` receives the configuration as the snake_case JSON
/// `authsec_runtime_new` takes (every field, the secret included: it is the caller's own
/// input), freed with `authsec_text_free`.
///
/// # Safety
/// `prefix` points to `prefix_len` readable bytes (or is NULL with 0); `config_out` is
/// writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_config_from_env(
    prefix: *const libc::c_char,
    prefix_len: usize,
    config_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(config_out, "config_out")?;
        let prefix = arg_str!(prefix, prefix_len, "prefix");
        let prefix = if prefix.is_empty() {
            "AUTHSEC_"
        } else {
            prefix
        };
        let json = to_value(&Config::from_env(prefix)?)?.to_string();
        write_out(config_out, authsec_text::boxed(json))
    })
}

/// Resolve a JSON configuration without validating it: the modes after inference (reference
/// §1.3) and the normalized values (authorization server, resource name, bearer methods).
///
/// On `AUTHSEC_STATUS_OK`, `*resolved_out` receives
/// `{"effective_policy_mode": "...", "effective_validation_mode": "...", "normalized": {...}}`,
/// freed with `authsec_text_free`. A configuration that does not parse (unknown field, wrong
/// type) gives `AUTHSEC_STATUS_CONFIG_INVALID`.
///
/// # Safety
/// `config_json` points to `config_len` readable bytes; `resolved_out` is writable; `err_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_config_resolve(
    config_json: *const libc::c_char,
    config_len: usize,
    resolved_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(resolved_out, "resolved_out")?;
        let config = Config::from_json(arg_str!(config_json, config_len, "config"))?;
        let resolved = serde_json::json!({
            "effective_policy_mode": config.effective_policy_mode().as_str(),
            "effective_validation_mode": config.effective_validation_mode().as_str(),
            "normalized": to_value(&config.normalized())?,
        });
        let json = resolved.to_string();
        write_out(resolved_out, authsec_text::boxed(json))
    })
}

/// Validate a JSON configuration with the rules `authsec_runtime_new` applies (reference §1.4 in
/// its order, then this project's own rules), without building a runtime.
///
/// `AUTHSEC_STATUS_OK` when it is valid; otherwise `AUTHSEC_STATUS_CONFIG_INVALID` with the
/// reference SDK's message for the first rule that fails.
///
/// # Safety
/// `config_json` points to `config_len` readable bytes; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_config_validate(
    config_json: *const libc::c_char,
    config_len: usize,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let config = Config::from_json(arg_str!(config_json, config_len, "config"))?;
        Ok(config.validate()?)
    })
}

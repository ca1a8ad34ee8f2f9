//! RBAC through the C ABI (issue 16): the requirements travel in the configuration JSON
//! (`tool_rbac`, `rbac_claims`, `rbac_catalogue`, see docs/rbac.md), written there directly or
//! registered tool by tool with `authsec_config_add_tool_rbac` (the same core table the Python
//! and Node decorators fill); this module also hands a host the core's `user_info` document for
//! an allow, to inject as a tool's `_user_info` argument.

use authsec_core::{Config, RbacRequirement};

use crate::boundary::{arg_ref, arg_str, call, check_out, write_out};
use crate::config::to_value;
use crate::decision::authsec_decision;
use crate::error::authsec_error;
use crate::hidden;
use crate::runtime::authsec_runtime;
use crate::status::{authsec_status, Fail};
use crate::text::authsec_text;

/// The `user_info` JSON document of an allow decision's caller (the core builds it from the
/// validated claims: `{"sub", "email", "tenant_id", "roles", "groups", "scopes", "resources",
/// "permissions"}`, the sets restricted to the tenant catalogue when one is configured). On
/// `AUTHSEC_STATUS_OK`, `*user_info_out` receives a text the caller frees with
/// `authsec_text_free`. `AUTHSEC_STATUS_INVALID_ARGUMENT` when `decision` is not an allow.
///
/// # Safety
/// `rt` is a live runtime; `decision` a live decision of that runtime; `user_info_out` is
/// writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_user_info(
    rt: *const authsec_runtime,
    decision: *const authsec_decision,
    user_info_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(user_info_out, "user_info_out")?;
        let rt = arg_ref!(rt, "runtime");
        let d = arg_ref!(decision, "decision");
        let p = d.principal().ok_or_else(|| {
            Fail::new(
                authsec_status::InvalidArgument,
                "user_info needs an allow decision",
            )
        })?;
        let json = serde_json::to_string(&rt.core.user_info(p).to_json())
            .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?;
        write_out(user_info_out, authsec_text::boxed(json))
    })
}

/// Register one tool's RBAC requirement in a JSON configuration (builder style: the
/// configuration in, a new configuration out; the input is not changed). `requirement_json` is
/// `{"roles", "groups", "resources", "scopes", "permissions", "require_all"}` (every key
/// optional, unknown keys refused). The core's rules apply (`Config::register_tool_rbac`): the
/// tool name is trimmed, a blank name or value is refused, the same tool again with the same
/// requirement is a no-op and with a different one `AUTHSEC_STATUS_CONFIG_INVALID`.
///
/// On `AUTHSEC_STATUS_OK`, `*config_out` receives the configuration as the snake_case JSON
/// `authsec_runtime_new` takes (every field, the secret included: it is the caller's own
/// input), freed with `authsec_text_free`. A configuration or requirement that does not parse
/// gives `AUTHSEC_STATUS_CONFIG_INVALID`.
///
/// # Safety
/// `config_json`, `tool` and `requirement_json` point to that many readable bytes (`tool` and
/// `requirement_json` may be NULL with 0); `config_out` is writable; `err_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_config_add_tool_rbac(
    config_json: *const libc::c_char,
    config_len: usize,
    tool: *const libc::c_char,
    tool_len: usize,
    requirement_json: *const libc::c_char,
    requirement_len: usize,
    config_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(config_out, "config_out")?;
        let mut config = Config::from_json(arg_str!(config_json, config_len, "config"))?;
        let tool = arg_str!(tool, tool_len, "tool");
        let requirement: RbacRequirement =
            serde_json::from_str(arg_str!(requirement_json, requirement_len, "requirement"))
                .map_err(|e| {
                    Fail::new(
                        authsec_status::ConfigInvalid,
                        format!("invalid tool_rbac requirement JSON: {e}"),
                    )
                })?;
        config.register_tool_rbac(tool, requirement)?;
        let json = to_value(&config)?.to_string();
        write_out(config_out, authsec_text::boxed(json))
    })
}

/// Sign-in (docs/sign-in.md): the `user_info` JSON document of the user signed in to the
/// session `session_id` (the id `oauth_start` returned), or the JSON text `null` when there is
/// no such signed-in session (sign-in off; the id malformed, unknown, expired or not signed in;
/// its token refused). Blocks while the session's token is validated or refreshed. On
/// `AUTHSEC_STATUS_OK`, `*user_info_out` receives a text the caller frees with
/// `authsec_text_free`. `AUTHSEC_STATUS_SESSION_STORE_UNAVAILABLE` when the store cannot be read.
///
/// # Safety
/// `rt` is a live runtime; `session_id` is readable for `session_id_len` bytes (UTF-8);
/// `user_info_out` is writable; `err_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_session_user_info(
    rt: *const authsec_runtime,
    session_id: *const libc::c_char,
    session_id_len: usize,
    user_info_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        check_out(user_info_out, "user_info_out")?;
        let rt = arg_ref!(rt, "runtime");
        let id = arg_str!(session_id, session_id_len, "session_id");
        hidden::check_may_block()?;
        let principal = hidden::block_on(rt.core.session_principal(id))??;
        let doc = match principal {
            Some(p) => rt.core.user_info(&p).to_json(),
            None => serde_json::Value::Null,
        };
        let json = serde_json::to_string(&doc)
            .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?;
        write_out(user_info_out, authsec_text::boxed(json))
    })
}

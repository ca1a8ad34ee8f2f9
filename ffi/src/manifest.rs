//! Manifest publishing over the C ABI: from a tools JSON array, or through a host callback that
//! answers JSON-RPC requests as the host's MCP endpoint would (the synthetic handshake).

use std::sync::Arc;

use authsec_core::{ManifestReport, ManifestSource, RpcAnswer, RpcCall, RpcHandler};
use futures::FutureExt;
use serde_json::Value;

use crate::boundary::{arg_bytes, arg_mut, arg_ref, arg_str, call, write_out};
use crate::error::authsec_error;
use crate::hidden;
use crate::runtime::authsec_runtime;
use crate::status::{authsec_status, Fail};
use crate::text::{authsec_str, authsec_text};

/// The host's answer to one JSON-RPC request of the handshake, filled by the callback with
/// `authsec_rpc_answer_set`. **Ownership:** borrowed by the callback for the duration of the call.
pub struct authsec_rpc_answer {
    answer: Option<RpcAnswer>,
}

/// A host callback answering one JSON-RPC request (`initialize`, `notifications/initialized`,
/// `tools/list`) as the MCP endpoint would. `request_body` is the JSON-RPC request;
/// `session_id` is the `Mcp-Session-Id` the endpoint returned to `initialize` (empty before).
/// Fill `answer` with `authsec_rpc_answer_set` and return `AUTHSEC_STATUS_OK` (0); any other
/// return value aborts the publish. Called sequentially on the thread that called
/// `authsec_runtime_publish_manifest_handshake`; it must not call blocking functions of the same
/// runtime.
pub type authsec_rpc_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut libc::c_void,
        request_body: *const u8,
        request_len: usize,
        session_id: authsec_str,
        answer: *mut authsec_rpc_answer,
    ) -> u32,
>;

/// Set the handler's HTTP answer: status, Content-Type (`application/json` or
/// `text/event-stream`), body, and the `Mcp-Session-Id` it issued (NULL with 0 for none). The
/// library copies everything.
///
/// # Safety
/// `answer` is the pointer the callback received; pointer/length pairs are readable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn authsec_rpc_answer_set(
    answer: *mut authsec_rpc_answer,
    status: u16,
    content_type: *const libc::c_char,
    content_type_len: usize,
    body: *const u8,
    body_len: usize,
    session_id: *const libc::c_char,
    session_id_len: usize,
) -> authsec_status {
    call(std::ptr::null_mut(), || {
        let answer = arg_mut!(answer, "answer");
        let ct = arg_str!(content_type, content_type_len, "content type");
        let body = arg_bytes!(body, body_len, "body");
        let session = arg_str!(session_id, session_id_len, "session id");
        let mut headers = vec![("content-type".to_string(), ct.to_string())];
        if !session.is_empty() {
            headers.push(("mcp-session-id".to_string(), session.to_string()));
        }
        answer.answer = Some(RpcAnswer {
            status,
            headers,
            body: body.to_vec(),
        });
        Ok(())
    })
}

fn report(
    rt: &authsec_runtime,
    source: ManifestSource,
    report_out: *mut *mut authsec_text,
) -> Result<(), Fail> {
    let report: ManifestReport = hidden::block_on(rt.core.publish_manifest(source))??;
    if !report_out.is_null() {
        let json = serde_json::to_string(&report)
            .map_err(|e| Fail::new(authsec_status::Internal, e.to_string()))?;
        write_out(report_out, authsec_text::boxed(json))?;
    }
    Ok(())
}

/// Publish the tool manifest from `tools_json`, a JSON array of MCP tool objects (`name`,
/// `description`, `inputSchema`, `annotations`, `suggested_scopes`, ...). Blocks for the PUT.
///
/// On `AUTHSEC_STATUS_OK`, when `report_out` is not NULL, `*report_out` receives the report as
/// JSON (`{"tools_sent", "tools_seen", "generation"}`), freed with `authsec_text_free`. Failures:
/// `AUTHSEC_STATUS_INVALID_INPUT` (not a JSON array, empty list), `AUTHSEC_STATUS_CONFIG_INVALID`
/// (missing resource server id or credentials), `AUTHSEC_STATUS_BACKEND_ERROR`. A failed publish
/// should be logged, never fatal: the server keeps serving.
///
/// # Safety
/// `rt` is live; `tools_json` is readable for `tools_len` bytes; `report_out` and `err_out` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_publish_manifest(
    rt: *const authsec_runtime,
    tools_json: *const libc::c_char,
    tools_len: usize,
    report_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let text = arg_str!(tools_json, tools_len, "tools");
        let tools = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(tools)) => tools,
            _ => {
                return Err(Fail::new(
                    authsec_status::InvalidInput,
                    "tools must be a JSON array of MCP tool objects",
                ))
            }
        };
        report(rt, ManifestSource::Tools(tools), report_out)
    })
}

/// The host's userdata pointer, handed back to its callback on the calling thread.
#[derive(Clone, Copy)]
struct Userdata(*mut libc::c_void);

impl Userdata {
    /// By method, so closures capture the whole `Send` wrapper rather than the raw field.
    fn ptr(self) -> *mut libc::c_void {
        self.0
    }
}
// SAFETY: the pointer is only handed back to the host's callback, which the contract requires to
// accept it on the thread that started the publish; the library never dereferences it.
unsafe impl Send for Userdata {}
// SAFETY: as above; shared references never touch the pointee.
unsafe impl Sync for Userdata {}

/// Publish the tool manifest by enumerating the tools through `callback` (an `initialize`, a
/// `notifications/initialized`, then `tools/list` pages following `nextCursor`), as the
/// reference SDKs do against their own endpoint. Report and failures as for
/// `authsec_runtime_publish_manifest`; a callback that returns non-zero or sets no answer gives
/// `AUTHSEC_STATUS_INVALID_INPUT`.
///
/// # Safety
/// `rt` is live; `callback` is a valid function (NULL gives `AUTHSEC_STATUS_NULL_PARAMETER`);
/// `userdata` is passed back to it untouched; `report_out` and `err_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn authsec_runtime_publish_manifest_handshake(
    rt: *const authsec_runtime,
    callback: authsec_rpc_callback,
    userdata: *mut libc::c_void,
    report_out: *mut *mut authsec_text,
    err_out: *mut *mut authsec_error,
) -> authsec_status {
    call(err_out, || {
        let rt = arg_ref!(rt, "runtime");
        let callback = callback.ok_or_else(|| Fail::null("callback"))?;
        let userdata = Userdata(userdata);
        let handler: RpcHandler = Arc::new(move |req: RpcCall| {
            let userdata = userdata;
            async move {
                let session = req
                    .headers
                    .iter()
                    .find(|(k, _)| k == "mcp-session-id")
                    .map_or("", |(_, v)| v.as_str());
                let mut answer = authsec_rpc_answer { answer: None };
                // SAFETY: the host promised a valid callback; every pointer passed lives for the
                // duration of the call.
                let rc = unsafe {
                    callback(
                        userdata.ptr(),
                        req.body.as_ptr(),
                        req.body.len(),
                        authsec_str::from(session),
                        &mut answer,
                    )
                };
                if rc != 0 {
                    return Err(format!("the host callback returned status {rc}"));
                }
                answer
                    .answer
                    .ok_or_else(|| "the host callback set no answer".to_string())
            }
            .boxed()
        });
        report(rt, ManifestSource::Handshake(handler), report_out)
    })
}

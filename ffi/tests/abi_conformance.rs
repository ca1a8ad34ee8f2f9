//! Conformance runner for the C ABI: every vector of `tests/conformance/vectors` through the
//! `extern "C"` functions of libauthsec (the same calls a C, Go or Python host makes), with the
//! shared runner of `tests/conformance/runner`. Blocking calls run on plain threads, as a C host
//! would make them. `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::ptr;
use std::sync::{Arc, Mutex};

use authsec::*;

mod common;
use authsec_conformance::{Binding, Failure, Filtered, Outcome, Req, Resp, Streamed};
use common::{bytes, header, take_error, text};
use futures::future::BoxFuture;
use futures::FutureExt;

/// A runtime handle owned by the runner.
/// A runtime and the audit lines its C callback collected (the box outlives the runtime:
/// `Drop` frees the runtime, which detaches the callback, before the fields go).
struct Rt(*const authsec_runtime, Box<Mutex<Vec<String>>>);

/// The audit callback: copies each line into the `Mutex<Vec<String>>` behind `user_data`.
unsafe extern "C" fn collect_line(
    user_data: *mut libc::c_void,
    line: *const libc::c_char,
    len: usize,
) {
    // SAFETY: user_data is the Rt's boxed Mutex, alive until the runtime is freed; line points
    // to len bytes for the duration of the call.
    let (lines, bytes) = unsafe {
        (
            &*(user_data as *const Mutex<Vec<String>>),
            std::slice::from_raw_parts(line.cast::<u8>(), len),
        )
    };
    let text = String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| "<not UTF-8>".into());
    lines.lock().unwrap_or_else(|e| e.into_inner()).push(text);
}
// SAFETY: authsec_runtime is documented thread-safe (const receiver functions only).
unsafe impl Send for Rt {}
// SAFETY: as above.
unsafe impl Sync for Rt {}
impl Drop for Rt {
    fn drop(&mut self) {
        // SAFETY: the runner owns exactly one reference.
        unsafe { authsec_runtime_free(self.0) };
    }
}

/// An allow decision kept for a later filter step.
struct Dec(*mut authsec_decision);
// SAFETY: decisions are read-only after creation and may move between threads.
unsafe impl Send for Dec {}
// SAFETY: as above.
unsafe impl Sync for Dec {}
impl Drop for Dec {
    fn drop(&mut self) {
        // SAFETY: owned by this wrapper.
        unsafe { authsec_decision_free(self.0) };
    }
}

/// Take an error returned through err_out (freeing it); its status must be the call's.
fn failure(status: authsec_status, err: *mut authsec_error) -> Failure {
    let (code, name, message) = take_error(err);
    assert_eq!(code, status);
    Failure {
        code: name,
        message,
    }
}

/// Copy a borrowed response.
fn response(r: *const authsec_response) -> Resp {
    assert!(!r.is_null());
    // SAFETY: r is a live response borrowed from a live parent.
    unsafe {
        let n = authsec_response_header_count(r);
        let mut headers = Vec::with_capacity(n);
        for i in 0..n {
            let (mut k, mut v) = (authsec_version(), authsec_version());
            let st = authsec_response_header(r, i, &mut k, &mut v);
            assert_eq!(st, authsec_status::Ok);
            headers.push((text(k), text(v)));
        }
        Resp {
            status: authsec_response_status(r),
            headers,
            body: bytes(authsec_response_body(r)),
        }
    }
}

/// Run a blocking ABI call on a plain thread (no tokio context), as a C host does.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> BoxFuture<'static, T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    async move { rx.await.expect("ABI call thread") }.boxed()
}

fn check(rt: &Rt, req: &Req) -> Outcome<Dec> {
    let headers: Vec<authsec_header> = req.headers.iter().map(|(k, v)| header(k, v)).collect();
    let mut d: *mut authsec_decision = ptr::null_mut();
    let mut err: *mut authsec_error = ptr::null_mut();
    // SAFETY: every pointer/length pair describes live memory owned by `req` and `headers`.
    let st = unsafe {
        let (m, ml, p, pl) = (
            req.method.as_ptr().cast(),
            req.method.len(),
            req.path.as_ptr().cast(),
            req.path.len(),
        );
        let (hs, hl) = (headers.as_ptr(), headers.len());
        if req.oversized {
            // The host stopped reading the body: the oversized-body call takes none.
            authsec_runtime_check_oversized(rt.0, m, ml, p, pl, hs, hl, &mut d, &mut err)
        } else {
            let (b, bl) = (req.body.as_ptr(), req.body.len());
            authsec_runtime_check_request(rt.0, m, ml, p, pl, hs, hl, b, bl, &mut d, &mut err)
        }
    };
    if st != authsec_status::Ok {
        let f = failure(st, err);
        return Outcome::Failed(format!("{}: {}", f.code, f.message));
    }
    let d = Dec(d);
    // SAFETY: d.0 is a live decision.
    unsafe {
        match authsec_decision_get_kind(d.0) {
            authsec_decision_kind::Allow => {
                let json = text(authsec_decision_principal_json(d.0));
                let principal: serde_json::Value =
                    serde_json::from_str(&json).expect("principal JSON");
                assert_eq!(
                    principal["subject"].as_str(),
                    Some(text(authsec_decision_subject(d.0)).as_str())
                );
                assert!(authsec_decision_response(d.0).is_null());
                let mut info: *mut authsec_text = std::ptr::null_mut();
                let st = authsec_runtime_user_info(rt.0, d.0, &mut info, ptr::null_mut());
                let user_info = (st == authsec_status::Ok).then(|| {
                    let bytes = text(authsec_text_str(info)).into_bytes();
                    authsec_text_free(info);
                    bytes
                });
                Outcome::Allow {
                    principal,
                    filter_tools_list: authsec_decision_filter_tools_list(d.0),
                    user_info,
                    handle: d,
                }
            }
            authsec_decision_kind::Respond => {
                Outcome::Respond(response(authsec_decision_response(d.0)))
            }
            authsec_decision_kind::PassThrough => Outcome::PassThrough,
        }
    }
}

struct Abi;

impl Binding for Abi {
    const NAME: &'static str = "C ABI";
    type Runtime = Rt;
    type Allowed = Dec;

    fn build(&self, config_json: &str) -> Result<Rt, Failure> {
        let mut rt: *const authsec_runtime = ptr::null();
        let mut err: *mut authsec_error = ptr::null_mut();
        // SAFETY: config_json is live for the call; out-params are writable.
        let st = unsafe {
            authsec_runtime_new_with_manual_clock(
                config_json.as_ptr().cast(),
                config_json.len(),
                &mut rt,
                &mut err,
            )
        };
        if st != authsec_status::Ok {
            assert!(rt.is_null(), "out-param written on failure");
            return Err(failure(st, err));
        }
        let lines = Box::new(Mutex::new(Vec::new()));
        let user_data = &*lines as *const Mutex<Vec<String>> as *mut libc::c_void;
        // SAFETY: rt is live; the callback and its context outlive it (see `Rt`).
        let st = unsafe {
            authsec_runtime_add_audit_callback(rt, Some(collect_line), user_data, &mut err)
        };
        let rt = Rt(rt, lines);
        if st != authsec_status::Ok {
            return Err(failure(st, err));
        }
        Ok(rt)
    }

    fn startup(&self, rt: Arc<Rt>) -> BoxFuture<'static, Result<(), Failure>> {
        on_thread(move || {
            let mut warnings: *mut authsec_text = ptr::null_mut();
            let mut err: *mut authsec_error = ptr::null_mut();
            // SAFETY: rt is live; out-params are writable.
            let st = unsafe { authsec_runtime_startup(rt.0, &mut warnings, &mut err) };
            if st != authsec_status::Ok {
                return Err(failure(st, err));
            }
            // SAFETY: warnings is a live text we own.
            unsafe {
                let w: serde_json::Value =
                    serde_json::from_str(&text(authsec_text_str(warnings))).unwrap();
                assert!(w.is_array());
                authsec_text_free(warnings);
            }
            Ok(())
        })
    }

    fn check(&self, rt: Arc<Rt>, req: Arc<Req>) -> BoxFuture<'static, Outcome<Dec>> {
        on_thread(move || check(&rt, &req))
    }

    fn filter(&self, rt: &Rt, d: &Dec, content_type: Option<&str>, body: &[u8]) -> Filtered {
        let mut out: *mut authsec_filter_result = ptr::null_mut();
        let mut err: *mut authsec_error = ptr::null_mut();
        let (ct, ct_len) = content_type.map_or((ptr::null(), 0), |c| (c.as_ptr().cast(), c.len()));
        // SAFETY: all pointers are live for the call.
        let st = unsafe {
            authsec_runtime_filter_response(
                rt.0,
                d.0,
                ct,
                ct_len,
                body.as_ptr(),
                body.len(),
                &mut out,
                &mut err,
            )
        };
        if st != authsec_status::Ok {
            let f = failure(st, err);
            return Filtered::Failed(format!("{}: {}", f.code, f.message));
        }
        // SAFETY: out is a live result we own.
        unsafe {
            let r = match authsec_filter_result_get_kind(out) {
                authsec_filter_kind::Unchanged => Filtered::Unchanged,
                authsec_filter_kind::Rewritten => {
                    Filtered::Rewritten(bytes(authsec_filter_result_body(out)))
                }
                authsec_filter_kind::Respond => {
                    Filtered::Respond(response(authsec_filter_result_response(out)))
                }
            };
            authsec_filter_result_free(out);
            r
        }
    }

    fn filter_stream(
        &self,
        rt: &Rt,
        d: &Dec,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        chunks: &[&[u8]],
    ) -> Streamed {
        let text_in =
            |t: Option<&str>| t.map_or((ptr::null(), 0), |c| (c.as_ptr().cast(), c.len()));
        let (ct, ct_len) = text_in(content_type);
        let (ce, ce_len) = text_in(content_encoding);
        let mut f: *mut authsec_response_filter = ptr::null_mut();
        let mut err: *mut authsec_error = ptr::null_mut();
        // SAFETY: all pointers are live for the call.
        let st = unsafe {
            authsec_runtime_response_filter(rt.0, d.0, ct, ct_len, ce, ce_len, &mut f, &mut err)
        };
        if st != authsec_status::Ok {
            let fail = failure(st, err);
            return Streamed {
                failed: Some(format!("{}: {}", fail.code, fail.message)),
                ..Streamed::default()
            };
        }
        // The cheap question hosts ask first must agree with the filter on every vector: "no
        // need to read" exactly when the filter passes the answer through.
        // SAFETY: f and d are live; ct is NULL or readable for ct_len.
        unsafe {
            assert_eq!(
                authsec_decision_filter_reads(d.0, ct, ct_len),
                !authsec_response_filter_passthrough(f),
                "authsec_decision_filter_reads disagrees with the filter ({content_type:?})"
            );
            // An unreadable Content-Type is a doubt: read the answer.
            assert!(authsec_decision_filter_reads(
                d.0,
                b"\xff".as_ptr().cast(),
                1
            ));
        }
        let mut out = Streamed {
            // SAFETY: f is a live filter.
            drops_content_encoding: unsafe { authsec_response_filter_drops_content_encoding(f) },
            ..Streamed::default()
        };
        // Take one step's outcome; true when the filter refused (stop feeding).
        let take = |st: authsec_status,
                    err: *mut authsec_error,
                    fwd: authsec_bytes,
                    resp: *const authsec_response,
                    out: &mut Streamed|
         -> bool {
            if st != authsec_status::Ok {
                let fail = failure(st, err);
                out.failed = Some(format!("{}: {}", fail.code, fail.message));
                return true;
            }
            if !resp.is_null() {
                out.respond = Some(response(resp));
                return true;
            }
            // fwd is borrowed from the live filter until its next call: copied now.
            out.forwarded.extend(bytes(fwd));
            false
        };
        let mut stopped = false;
        for c in chunks {
            let (mut fwd, mut resp) = (authsec_bytes_empty(), ptr::null());
            let mut err: *mut authsec_error = ptr::null_mut();
            // SAFETY: f is live and used by this thread only; c is live for the call.
            let st = unsafe {
                authsec_response_filter_feed(f, c.as_ptr(), c.len(), &mut fwd, &mut resp, &mut err)
            };
            if take(st, err, fwd, resp, &mut out) {
                stopped = true;
                break;
            }
        }
        if !stopped {
            let (mut fwd, mut resp) = (authsec_bytes_empty(), ptr::null());
            let mut err: *mut authsec_error = ptr::null_mut();
            // SAFETY: as above.
            let st = unsafe { authsec_response_filter_finish(f, &mut fwd, &mut resp, &mut err) };
            take(st, err, fwd, resp, &mut out);
        }
        // SAFETY: f is owned here and freed once.
        unsafe { authsec_response_filter_free(f) };
        out
    }

    fn canned(&self, which: &str) -> Result<Resp, String> {
        let mut out: *mut authsec_response = ptr::null_mut();
        // SAFETY: out is writable.
        let st = unsafe {
            match which {
                "startup_failed" => authsec_response_startup_failed(&mut out, ptr::null_mut()),
                "internal_error" => authsec_response_internal_error(&mut out, ptr::null_mut()),
                other => return Err(format!("unknown canned answer {other}")),
            }
        };
        if st != authsec_status::Ok {
            return Err(format!("canned {which}: {st:?}"));
        }
        let r = response(out);
        // SAFETY: out is an owned response.
        unsafe { authsec_response_free(out) };
        Ok(r)
    }

    fn metadata(&self, rt: &Rt) -> Result<Resp, String> {
        let mut out: *mut authsec_response = ptr::null_mut();
        // SAFETY: rt is live; out is writable.
        let st = unsafe { authsec_runtime_metadata(rt.0, &mut out, ptr::null_mut()) };
        if st != authsec_status::Ok {
            return Err(format!("metadata failed: {st:?}"));
        }
        let r = response(out);
        // SAFETY: out is an owned response.
        unsafe { authsec_response_free(out) };
        Ok(r)
    }

    fn advance_clock(&self, rt: &Rt, seconds: f64) -> Result<(), String> {
        // SAFETY: rt is live.
        let st = unsafe {
            authsec_runtime_advance_clock(rt.0, (seconds * 1000.0).round() as u64, ptr::null_mut())
        };
        (st == authsec_status::Ok)
            .then_some(())
            .ok_or(format!("advance_clock: {st:?}"))
    }

    fn events(&self, rt: &Rt) -> Result<Vec<String>, String> {
        let mut done = false;
        // SAFETY: rt is live; out-params are writable.
        let st = unsafe { authsec_runtime_flush_audit(rt.0, 30_000, &mut done, ptr::null_mut()) };
        if st != authsec_status::Ok || !done {
            return Err(format!("flush_audit: {st:?}, completed {done}"));
        }
        Ok(std::mem::take(
            &mut *rt.1.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    fn wait_policy_refresh(&self, rt: Arc<Rt>) -> BoxFuture<'static, Result<(), String>> {
        on_thread(move || {
            // SAFETY: rt is live.
            let st = unsafe { authsec_runtime_wait_policy_refresh(rt.0, ptr::null_mut()) };
            (st == authsec_status::Ok)
                .then_some(())
                .ok_or(format!("wait_policy_refresh: {st:?}"))
        })
    }
}

/// An empty `authsec_bytes` (the out-parameter's initial value).
fn authsec_bytes_empty() -> authsec_bytes {
    authsec_bytes {
        data: ptr::null(),
        len: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_conformance_vectors() {
    authsec_conformance::run_all(Abi).await;
}

/// One changed expected byte in copies of a few vectors must fail through this binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_check() {
    authsec_conformance::mutation_check(Abi).await;
}

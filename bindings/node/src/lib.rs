//! `authsec-node`: the Node.js binding of `authsec-core`, built with napi-rs.
//!
//! This crate is the native half of the `@authsec/runtime` npm package. It translates the core's
//! types and nothing more; the public JavaScript API (`index.js`) wraps it. The one rule that
//! shapes it (DESIGN §3): when the core decides from memory (`Check::Ready`), `check` answers
//! synchronously and never touches the async machinery; only `Check::Pending` (a JWKS fetch or an
//! introspection) becomes a Promise, resolved on napi's tokio runtime.
//!
//! Errors carry the core's stable code names (`config_invalid`, ...) as the JS `code` property;
//! messages are the core's, which never contain a secret or a token.

use std::sync::Arc;
use std::time::Duration;

use authsec_core::{
    Check, Config, Decision, FilterOutcome, ManifestReport, ManifestSource, ManualClock, Principal,
    Request, Response, ResponseFilter, RpcAnswer, RpcCall, RpcHandler, Runtime,
};
use futures::FutureExt;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsString, JsValue};
use napi_derive::napi;
use serde_json::{Map, Value};

mod principal_key;
mod request_text;

use principal_key::{allow_key, LastAllowed};

/// An error with a stable code name, thrown as a JS `Error` whose `code` property is the name.
#[derive(Debug)]
pub struct Fail {
    code: &'static str,
    message: String,
}

const INVALID_INPUT: &str = "invalid_input";
const CONFIG_INVALID: &str = "config_invalid";

type Fallible<T> = std::result::Result<T, Fail>;

fn fail(code: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        code,
        message: message.into(),
    }
}

fn core_err(e: authsec_core::Error) -> Fail {
    fail(e.code().as_str(), e.message())
}

/// Throw (or reject with) `f` as a JS `Error` with its `code` property.
fn throw<T>(env: &Env, f: Fail) -> napi::Result<T> {
    reject(env, f.code, &f.message)
}

/// A thrown or rejected JS `Error` with the stable `code` property.
fn reject<T>(env: &Env, code: &str, message: &str) -> napi::Result<T> {
    let mut err = env.create_error(napi::Error::new(Status::GenericFailure, message))?;
    err.set_named_property("code", code)?;
    Err(napi::Error::from(err.into_unknown(env)?))
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The core's field names, in declaration order, read from the serialized default `Config`, so
/// a new core field is mapped without a change here.
fn config_fields() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Map a camelCase config object (the TypeScript API) to the core's snake_case `Config`.
/// Unknown keys are refused, naming the key, like the core refuses unknown JSON fields; a value
/// of the wrong type is refused naming its key. The secret's value is never echoed.
fn config_from_camel(json: &str) -> Fallible<Config> {
    let input: Value = serde_json::from_str(json)
        .map_err(|e| fail(CONFIG_INVALID, format!("invalid config: {e}")))?;
    let Value::Object(input) = input else {
        return Err(fail(CONFIG_INVALID, "invalid config: expected an object"));
    };
    let fields = config_fields();
    let camel: Vec<String> = fields.iter().map(|f| snake_to_camel(f)).collect();
    let mut snake = Map::new();
    for (key, value) in input {
        let Some(i) = camel.iter().position(|c| *c == key) else {
            let expected: Vec<String> = camel.iter().map(|c| format!("`{c}`")).collect();
            return Err(fail(
                CONFIG_INVALID,
                format!(
                    "invalid config: unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                ),
            ));
        };
        // Each field is checked alone so the error names the caller's key. The core never echoes
        // a value in these messages (a mistyped secret included).
        let one = Value::Object(Map::from_iter([(fields[i].clone(), value.clone())]));
        if let Err(e) = serde_json::from_value::<Config>(one) {
            return Err(fail(
                CONFIG_INVALID,
                format!("invalid config: `{key}`: {e}"),
            ));
        }
        snake.insert(fields[i].clone(), value);
    }
    serde_json::from_value(Value::Object(snake))
        .map_err(|e| fail(CONFIG_INVALID, format!("invalid config: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Decisions as JS values

/// What `check` returns: an allow decided from memory as a number (the principal's address and
/// the decision flags, see [`principal_key`]: the hot path creates no JS object), a decision
/// object, or a Promise of one when the core needs I/O.
type CheckResult<'env> = Either3<f64, NativeDecision, PromiseRaw<'env, NativeDecision>>;

/// A decision or filter answer, as the JS layer receives it. `kind` is `allow`, `respond`,
/// `pass_through`, `unchanged`, `rewritten` or (a stream filter step) `forward`.
#[napi(object, object_from_js = false)]
pub struct NativeDecision {
    pub kind: String,
    pub status: Option<u32>,
    /// `[name, value]` pairs, lower-case names.
    pub headers: Option<Vec<Vec<String>>>,
    pub body: Option<Buffer>,
    /// The validated principal (an opaque handle; read it with `principalFields` and `principalClaims`).
    #[napi(ts_type = "ExternalObject<unknown>")]
    pub principal: Option<External<Arc<Principal>>>,
    pub filter_tools_list: Option<bool>,
    /// For an allow: the request contained `tools/list` (a JSON answer is filtered too).
    pub tools_list_request: Option<bool>,
}

impl NativeDecision {
    fn kind(kind: &str) -> Self {
        NativeDecision {
            kind: kind.to_string(),
            status: None,
            headers: None,
            body: None,
            principal: None,
            filter_tools_list: None,
            tools_list_request: None,
        }
    }

    fn respond(r: Response) -> Self {
        let mut d = NativeDecision::kind("respond");
        d.status = Some(r.status as u32);
        d.headers = Some(r.headers.into_iter().map(|(k, v)| vec![k, v]).collect());
        d.body = Some(r.body.into());
        d
    }

    fn from_decision(decision: Decision) -> Self {
        match decision {
            Decision::Allow(a) => {
                let mut d = NativeDecision::kind("allow");
                d.principal = Some(External::new(a.principal));
                d.filter_tools_list = Some(a.filter_tools_list);
                d.tools_list_request = Some(a.tools_list_request);
                d
            }
            Decision::Respond(r) => NativeDecision::respond(r),
            Decision::PassThrough => NativeDecision::kind("pass_through"),
            // A decision this version does not know: refuse with the core's 500.
            _ => NativeDecision::respond(Response::internal_error()),
        }
    }
}

/// The remote policy cache status.
#[napi(object)]
pub struct PolicyStatus {
    pub has_data: bool,
    pub age_seconds: Option<f64>,
    pub last_error: Option<String>,
    pub state: String,
    pub policy_complete: bool,
    pub generation: i64,
    pub fetches: i64,
}

/// What a manifest publish did.
#[napi(object)]
pub struct ManifestResult {
    pub tools_sent: u32,
    pub tools_seen: Option<i64>,
    pub generation: Option<i64>,
}

impl From<ManifestReport> for ManifestResult {
    fn from(r: ManifestReport) -> Self {
        ManifestResult {
            tools_sent: r.tools_sent as u32,
            tools_seen: r.tools_seen.map(|n| n as i64),
            generation: r.generation,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The runtime

/// One configured authsec runtime (the core `Runtime`). Internal: use `Runtime` from
/// `@authsec/runtime`.
/// A JS audit callback: weak (it does not keep the process alive), with a bounded queue.
type AuditFn = ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true, 4096>;

#[napi]
pub struct NativeRuntime {
    core: Runtime,
    clock: Option<Arc<ManualClock>>,
    audit: std::sync::Mutex<Vec<Arc<AuditFn>>>,
    /// The principal of the last allow answered as a number, for `principalHandle`.
    last_allowed: LastAllowed,
}

fn build(config: Config, manual_clock: bool) -> Fallible<NativeRuntime> {
    let clock = manual_clock.then(|| Arc::new(ManualClock::new()));
    // Built inside napi's tokio runtime, so background work (the remote policy refresh) runs there.
    let core = napi::bindgen_prelude::within_runtime_if_available(|| {
        let mut builder = Runtime::builder(config);
        if let Some(c) = &clock {
            builder = builder.clock(c.clone() as Arc<dyn authsec_core::Clock>);
        }
        builder.build()
    })
    .map_err(core_err)?;
    Ok(NativeRuntime {
        core,
        clock,
        audit: std::sync::Mutex::new(Vec::new()),
        last_allowed: LastAllowed::default(),
    })
}

#[napi]
impl NativeRuntime {
    /// Build from the core's snake_case JSON configuration (`Config::from_json`).
    #[napi(factory)]
    pub fn from_json(env: &Env, json: String, manual_clock: bool) -> napi::Result<NativeRuntime> {
        Config::from_json(&json)
            .map_err(core_err)
            .and_then(|c| build(c, manual_clock))
            .or_else(|f| throw(env, f))
    }

    /// Build from a camelCase configuration object serialized as JSON (the TypeScript API).
    #[napi(factory)]
    pub fn from_camel_json(
        env: &Env,
        json: String,
        manual_clock: bool,
    ) -> napi::Result<NativeRuntime> {
        config_from_camel(&json)
            .and_then(|c| build(c, manual_clock))
            .or_else(|f| throw(env, f))
    }

    /// Build from the environment (`Config::from_env(prefix)`).
    #[napi(factory)]
    pub fn from_env(env: &Env, prefix: String, manual_clock: bool) -> napi::Result<NativeRuntime> {
        Config::from_env(&prefix)
            .map_err(core_err)
            .and_then(|c| build(c, manual_clock))
            .or_else(|f| throw(env, f))
    }

    /// Startup work (the remote policy's first fetch); resolves to the warnings.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn startup<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let core = self.core.clone();
        env.spawn_future_with_callback(async move { Ok(core.startup().await) }, |env, result| {
            match result {
                Ok(w) => Ok(w),
                Err(e) => reject(env, e.code().as_str(), e.message()),
            }
        })
    }

    /// Decide one request. Returns the decision when the core decided from memory (an allow as
    /// a number: the principal's address, bit 0 `filterToolsList`, bit 1 `toolsListRequest`;
    /// `principalHandle` gives its handle), a Promise of it only when I/O is needed.
    /// `headers` is `name\0value\0...` joined from a flat list of `fields` strings; `null` when
    /// it does not split into `fields` fields (a name or value contains NUL: call `checkList`).
    /// The strings are read into a reused buffer (`request_text.rs`), not into new `String`s.
    #[napi(
        ts_args_type = "method: string, path: string, headers: string, fields: number, body: Buffer",
        ts_return_type = "number | NativeDecision | Promise<NativeDecision> | null"
    )]
    pub fn check<'env>(
        &self,
        env: &'env Env,
        method: JsString<'env>,
        path: JsString<'env>,
        headers: JsString<'env>,
        fields: u32,
        body: BufferSlice,
    ) -> napi::Result<Option<CheckResult<'env>>> {
        // SAFETY: the handles are this call's arguments.
        unsafe {
            request_text::with_request_text(
                env.raw(),
                method.raw(),
                path.raw(),
                headers.raw(),
                fields,
                |t| match t.pairs {
                    Some(pairs) => self
                        .check_pairs(env, t.method, t.path, &pairs, &body)
                        .map(Some),
                    None => Ok(None),
                },
            )
        }
        .or_else(|_| {
            throw(
                env,
                fail(INVALID_INPUT, "method, path and headers must be strings"),
            )
        })?
    }

    /// `check` with headers as a flat list `[name, value, name, value, ...]` (any characters).
    #[napi(ts_return_type = "number | NativeDecision | Promise<NativeDecision>")]
    pub fn check_list<'env>(
        &self,
        env: &'env Env,
        method: String,
        path: String,
        headers: Vec<String>,
        body: BufferSlice,
    ) -> napi::Result<CheckResult<'env>> {
        let pairs: Vec<(&str, &str)> = headers
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].as_str(), c[1].as_str()))
            .collect();
        self.check_pairs(env, &method, &path, &pairs, &body)
    }

    /// The handle of the principal the last `check` allowed with the number `key` (call it right
    /// after that `check`, once: the JS layer keeps the handle for the next request with the same
    /// principal). Throws `invalid_input` when `key` is not that allow's.
    #[napi(ts_return_type = "ExternalObject<unknown>")]
    pub fn principal_handle(&self, env: &Env, key: f64) -> napi::Result<External<Arc<Principal>>> {
        match self.last_allowed.take(key) {
            Some(p) => Ok(External::new(p)),
            None => throw(
                env,
                fail(
                    INVALID_INPUT,
                    "no allowed principal for this key: call check first",
                ),
            ),
        }
    }

    /// Decide a request whose body is over `max_body_bytes` without passing the body (the
    /// host stopped reading it): `Runtime::check_oversized`. Headers as in `checkList`.
    #[napi]
    pub fn check_oversized(
        &self,
        method: String,
        path: String,
        headers: Vec<String>,
    ) -> NativeDecision {
        let pairs: Vec<(&str, &str)> = headers
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].as_str(), c[1].as_str()))
            .collect();
        let req = Request {
            method: &method,
            path: &path,
            headers: &pairs,
            body: &[],
        };
        NativeDecision::from_decision(self.core.check_oversized(&req))
    }

    /// Filter a handler's whole answer for an allowed principal: an SSE answer always, a JSON
    /// one when `tools_list_request` (the request contained `tools/list`).
    #[napi]
    pub fn filter(
        &self,
        #[napi(ts_arg_type = "ExternalObject<unknown>")] principal: &External<Arc<Principal>>,
        tools_list_request: bool,
        content_type: Option<String>,
        body: BufferSlice,
    ) -> NativeDecision {
        match self.core.filter_response_for(
            principal,
            tools_list_request,
            content_type.as_deref(),
            &body,
        ) {
            FilterOutcome::Unchanged => NativeDecision::kind("unchanged"),
            FilterOutcome::Rewritten(b) => {
                let mut d = NativeDecision::kind("rewritten");
                d.body = Some(b.into());
                d
            }
            FilterOutcome::Respond(r) => NativeDecision::respond(r),
            // An outcome this version does not know: never forward, refuse.
            _ => NativeDecision::respond(Response::internal_error()),
        }
    }

    /// The core's `user_info` document (JSON text) of an allowed principal: `sub`, `email`,
    /// `tenant_id` and the effective RBAC sets, what a protected tool receives as `_user_info`.
    #[napi]
    pub fn user_info(
        &self,
        #[napi(ts_arg_type = "ExternalObject<unknown>")] principal: &External<Arc<Principal>>,
    ) -> String {
        self.core.user_info(principal).to_json().to_string()
    }

    /// A streaming filter for the handler's answer to an allowed request (the core's
    /// `ResponseFilter`): feed chunks, forward what comes back, finish.
    #[napi]
    pub fn response_filter(
        &self,
        #[napi(ts_arg_type = "ExternalObject<unknown>")] principal: &External<Arc<Principal>>,
        tools_list_request: bool,
        content_type: Option<String>,
        content_encoding: Option<String>,
    ) -> NativeResponseFilter {
        NativeResponseFilter {
            inner: self.core.response_filter(
                Arc::clone(principal),
                tools_list_request,
                content_type.as_deref(),
                content_encoding.as_deref(),
            ),
        }
    }

    /// The RFC 9728 document response.
    #[napi]
    pub fn metadata(&self) -> NativeDecision {
        NativeDecision::respond(self.core.metadata())
    }

    /// The path the RFC 9728 document is served at.
    #[napi(getter)]
    pub fn metadata_path(&self) -> String {
        self.core.metadata_path().to_string()
    }

    /// `max_body_bytes` of the configuration (hosts stop reading a body above it).
    #[napi(getter)]
    pub fn max_body_bytes(&self) -> f64 {
        self.core.config().max_body_bytes as f64
    }

    /// `resource_uri` of the configuration.
    #[napi(getter)]
    pub fn resource_uri(&self) -> String {
        self.core.config().resource_uri.clone()
    }

    /// `publish_manifest` of the configuration (whether hosts publish at startup).
    #[napi(getter)]
    pub fn publish_manifest_at_startup(&self) -> bool {
        self.core.config().publish_manifest
    }

    /// The remote policy cache status, `null` unless the policy mode is remote.
    #[napi]
    pub fn policy_status(&self) -> Option<PolicyStatus> {
        self.core.policy_status().map(|s| PolicyStatus {
            has_data: s.has_data,
            age_seconds: s.age_seconds,
            last_error: s.last_error,
            state: s.state,
            policy_complete: s.policy_complete,
            generation: s.generation,
            fetches: s.fetches as i64,
        })
    }

    /// The AuthSec services API (`services_url`) through the core: `what` is `credentials`
    /// (resolves to the answer's JSON text), `token` (the access token) or `user_details`
    /// (JSON text). Rejects with `services_error` / `invalid_input`, never a credential.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn service<'env>(
        &self,
        env: &'env Env,
        what: String,
        session_id: String,
        service_name: String,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let core = self.core.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match what.as_str() {
                    "credentials" => core
                        .service_credentials(&session_id, &service_name)
                        .await
                        .map(|c| Some(c.to_json().to_string())),
                    "token" => core
                        .service_token(&session_id, &service_name)
                        .await
                        .map(|t| Some(t.expose().to_string())),
                    "user_details" => core
                        .service_user_details(&session_id, &service_name)
                        .await
                        .map(|d| Some(Value::Object(d).to_string())),
                    _ => Ok(None),
                })
            },
            |env, r| match r {
                Ok(Some(text)) => Ok(text),
                Ok(None) => reject(env, INVALID_INPUT, "unknown service call"),
                Err(e) => reject(env, e.code().as_str(), e.message()),
            },
        )
    }

    /// Publish the manifest from a list of MCP tool objects (JSON text of the array).
    #[napi(ts_return_type = "Promise<ManifestResult>")]
    pub fn publish_manifest_tools<'env>(
        &self,
        env: &'env Env,
        tools_json: String,
    ) -> napi::Result<PromiseRaw<'env, ManifestResult>> {
        let tools = match serde_json::from_str::<Value>(&tools_json) {
            Ok(Value::Array(t)) => Some(t),
            _ => None,
        };
        let core = self.core.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match tools {
                    Some(t) => Some(core.publish_manifest(ManifestSource::Tools(t)).await),
                    None => None,
                })
            },
            |env, r| match r {
                Some(Ok(report)) => Ok(ManifestResult::from(report)),
                Some(Err(e)) => reject(env, e.code().as_str(), e.message()),
                None => reject(
                    env,
                    INVALID_INPUT,
                    "tools must be an array of MCP tool objects",
                ),
            },
        )
    }

    /// Publish the manifest through a synthetic MCP handshake answered by `handler`, which
    /// receives a JSON-RPC request as JSON text and resolves to the JSON text of the JSON-RPC
    /// response (`null` for a notification).
    #[napi(ts_return_type = "Promise<ManifestResult>")]
    pub fn publish_manifest_handshake<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "(request: string) => Promise<string>")] handler: ThreadsafeFunction<
            String,
            Promise<String>,
            String,
            Status,
            false,
        >,
    ) -> napi::Result<PromiseRaw<'env, ManifestResult>> {
        let handler = Arc::new(handler);
        let rpc: RpcHandler = Arc::new(move |call: RpcCall| {
            let handler = handler.clone();
            async move {
                let text = String::from_utf8(call.body).map_err(|e| e.to_string())?;
                let promise = handler
                    .call_async(text)
                    .await
                    .map_err(|e| e.reason.clone())?;
                let answer = promise.await.map_err(|e| e.reason.clone())?;
                Ok(if answer == "null" || answer.is_empty() {
                    RpcAnswer {
                        status: 202,
                        headers: Vec::new(),
                        body: Vec::new(),
                    }
                } else {
                    RpcAnswer {
                        status: 200,
                        headers: vec![("content-type".into(), "application/json".into())],
                        body: answer.into_bytes(),
                    }
                })
            }
            .boxed()
        });
        let core = self.core.clone();
        env.spawn_future_with_callback(
            async move { Ok(core.publish_manifest(ManifestSource::Handshake(rpc)).await) },
            |env, r| match r {
                Ok(report) => Ok(ManifestResult::from(report)),
                Err(e) => reject(env, e.code().as_str(), e.message()),
            },
        )
    }

    /// Whether this runtime runs on a manual clock (test hook).
    #[napi(getter)]
    pub fn has_manual_clock(&self) -> bool {
        self.clock.is_some()
    }

    /// Move the manual clock forward (test hook).
    #[napi]
    pub fn advance_clock(&self, env: &Env, seconds: f64) -> napi::Result<()> {
        let Some(clock) = &self.clock else {
            return throw(
                env,
                fail(
                    INVALID_INPUT,
                    "advanceClock needs a runtime created with { manualClock: true }",
                ),
            );
        };
        // `try_from_secs_f64` refuses negative, NaN and too-large values (1e300) instead of
        // panicking across the napi boundary.
        match Duration::try_from_secs_f64(seconds) {
            Ok(by) => {
                clock.advance(by);
                Ok(())
            }
            Err(_) => throw(
                env,
                fail(
                    INVALID_INPUT,
                    "advanceClock needs a non-negative number of seconds",
                ),
            ),
        }
    }

    /// Deliver every later audit line (one JSON object and its newline) to `callback`, on the
    /// JS thread. Internal: use `Runtime.onAudit` (it also handles the flush markers, the empty
    /// string).
    #[napi]
    pub fn add_audit_callback(
        &self,
        env: &Env,
        #[napi(ts_arg_type = "(line: string) => void")] callback: AuditFn,
    ) -> napi::Result<()> {
        let f = Arc::new(callback);
        self.audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f.clone());
        // The core's queue is bounded and never waits; this hop never waits either (a JS thread
        // 4096 lines behind loses lines rather than block the audit thread).
        let sink = move |line: &str| {
            f.call(line.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
        };
        self.core
            .add_audit_sink(Arc::new(sink))
            .map_err(core_err)
            .or_else(|e| throw(env, e))
    }

    /// Queue a flush marker (the empty string) behind every line already handed to each audit
    /// callback; `true` for each callback whose marker was queued. Internal: `Runtime.flushAudit`.
    #[napi]
    pub fn audit_markers(&self) -> Vec<bool> {
        self.audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|f| f.call(String::new(), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok)
            .collect()
    }

    /// Wait (off the JS thread) until every audit line queued before the call has reached the
    /// sinks, at most `timeout_ms`; resolves to whether it completed.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn flush_audit<'env>(
        &self,
        env: &'env Env,
        timeout_ms: u32,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let core = self.core.clone();
        env.spawn_future(async move {
            tokio::task::spawn_blocking(move || {
                core.flush_audit(Duration::from_millis(u64::from(timeout_ms)))
            })
            .await
            .map_err(|e| napi::Error::from_reason(e.to_string()))
        })
    }

    /// The runtime's metrics in the Prometheus text format 0.0.4.
    #[napi]
    pub fn metrics(&self) -> String {
        self.core.metrics_text()
    }

    /// Wait until a background policy refresh, if one is running, has finished (test hook).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_policy_refresh<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let core = self.core.clone();
        env.spawn_future(async move {
            core.wait_policy_refresh().await;
            Ok(())
        })
    }
}

impl NativeRuntime {
    fn check_pairs<'env>(
        &self,
        env: &'env Env,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> napi::Result<CheckResult<'env>> {
        let req = Request {
            method,
            path,
            headers,
            body,
        };
        match self.core.check(&req) {
            // The hot path: an allow is a number, the principal kept for `principal_handle`.
            Check::Ready(Decision::Allow(a)) => {
                match allow_key(&a.principal, a.filter_tools_list, a.tools_list_request) {
                    Some(key) => {
                        self.last_allowed.set(a.principal);
                        Ok(Either3::A(key))
                    }
                    None => Ok(Either3::B(NativeDecision::from_decision(Decision::Allow(
                        a,
                    )))),
                }
            }
            Check::Ready(d) => Ok(Either3::B(NativeDecision::from_decision(d))),
            Check::Pending(p) => Ok(Either3::C(
                env.spawn_future_with_callback(p.map(Ok), |_, d| {
                    Ok(NativeDecision::from_decision(d))
                })?,
            )),
        }
    }
}

/// The core's streaming response filter. Internal: use `Runtime.responseFilter`.
#[napi]
pub struct NativeResponseFilter {
    inner: ResponseFilter,
}

fn step(r: std::result::Result<Vec<u8>, Response>) -> NativeDecision {
    match r {
        Ok(b) => {
            let mut d = NativeDecision::kind("forward");
            d.body = Some(b.into());
            d
        }
        Err(r) => NativeDecision::respond(r),
    }
}

#[napi]
impl NativeResponseFilter {
    /// Feed the next chunk: `forward` with the bytes to send now, or `respond` with the answer
    /// to write instead (send nothing more of the handler's).
    #[napi]
    pub fn feed(&mut self, chunk: BufferSlice) -> NativeDecision {
        step(self.inner.feed(&chunk))
    }

    /// The end of the body: `forward` with the last bytes (a held JSON answer: all of it), or
    /// `respond`.
    #[napi]
    pub fn finish(&mut self) -> NativeDecision {
        step(self.inner.finish())
    }

    /// The answer is not filtered at all: forward the handler's bytes and headers as they are.
    #[napi(getter)]
    pub fn passthrough(&self) -> bool {
        self.inner.passthrough()
    }

    /// The forwarded bytes are decoded: drop Content-Encoding.
    #[napi(getter)]
    pub fn drops_content_encoding(&self) -> bool {
        self.inner.drops_content_encoding()
    }

    /// Nothing is forwarded before `finish` (a JSON tools/list answer; set Content-Length then).
    #[napi(getter)]
    pub fn holds_body(&self) -> bool {
        self.inner.holds_body()
    }
}

/// The answer to write while startup has failed (503 `temporarily_unavailable`, no challenge).
#[napi]
pub fn startup_failed_response() -> NativeDecision {
    NativeDecision::respond(Response::startup_failed())
}

/// The answer to write when a call failed (500 `server_error`, a fixed description).
#[napi]
pub fn internal_error_response() -> NativeDecision {
    NativeDecision::respond(Response::internal_error())
}

/// The typed fields of a principal, read with the core's accessors; the claims are not
/// converted (read them with `principalClaims` when needed).
#[napi(object)]
pub struct PrincipalFields {
    pub subject: String,
    pub issuer: String,
    pub audience: Vec<String>,
    pub scopes: Vec<String>,
    pub active: bool,
    /// The OAuth client (`client_id`, else `azp`, else the subject).
    pub client_id: String,
    /// `exp` in Unix seconds, when the token has a numeric one.
    pub expires_at: Option<f64>,
    /// The SPIFFE ID of a workload caller (authenticated with a JWT-SVID).
    pub spiffe_id: Option<String>,
}

/// The typed fields of the principal behind a handle (no claims conversion).
#[napi]
pub fn principal_fields(
    #[napi(ts_arg_type = "ExternalObject<unknown>")] principal: &External<Arc<Principal>>,
) -> PrincipalFields {
    let p: &Principal = principal;
    PrincipalFields {
        subject: p.subject.clone(),
        issuer: p.issuer.clone(),
        audience: p.audience.clone(),
        scopes: p.scopes.clone(),
        active: p.active,
        client_id: p.client_id().to_string(),
        expires_at: p.expires_at().map(|e| e as f64),
        spiffe_id: p.spiffe_id().map(str::to_string),
    }
}

/// Every claim of the principal behind a handle (the JWT payload, overlaid with the
/// introspection answer when both ran), as `JSON.parse` would give it: integers beyond 2^53
/// become the nearest double. napi would turn them into `BigInt`s, which `JSON.stringify`
/// refuses, so a token with `exp: 2^63-1` would make `JSON.stringify(principal)` throw.
#[napi(ts_return_type = "Record<string, unknown>")]
pub fn principal_claims(
    #[napi(ts_arg_type = "ExternalObject<unknown>")] principal: &External<Arc<Principal>>,
) -> Value {
    js_numbers(Value::Object(principal.claims.clone()))
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `value` with every integer outside +-(2^53 - 1) replaced by the nearest double.
fn js_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            let exact = n.as_u64().map(|u| u <= MAX_SAFE_INTEGER).unwrap_or(false)
                || n.as_i64()
                    .map(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER)
                    .unwrap_or(false)
                || n.is_f64();
            if exact {
                Value::Number(n)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(js_numbers).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, js_numbers(v))).collect()),
        other => other,
    }
}

/// The bearer token of a request's headers (flat `[name, value, ...]` list) as the core reads
/// it: `Request::bearer_token` (one `Authorization` header, `Bearer <token>`), else "".
#[napi]
pub fn bearer_token(headers: Vec<String>) -> String {
    let pairs: Vec<(&str, &str)> = headers
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].as_str(), c[1].as_str()))
        .collect();
    let req = Request {
        method: "",
        path: "",
        headers: &pairs,
        body: &[],
    };
    req.bearer_token().unwrap_or_default().to_string()
}

/// Whether the core's response filter reads an answer with this Content-Type to an allowed
/// request with (or without) tools/list (`ResponseFilter::reads`); when false the host forwards
/// the answer untouched without creating a filter.
#[napi]
pub fn filter_reads(tools_list_request: bool, content_type: Option<String>) -> bool {
    ResponseFilter::reads(tools_list_request, content_type.as_deref())
}

/// The core's configuration field names, camelCase (the TypeScript API's keys).
#[napi]
pub fn config_keys() -> Vec<String> {
    config_fields().iter().map(|f| snake_to_camel(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_numbers_fit_js() {
        let v = js_numbers(serde_json::json!({
            "big": 9_223_372_036_854_775_807u64, "max": u64::MAX, "neg": i64::MIN,
            "safe": 9_007_199_254_740_991u64, "small": -5, "f": 1e300,
            "nested": [{"exp": 18_446_744_073_709_551_615u64}]
        }));
        assert!(
            v["big"].is_f64() && v["max"].is_f64() && v["neg"].is_f64(),
            "{v}"
        );
        assert_eq!(v["big"].as_f64(), Some(9.223_372_036_854_776e18));
        assert!(v["nested"][0]["exp"].is_f64(), "{v}");
        assert_eq!(v["safe"].as_u64(), Some(9_007_199_254_740_991));
        assert_eq!(v["small"].as_i64(), Some(-5));
        assert_eq!(v["f"].as_f64(), Some(1e300));
    }

    #[test]
    fn camel_names() {
        assert_eq!(snake_to_camel("jwks_url"), "jwksUrl");
        assert_eq!(
            snake_to_camel("introspection_cache_ttl_seconds"),
            "introspectionCacheTtlSeconds"
        );
        assert!(config_keys().contains(&"issuer".to_string()));
    }

    #[test]
    fn camel_config_maps_and_refuses() {
        let c = config_from_camel(
            r#"{"issuer":"i","jwksUrl":"https://i/jwks","resourceUri":"https://x/mcp","toolScopes":{"list_issues":["r"]}}"#,
        )
        .unwrap();
        assert_eq!(c.jwks_url, "https://i/jwks");
        assert!(c.tool_scopes.unwrap().contains_key("list_issues"));
        let e = config_from_camel(r#"{"jwks_url":"x"}"#).unwrap_err();
        assert!(e.message.contains("`jwks_url`"), "{}", e.message);
        let e = config_from_camel(r#"{"introspectionClientSecret":12345}"#).unwrap_err();
        assert!(!e.message.contains("12345"), "{}", e.message);
        let e = config_from_camel(r#"{"maxBodyBytes":"x"}"#).unwrap_err();
        assert!(e.message.contains("`maxBodyBytes`"), "{}", e.message);
    }
}

// ---------------------------------------------------------------------------------------------
// Workload identity (SPIFFE)

/// One X.509-SVID as PEM text.
#[napi(object)]
pub struct SvidFields {
    pub spiffe_id: String,
    /// The certificate chain, leaf first.
    pub certificate: String,
    /// The PKCS#8 private key (secret).
    pub private_key: String,
    /// The trust domain's X.509 authorities.
    pub trust_bundle: String,
    /// The leaf's `notAfter`, Unix seconds.
    pub expires_at: f64,
    /// The update counter value of this SVID.
    pub version: f64,
}

/// The workload's X.509-SVID from the SPIFFE Workload API, kept current (the core
/// `WorkloadIdentity`). Internal: use `QuickStartSVID` from `@authsec/runtime`.
#[napi]
pub struct NativeWorkload {
    core: authsec_core::WorkloadIdentity,
}

/// Start following the Workload API at `endpoint` (blank: `SPIFFE_ENDPOINT_SOCKET`), writing to
/// `cert_dir` (blank: a new private directory); resolves once the first SVID is on disk.
#[napi(ts_return_type = "Promise<NativeWorkload>")]
pub fn start_workload<'env>(
    env: &'env Env,
    endpoint: String,
    cert_dir: String,
    timeout_ms: u32,
) -> napi::Result<PromiseRaw<'env, NativeWorkload>> {
    let options = authsec_core::WorkloadOptions {
        endpoint,
        cert_dir: (!cert_dir.trim().is_empty()).then(|| cert_dir.into()),
        initial_timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into())),
    };
    env.spawn_future_with_callback(
        async move { Ok(authsec_core::WorkloadIdentity::start(options).await) },
        |env, r| match r {
            Ok(core) => Ok(NativeWorkload { core }),
            Err(e) => reject(env, e.code().as_str(), e.message()),
        },
    )
}

fn path_string(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[napi]
impl NativeWorkload {
    /// The current SVID; throws `svid_expired` once it expired without a replacement.
    #[napi]
    pub fn current(&self, env: &Env) -> napi::Result<SvidFields> {
        match self.core.current() {
            Ok(s) => Ok(SvidFields {
                spiffe_id: s.spiffe_id.clone(),
                certificate: s.certificate_pem.clone(),
                private_key: s.private_key_pem.clone(),
                trust_bundle: s.bundle_pem.clone(),
                expires_at: s.expires_at as f64,
                version: s.version as f64,
            }),
            Err(e) => throw(env, core_err(e)),
        }
    }

    /// The update counter (1 after the first SVID, +1 per new SVID or bundle).
    #[napi(getter)]
    pub fn version(&self) -> f64 {
        self.core.version() as f64
    }

    /// Whether the update stream is connected to the agent now.
    #[napi(getter)]
    pub fn connected(&self) -> bool {
        self.core.connected()
    }

    #[napi(getter)]
    pub fn dir(&self) -> String {
        path_string(&self.core.files().dir)
    }

    #[napi(getter)]
    pub fn cert_file(&self) -> String {
        path_string(&self.core.files().cert)
    }

    #[napi(getter)]
    pub fn key_file(&self) -> String {
        path_string(&self.core.files().key)
    }

    #[napi(getter)]
    pub fn bundle_file(&self) -> String {
        path_string(&self.core.files().bundle)
    }

    /// Resolve with the counter once it exceeds `after` (or after `timeout_ms`).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn wait_update<'env>(
        &self,
        env: &'env Env,
        after: f64,
        timeout_ms: u32,
    ) -> napi::Result<PromiseRaw<'env, f64>> {
        let core = self.core.clone();
        let after = if after.is_finite() && after > 0.0 {
            after as u64
        } else {
            0
        };
        env.spawn_future(async move {
            Ok(core
                .wait_update(after, Duration::from_millis(timeout_ms.into()))
                .await as f64)
        })
    }

    /// A JWT-SVID for `audience` from the Workload API.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn fetch_jwt_svid<'env>(
        &self,
        env: &'env Env,
        audience: String,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let core = self.core.clone();
        env.spawn_future_with_callback(
            async move { Ok(core.fetch_jwt_svid(&[audience]).await) },
            |env, r| match r {
                Ok(t) => Ok(t),
                Err(e) => reject(env, e.code().as_str(), e.message()),
            },
        )
    }

    /// Stop following updates and remove the files (idempotent).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn shutdown<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let core = self.core.clone();
        env.spawn_future(async move {
            core.shutdown().await;
            Ok(())
        })
    }
}

//! Conformance runner for the Rust core: every vector of `tests/conformance/vectors` through the
//! public `authsec-core` API, with the shared runner of `tests/conformance/runner`.
//! `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::sync::Arc;
use std::time::Duration;

use authsec_conformance::{Binding, Failure, Filtered, Outcome, Req, Resp, Streamed};
use authsec_core::{Allow, Config, Decision, FilterOutcome, ManualClock, Request, Runtime};
use futures::future::BoxFuture;
use futures::FutureExt;

struct Core;

struct CoreRuntime {
    rt: Runtime,
    clock: Arc<ManualClock>,
    audit: Arc<std::sync::Mutex<Vec<String>>>,
}

fn failure(e: authsec_core::Error) -> Failure {
    Failure {
        code: e.code().as_str().to_string(),
        message: e.message().to_string(),
    }
}

fn resp(r: authsec_core::Response) -> Resp {
    Resp {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

impl Binding for Core {
    const NAME: &'static str = "rust core";
    type Runtime = CoreRuntime;
    type Allowed = Allow;

    fn build(&self, config_json: &str) -> Result<CoreRuntime, Failure> {
        let clock = Arc::new(ManualClock::new());
        let rt = Config::from_json(config_json)
            .and_then(|c| {
                Runtime::builder(c)
                    .clock(clock.clone() as Arc<dyn authsec_core::Clock>)
                    .build()
            })
            .map_err(failure)?;
        let audit = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = audit.clone();
        rt.add_audit_sink(Arc::new(move |l: &str| {
            lines.lock().unwrap().push(l.to_string())
        }))
        .map_err(failure)?;
        Ok(CoreRuntime { rt, clock, audit })
    }

    fn startup(&self, rt: Arc<CoreRuntime>) -> BoxFuture<'static, Result<(), Failure>> {
        async move { rt.rt.startup().await.map(drop).map_err(failure) }.boxed()
    }

    fn check(
        &self,
        rt: Arc<CoreRuntime>,
        req: Arc<Req>,
    ) -> BoxFuture<'static, Outcome<Self::Allowed>> {
        async move {
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let request = Request {
                method: &req.method,
                path: &req.path,
                headers: &headers,
                body: &req.body,
            };
            let decision = if req.oversized {
                rt.rt.check_oversized(&request)
            } else {
                rt.rt.check(&request).resolve().await
            };
            match decision {
                Decision::Allow(a) => Outcome::Allow {
                    principal: serde_json::to_value(&*a.principal).unwrap_or_default(),
                    filter_tools_list: a.filter_tools_list,
                    user_info: serde_json::to_vec(&rt.rt.user_info(&a.principal).to_json()).ok(),
                    handle: a,
                },
                Decision::Respond(r) => Outcome::Respond(resp(r)),
                Decision::PassThrough => Outcome::PassThrough,
                other => panic!("a decision the runner does not know: {other:?}"),
            }
        }
        .boxed()
    }

    fn filter(
        &self,
        rt: &CoreRuntime,
        allowed: &Allow,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Filtered {
        match rt.rt.filter_allowed_response(allowed, content_type, body) {
            FilterOutcome::Unchanged => Filtered::Unchanged,
            FilterOutcome::Rewritten(b) => Filtered::Rewritten(b),
            FilterOutcome::Respond(r) => Filtered::Respond(resp(r)),
            other => panic!("a filter outcome the runner does not know: {other:?}"),
        }
    }

    fn filter_stream(
        &self,
        rt: &CoreRuntime,
        allowed: &Allow,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        chunks: &[&[u8]],
    ) -> Streamed {
        let mut f = rt.rt.response_filter(
            allowed.principal.clone(),
            allowed.tools_list_request,
            content_type,
            content_encoding,
        );
        let mut out = Streamed {
            drops_content_encoding: f.drops_content_encoding(),
            ..Streamed::default()
        };
        for c in chunks {
            match f.feed(c) {
                Ok(b) => out.forwarded.extend(b),
                Err(r) => {
                    out.respond = Some(resp(r));
                    return out;
                }
            }
        }
        match f.finish() {
            Ok(b) => out.forwarded.extend(b),
            Err(r) => out.respond = Some(resp(r)),
        }
        out
    }

    fn canned(&self, which: &str) -> Result<Resp, String> {
        match which {
            "startup_failed" => Ok(resp(authsec_core::Response::startup_failed())),
            "internal_error" => Ok(resp(authsec_core::Response::internal_error())),
            other => Err(format!("unknown canned answer {other}")),
        }
    }

    fn metadata(&self, rt: &CoreRuntime) -> Result<Resp, String> {
        Ok(resp(rt.rt.metadata()))
    }

    fn advance_clock(&self, rt: &CoreRuntime, seconds: f64) -> Result<(), String> {
        rt.clock.advance(Duration::from_secs_f64(seconds));
        Ok(())
    }

    fn events(&self, rt: &CoreRuntime) -> Result<Vec<String>, String> {
        if !rt.rt.flush_audit(Duration::from_secs(30)) {
            return Err("audit flush timed out".into());
        }
        Ok(std::mem::take(&mut *rt.audit.lock().unwrap()))
    }

    fn wait_policy_refresh(&self, rt: Arc<CoreRuntime>) -> BoxFuture<'static, Result<(), String>> {
        async move {
            rt.rt.wait_policy_refresh().await;
            Ok(())
        }
        .boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_vectors() {
    authsec_conformance::run_all(Core).await;
}

/// One changed expected byte in copies of a few vectors must fail through this binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_check() {
    authsec_conformance::mutation_check(Core).await;
}

//! Conformance runner for the Rust core: executes every vector of `tests/conformance/vectors`
//! through the public `authsec-core` API against the fixture backend, as
//! `tests/conformance/README.md` specifies. `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use authsec_core::{
    Allow, Config, Decision, FilterOutcome, ManualClock, Principal, Request, Response, Runtime,
};
use authsec_fixture::Fixture;
use base64::Engine;
use serde_json::{Map, Value};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/vectors")
}

/// Replace `{{base}}` and `{{token:NAME}}` in every string and object key.
fn substitute(v: &Value, base: &str, tokens: &BTreeMap<String, String>) -> Value {
    let s = |text: &str| {
        let mut out = text.replace("{{base}}", base);
        for (name, tok) in tokens {
            out = out.replace(&format!("{{{{token:{name}}}}}"), tok);
        }
        out
    };
    match v {
        Value::String(t) => Value::String(s(t)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, base, tokens)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (s(k), substitute(x, base, tokens)))
                .collect(),
        ),
        other => other.clone(),
    }
}

struct OwnedRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn build_request(r: &Value) -> Result<OwnedRequest, String> {
    let method = r["method"].as_str().unwrap_or("POST").to_string();
    let path = r["path"].as_str().unwrap_or("/mcp").to_string();
    let mut headers = Vec::new();
    for h in r["headers"].as_array().into_iter().flatten() {
        let pair = h.as_array().ok_or("header must be [name, value]")?;
        headers.push((
            pair[0].as_str().ok_or("header name")?.to_string(),
            pair[1].as_str().ok_or("header value")?.to_string(),
        ));
    }
    let body = body_of(r)?;
    Ok(OwnedRequest {
        method,
        path,
        headers,
        body,
    })
}

fn body_of(r: &Value) -> Result<Vec<u8>, String> {
    if let Some(j) = r.get("body_json") {
        return Ok(serde_json::to_vec(j).unwrap());
    }
    if let Some(s) = r.get("body").and_then(Value::as_str) {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(b) = r.get("body_base64").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("body_base64: {e}"));
    }
    if let Some(rep) = r.get("body_repeat") {
        let byte = rep["byte"]
            .as_str()
            .and_then(|s| s.bytes().next())
            .unwrap_or(b'a');
        let count = rep["count"].as_u64().ok_or("body_repeat.count")? as usize;
        return Ok(vec![byte; count]);
    }
    Ok(Vec::new())
}

async fn run_check(rt: &Runtime, r: &OwnedRequest) -> Decision {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = Request {
        method: &r.method,
        path: &r.path,
        headers: &headers,
        body: &r.body,
    };
    rt.check(&req).resolve().await
}

/// Parse `Bearer a="b", c="d"` into its scheme and parameters.
fn parse_challenge(h: &str) -> (String, BTreeMap<String, String>) {
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), &q[(end + 1).min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(name, value);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_string(), params)
}

fn check_response(resp: &Response, e: &Value) -> Result<(), String> {
    let body_text = String::from_utf8_lossy(&resp.body).to_string();
    if let Some(s) = e.get("status").and_then(Value::as_u64) {
        if resp.status as u64 != s {
            return Err(format!(
                "status {} != expected {s}; body {body_text}",
                resp.status
            ));
        }
    }
    if let Some(hs) = e.get("headers").and_then(Value::as_object) {
        for (k, v) in hs {
            let got = resp.header(k);
            if got != v.as_str() {
                return Err(format!("header {k}: {got:?} != expected {v}"));
            }
        }
    }
    let www = resp.header("www-authenticate");
    if e.get("no_www_authenticate") == Some(&Value::Bool(true)) && www.is_some() {
        return Err(format!("unexpected www-authenticate {www:?}"));
    }
    match e.get("www_authenticate") {
        Some(Value::String(exact)) if www != Some(exact.as_str()) => {
            return Err(format!(
                "www-authenticate {www:?}\n   != expected {exact:?}"
            ));
        }
        Some(Value::Object(params)) => {
            let h = www.ok_or("missing www-authenticate")?;
            let (scheme, got) = parse_challenge(h);
            for (k, v) in params {
                if k == "scheme" {
                    if Some(scheme.as_str()) != v.as_str() {
                        return Err(format!("challenge scheme {scheme} != {v}"));
                    }
                    continue;
                }
                match (v, got.get(k)) {
                    (Value::Null, None) => {}
                    (Value::Null, Some(g)) => {
                        return Err(format!("challenge param {k}={g:?} must be absent in {h}"))
                    }
                    (Value::String(want), Some(g)) if want == g => {}
                    (want, g) => {
                        return Err(format!("challenge param {k}: {g:?} != {want} in {h}"))
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(j) = e.get("body_json") {
        let want = serde_json::to_string(j).unwrap();
        if body_text != want {
            return Err(format!("body\n   got      {body_text}\n   expected {want}"));
        }
    }
    if let Some(b) = e.get("body").and_then(Value::as_str) {
        if body_text != b {
            return Err(format!(
                "body\n   got      {body_text:?}\n   expected {b:?}"
            ));
        }
    }
    Ok(())
}

fn check_principal(p: &Principal, want: &Map<String, Value>) -> Result<(), String> {
    let got = serde_json::to_value(p).unwrap();
    for (k, v) in want {
        if k == "claims" {
            let claims = v.as_object().ok_or("claims must be an object")?;
            for (ck, cv) in claims {
                if got["claims"].get(ck) != Some(cv) {
                    return Err(format!(
                        "principal claim {ck}: {:?} != {cv}",
                        got["claims"].get(ck)
                    ));
                }
            }
        } else if got.get(k) != Some(v) {
            return Err(format!("principal {k}: {:?} != {v}", got.get(k)));
        }
    }
    Ok(())
}

fn check_decision(d: &Decision, e: &Value) -> Result<(), String> {
    let want = e["decision"].as_str().ok_or("expect.decision missing")?;
    match (want, d) {
        ("respond", Decision::Respond(r)) => check_response(r, e),
        (
            "allow",
            Decision::Allow(Allow {
                principal,
                filter_tools_list,
            }),
        ) => {
            if let Some(p) = e.get("principal").and_then(Value::as_object) {
                check_principal(principal, p)?;
            }
            if let Some(f) = e.get("filter_tools_list").and_then(Value::as_bool) {
                if f != *filter_tools_list {
                    return Err(format!("filter_tools_list {filter_tools_list} != {f}"));
                }
            }
            Ok(())
        }
        ("pass_through", Decision::PassThrough) => Ok(()),
        (want, Decision::Respond(r)) => Err(format!(
            "expected {want}, got respond {} {:?} {}",
            r.status,
            r.header("www-authenticate"),
            String::from_utf8_lossy(&r.body)
        )),
        (want, other) => Err(format!("expected {want}, got {other:?}")),
    }
}

fn check_error(err: &authsec_core::Error, e: &Value) -> Result<(), String> {
    if let Some(code) = e.get("code").and_then(Value::as_str) {
        if err.code().as_str() != code {
            return Err(format!("error code {} != {code} ({})", err.code(), err));
        }
    }
    if let Some(m) = e.get("message").and_then(Value::as_str) {
        if err.message() != m {
            return Err(format!("error message {:?} != {m:?}", err.message()));
        }
    }
    if let Some(m) = e.get("message_contains").and_then(Value::as_str) {
        if !err.message().contains(m) {
            return Err(format!("error message {:?} lacks {m:?}", err.message()));
        }
    }
    Ok(())
}

async fn run_vector(fx: &Fixture, raw: &Value) -> Result<(), String> {
    let empty = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for (name, spec) in raw["tokens"].as_object().into_iter().flatten() {
        let spec = substitute(spec, &fx.base_url, &empty);
        let tok = match spec.get("opaque").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => fx.mint(spec).await,
        };
        tokens.insert(name.clone(), tok);
    }
    let v = substitute(raw, &fx.base_url, &tokens);
    fx.reset(
        v.get("backend")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    )
    .await;

    let clock = Arc::new(ManualClock::new());
    let built = Config::from_json(&v["config"].to_string()).and_then(|c| {
        Runtime::builder(c)
            .clock(clock.clone() as Arc<dyn authsec_core::Clock>)
            .build()
    });
    let rt = match (built, v.get("expect_config_error")) {
        (Err(e), Some(want)) => return check_error(&e, want),
        (Ok(_), Some(_)) => return Err("expected a config error, runtime was built".into()),
        (Err(e), None) => return Err(format!("runtime build failed: {e:?}")),
        (Ok(rt), None) => rt,
    };
    match (rt.startup().await, v.get("expect_startup_error")) {
        (Err(e), Some(want)) => return check_error(&e, want),
        (Ok(_), Some(_)) => return Err("expected a startup error".into()),
        (Err(e), None) => return Err(format!("startup failed: {e:?}")),
        (Ok(_), None) => {}
    }

    let mut last_principal: Option<Arc<Principal>> = None;
    for (i, step) in v["steps"].as_array().into_iter().flatten().enumerate() {
        let at = |e: String| format!("step {i}: {e}");
        if let Some(c) = step.get("control") {
            let method = c["method"].as_str().unwrap_or("POST");
            let path = c["path"]
                .as_str()
                .ok_or_else(|| at("control.path".into()))?;
            fx.control(method, path, c.get("body").cloned()).await;
        } else if let Some(r) = step.get("request") {
            let req = build_request(r).map_err(at)?;
            let n = step.get("concurrency").and_then(Value::as_u64).unwrap_or(1);
            let decisions = if n <= 1 {
                vec![run_check(&rt, &req).await]
            } else {
                let req = Arc::new(req);
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (rt, req) = (rt.clone(), req.clone());
                        tokio::spawn(async move { run_check(&rt, &req).await })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.map_err(|e| at(e.to_string()))?);
                }
                out
            };
            for d in &decisions {
                check_decision(d, &step["expect"]).map_err(at)?;
                if let Decision::Allow(a) = d {
                    last_principal = Some(a.principal.clone());
                }
            }
        } else if let Some(f) = step.get("filter") {
            let p = last_principal
                .clone()
                .ok_or_else(|| at("filter step without a previous allow".into()))?;
            let body = body_of(f).map_err(at)?;
            let ct = f["content_type"].as_str();
            let out = rt.filter_response(&p, ct, &body);
            let e = &step["expect"];
            match (e["result"].as_str(), out) {
                (Some("unchanged"), FilterOutcome::Unchanged) => {}
                (Some("rewritten"), FilterOutcome::Rewritten(b)) => {
                    let resp = Response {
                        status: 200,
                        headers: vec![],
                        body: b.clone(),
                    };
                    check_response(&resp, e).map_err(at)?;
                    if let Some(n) = e.get("content_length").and_then(Value::as_u64) {
                        if b.len() as u64 != n {
                            return Err(at(format!("content_length {} != {n}", b.len())));
                        }
                    }
                }
                (Some("respond"), FilterOutcome::Respond(r)) => {
                    check_response(&r, e).map_err(at)?
                }
                (want, got) => return Err(at(format!("filter: expected {want:?}, got {got:?}"))),
            }
        } else if step.get("metadata").is_some() {
            check_response(&rt.metadata(), &step["expect"]).map_err(at)?;
        } else if let Some(c) = step.get("counters").and_then(Value::as_object) {
            let got = fx.counters().await;
            for (k, want) in c {
                if got.get(k) != Some(want) {
                    return Err(at(format!("counter {k}: {:?} != {want}", got.get(k))));
                }
            }
        } else if step.get("await_policy_refresh").is_some() {
            rt.wait_policy_refresh().await;
        } else if let Some(s) = step.get("advance_clock").and_then(Value::as_f64) {
            clock.advance(Duration::from_secs_f64(s));
        } else {
            return Err(at(format!("unknown step {step}")));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_vectors() {
    let filter = std::env::var("AUTHSEC_VECTOR").unwrap_or_default();
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
        .expect("vectors dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors found");
    let fx = Fixture::start().await.expect("start fixture");
    let (mut passed, mut failed) = (0, Vec::new());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
        let id = raw["id"].as_str().unwrap_or("?").to_string();
        assert_eq!(
            Some(id.as_str()),
            path.file_stem().and_then(|s| s.to_str()),
            "vector id must equal its file name"
        );
        if !id.starts_with(&filter) {
            continue;
        }
        match run_vector(&fx, &raw).await {
            Ok(()) => passed += 1,
            Err(e) => failed.push(format!("{id}: {e}")),
        }
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "conformance (rust core): {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{} vectors failed", failed.len());
}

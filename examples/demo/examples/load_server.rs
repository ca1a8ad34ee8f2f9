//! The Rust row of the whole-server load benchmark (`scripts/load.sh`): one trivial MCP handler
//! on axum, served unprotected (`--unprotected`) or behind `authsec_core::Runtime::check`
//! (`--protected`), so the two differ only by the protection.
//!
//! The handler answers a JSON-RPC `tools/call` with a fixed small result (`{"content":[{"type":
//! "text","text":"ok"}]}`, echoing the request id), the same bytes as the Node, C and Python load
//! servers. Configuration comes from the environment (`AUTHSEC_ISSUER`, `AUTHSEC_JWKS_URL`,
//! `AUTHSEC_RESOURCE_URI`, `AUTHSEC_TOOL_SCOPES_JSON`, ...), as for the C example. Listens on
//! 127.0.0.1 (a free port, or `--port N`) and prints `READY http://127.0.0.1:<port>`; stops on
//! SIGTERM or Ctrl-C.
//!
//! `cargo run --release --locked -p authsec-demo --example load_server -- --protected`

use std::net::SocketAddr;
use std::sync::OnceLock;

use authsec_core::{Config, Decision, FilterOutcome, Request, Runtime};
use axum::body::{to_bytes, Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// The MCP handler both variants run: parse the JSON-RPC request, answer `tools/call` with the
/// fixed result, anything else with "method not found". `None` for a notification (HTTP 202).
fn mcp_handler(body: &[u8]) -> Option<Vec<u8>> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Some(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#
                .to_vec(),
        );
    };
    let id = req.get("id").map(Value::to_string);
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let id = match id {
        Some(id) => id,
        None if method.starts_with("notifications/") => return None,
        None => "null".to_string(),
    };
    Some(match method {
        "tools/call" => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"ok"}}]}}}}"#
        )
        .into_bytes(),
        _ => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found"}}}}"#
        )
        .into_bytes(),
    })
}

/// What the server answers: `/mcp` runs the handler (200 with its JSON, or 202 for a
/// notification); every other path is 404.
enum Answer {
    Json(Vec<u8>),
    Accepted,
    NotFound,
}

fn serve_mcp(method: &Method, uri: &Uri, body: &[u8]) -> Answer {
    if uri.path() != "/mcp" || method != Method::POST {
        return Answer::NotFound;
    }
    match mcp_handler(body) {
        Some(out) => Answer::Json(out),
        None => Answer::Accepted,
    }
}

fn to_response(answer: Answer) -> Response {
    match answer {
        Answer::Json(out) => json_ok(out),
        Answer::Accepted => respond(202, vec![], Vec::new()),
        Answer::NotFound => respond(404, vec![], b"not found".to_vec()),
    }
}

fn json_ok(body: Vec<u8>) -> Response {
    respond(
        200,
        vec![("content-type".into(), "application/json".into())],
        body,
    )
}

async fn unprotected(method: Method, uri: Uri, body: Bytes) -> Response {
    to_response(serve_mcp(&method, &uri, &body))
}

/// Every request goes through `Runtime::check` first (the runtime also serves the RFC 9728
/// document); the handler runs only on an allow. A pass-through (an invalid token on a
/// handshake) is answered without running the handler: this server has no handshake methods.
///
/// The request is taken whole and split (not through the `HeaderMap` extractor, which clones
/// every header per request), and its headers are lent to the core as `(&str, &str)` pairs in
/// a stack buffer when they fit (a request with more headers than that uses a `Vec`).
async fn protected(rt: &'static Runtime, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
    let limit = usize::try_from(rt.config().max_body_bytes).unwrap_or(usize::MAX);
    let body = to_bytes(body, limit).await;
    let mut stack = [("", ""); 16];
    let mut heap = Vec::new();
    let pairs: &[(&str, &str)] = if headers.len() <= stack.len() {
        let mut n = 0;
        for (k, v) in headers {
            if let Ok(v) = v.to_str() {
                stack[n] = (k.as_str(), v);
                n += 1;
            }
        }
        &stack[..n]
    } else {
        heap.extend(
            headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
        );
        &heap
    };
    let mut req = Request {
        method: method.as_str(),
        path: uri.path(),
        headers: pairs,
        body: &[],
    };
    // Past the limit (or unreadable) the body is not kept: the runtime refuses without it.
    let Ok(body) = body else {
        return match rt.check_oversized(&req) {
            Decision::Respond(r) => respond(r.status, r.headers, r.body),
            _ => {
                let r = authsec_core::Response::internal_error();
                respond(r.status, r.headers, r.body)
            }
        };
    };
    req.body = &body;
    let allow = match rt.check(&req).resolve().await {
        Decision::Respond(r) => return respond(r.status, r.headers, r.body),
        Decision::Allow(a) => a,
        // A pass-through carries no caller, and a decision this build does not know: refuse.
        _ => {
            let r = authsec_core::Response::internal_error();
            return respond(r.status, r.headers, r.body);
        }
    };
    let out = match serve_mcp(method, uri, &body) {
        Answer::Json(out) if allow.filter_tools_list => out,
        other => return to_response(other),
    };
    // The answer goes through the core's filter when the decision asks (every allow under a
    // policy; a JSON answer to anything but tools/list comes back unchanged): never unfiltered.
    match rt.filter_allowed_response(&allow, Some("application/json"), &out) {
        FilterOutcome::Unchanged => json_ok(out),
        FilterOutcome::Rewritten(b) => json_ok(b),
        FilterOutcome::Respond(r) => respond(r.status, r.headers, r.body),
        _ => {
            let r = authsec_core::Response::internal_error();
            respond(r.status, r.headers, r.body)
        }
    }
}

fn respond(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}

/// The protected variant's runtime.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let protect = match (
        args.iter().any(|a| a == "--protected"),
        args.iter().any(|a| a == "--unprotected"),
    ) {
        (true, false) => true,
        (false, true) => false,
        _ => {
            eprintln!("usage: load_server --protected|--unprotected [--port N]");
            std::process::exit(2);
        }
    };
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind 127.0.0.1");
    let addr: SocketAddr = listener.local_addr().expect("address");
    let app = if protect {
        let config = match Config::from_env("AUTHSEC_") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("config: {e}");
                std::process::exit(2);
            }
        };
        // One runtime for the life of the process, borrowed by every request (no reference
        // count touched per request: two cores would pass its cache line back and forth).
        let rt: &'static Runtime = RUNTIME.get_or_init(|| {
            Runtime::new(config).unwrap_or_else(|e| {
                eprintln!("runtime: {e}");
                std::process::exit(2);
            })
        });
        if let Err(e) = rt.startup().await {
            eprintln!("startup: {e}");
            std::process::exit(3);
        }
        axum::Router::new().fallback(move |r: axum::extract::Request| protected(rt, r))
    } else {
        axum::Router::new().fallback(unprotected)
    };
    println!("READY http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .expect("serve");
}

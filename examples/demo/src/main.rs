//! `authsec-demo`: a protected MCP server in one command.
//!
//! It starts an embedded dev issuer (the fixture backend: JWKS and token minting with test keys)
//! and a tiny MCP JSON-RPC server on 127.0.0.1 behind `authsec-core`, then walks through the
//! protection with real HTTP requests: the 401 challenge, the RFC 9728 metadata document it points
//! to, a filtered `tools/list`, an allowed call, denied calls (in-band for MCP clients, HTTP 403
//! otherwise) and a token minted for another server. Each step checks what it shows; the demo exits
//! non-zero if anything differs. `--serve` keeps the server running for your own requests.

use std::net::SocketAddr;
use std::sync::Arc;

use authsec_core::{Config, Decision, FilterOutcome, Request, Runtime};
use authsec_fixture::Fixture;
use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// The MCP server behind the runtime: initialize, tools/list (three tools), tools/call (echo).
fn mcp_handler(body: &[u8], principal: Option<&authsec_core::Principal>) -> (StatusCode, Value) {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, json!({"error": "not JSON-RPC"}));
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req["method"].as_str().unwrap_or("");
    // A handshake pass-through carries no caller: answer the handshake and run nothing else.
    if principal.is_none()
        && !matches!(method, "initialize" | "ping")
        && !method.starts_with("notifications/")
    {
        return (
            StatusCode::OK,
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": "authentication required"}}),
        );
    }
    let result = match method {
        "ping" => json!({}),
        "initialize" => json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                               "serverInfo": {"name": "authsec-demo", "version": "0.1.0"}}),
        "tools/list" => json!({"tools": [
            {"name": "list_issues", "description": "List open issues", "inputSchema": {"type": "object"}},
            {"name": "create_issue", "description": "Open an issue", "inputSchema": {"type": "object"}},
            {"name": "server_info", "description": "Public server information", "inputSchema": {"type": "object"}}
        ]}),
        "tools/call" => {
            let who = principal.map(|p| p.subject.as_str()).unwrap_or_default();
            let tool = req["params"]["name"].as_str().unwrap_or("");
            json!({"content": [{"type": "text", "text": format!("{tool} ran for {who}")}]})
        }
        m if m.starts_with("notifications/") => return (StatusCode::ACCEPTED, Value::Null),
        m => {
            return (
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("Method not found: {m}")}}),
            )
        }
    };
    (
        StatusCode::OK,
        json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

/// Every request goes through `Runtime::check`; the runtime serves the metadata document itself.
async fn protected(
    rt: Arc<Runtime>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = to_bytes(body, 8 * 1024 * 1024).await.unwrap_or_default();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let req = Request {
        method: method.as_str(),
        path: uri.path(),
        headers: &pairs,
        body: &body,
    };
    let allow = match rt.check(&req).resolve().await {
        Decision::Respond(r) => return to_response(r.status, r.headers, r.body),
        Decision::PassThrough => None,
        Decision::Allow(a) => Some(a),
        // A decision this build does not know: refuse (fail closed).
        _ => {
            let r = authsec_core::Response::internal_error();
            return to_response(r.status, r.headers, r.body);
        }
    };
    let principal = allow.as_ref().map(|a| a.principal.clone());
    if uri.path() != "/mcp" {
        return to_response(404, vec![], b"not found".to_vec());
    }
    let (status, answer) = mcp_handler(&body, principal.as_deref());
    let mut out = if answer.is_null() {
        Vec::new()
    } else {
        answer.to_string().into_bytes()
    };
    if let Some(a) = allow.as_ref().filter(|a| a.filter_tools_list) {
        match rt.filter_allowed_response(a, Some("application/json"), &out) {
            FilterOutcome::Unchanged => {}
            FilterOutcome::Rewritten(b) => out = b,
            // Respond, or an outcome this build does not know: never forward unfiltered.
            FilterOutcome::Respond(r) => return to_response(r.status, r.headers, r.body),
            _ => {
                let r = authsec_core::Response::internal_error();
                return to_response(r.status, r.headers, r.body);
            }
        }
    }
    to_response(
        status.as_u16(),
        vec![("content-type".into(), "application/json".into())],
        out,
    )
}

fn to_response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Response {
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

struct Walk {
    client: reqwest::Client,
    failures: usize,
}

impl Walk {
    /// Send a request, print it and its answer, and check the status and a body fragment.
    async fn step(
        &mut self,
        title: &str,
        req: reqwest::RequestBuilder,
        want_status: u16,
        want_text: &str,
    ) -> (HeaderMap, String) {
        self.step_without(title, req, want_status, want_text, None)
            .await
    }

    /// [`Walk::step`], also checking that `absent` does not occur in the body.
    async fn step_without(
        &mut self,
        title: &str,
        req: reqwest::RequestBuilder,
        want_status: u16,
        want_text: &str,
        absent: Option<&str>,
    ) -> (HeaderMap, String) {
        let resp = req.send().await.expect("demo server reachable");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        let ok = status == want_status
            && body.contains(want_text)
            && absent.is_none_or(|a| !body.contains(a));
        println!("\n== {title}");
        println!("   HTTP {status}");
        if let Some(h) = headers.get("www-authenticate") {
            println!("   WWW-Authenticate: {}", h.to_str().unwrap_or("?"));
        }
        let pretty = serde_json::from_str::<Value>(&body)
            .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
            .unwrap_or(body.clone());
        for line in pretty.lines().take(40) {
            println!("   {line}");
        }
        if ok {
            println!("   ok: as expected");
        } else {
            match absent {
                Some(a) => println!(
                    "   MISMATCH: expected HTTP {want_status} with {want_text:?} and without {a:?}"
                ),
                None => println!("   MISMATCH: expected HTTP {want_status} with {want_text:?}"),
            }
            self.failures += 1;
        }
        (headers, body)
    }

    fn rpc(&self, url: &str, token: Option<&str>, body: Value) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }
}

#[tokio::main]
async fn main() {
    let serve = std::env::args().any(|a| a == "--serve");
    let issuer = Fixture::start().await.expect("start the dev issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("address");
    let resource = format!("http://{addr}/mcp");
    let config = Config::from_json(
        &json!({
            "issuer": issuer.base_url,
            "jwks_url": format!("{}/jwks", issuer.base_url),
            "resource_uri": resource,
            "resource_name": "AuthSec Demo MCP Server",
            "policy_mode": "local_only",
            // Every decision as one JSON line on stderr (docs/audit.md).
            "audit_log": "stderr",
            "supported_scopes": ["issues:read", "issues:write"],
            "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"], "server_info": []}
        })
        .to_string(),
    )
    .expect("demo config");
    let rt = Arc::new(Runtime::new(config).expect("runtime"));
    rt.startup().await.expect("startup");
    let app = axum::Router::new().fallback({
        let rt = rt.clone();
        move |m: Method, u: axum::http::Uri, h: HeaderMap, b: Body| {
            protected(rt.clone(), m, u, h, b)
        }
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    let mint = |scope: &'static str, aud: String| {
        let issuer = &issuer;
        async move {
            issuer
                .mint(
                    json!({"kid": "rsa-1", "header": {"typ": "at+jwt"}, "claims": {
                    "iss": issuer.base_url, "sub": "demo-user", "client_id": "demo-client",
                    "aud": aud, "scope": scope, "iat": {"$now": 0}, "exp": {"$now": 3600}}}),
                )
                .await
        }
    };
    let reader = mint("issues:read", resource.clone()).await;
    println!(
        "authsec demo: MCP server {resource} protected by authsec-core; dev issuer {}",
        issuer.base_url
    );

    if serve {
        println!("\nA token with scope issues:read (valid 1 h):\n{reader}\n");
        println!("Try (tools/list, filtered to what the token may call):\n  curl -i -X POST {resource} -H 'content-type: application/json' -H 'authorization: Bearer {reader}' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}'");
        println!("Without a token (401 and its challenge):\n  curl -i -X POST {resource} -H 'content-type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}'");
        println!("\nServing until Ctrl-C.");
        let _ = tokio::signal::ctrl_c().await;
        return;
    }

    let mut w = Walk {
        client: reqwest::Client::new(),
        failures: 0,
    };
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let call = |tool: &str| json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": {}}});

    let (headers, _) = w
        .step(
            "1. No token: 401 with a challenge that points to the metadata",
            w.rpc(&resource, None, list.clone()),
            401,
            "missing bearer token",
        )
        .await;
    let challenge = headers
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
        .to_string();
    w.step(
        "2. The RFC 9728 metadata document at resource_metadata",
        w.client.get(&metadata_url),
        200,
        "\"authorization_servers\"",
    )
    .await;
    w.step_without(
        "3. tools/list with scope issues:read: create_issue is filtered out",
        w.rpc(&resource, Some(&reader), list.clone()),
        200,
        "\"list_issues\"",
        Some("create_issue"),
    )
    .await;
    w.step(
        "4. tools/call list_issues: allowed, the handler sees the principal",
        w.rpc(&resource, Some(&reader), call("list_issues")),
        200,
        "list_issues ran for demo-user",
    )
    .await;
    w.step(
        "5. tools/call create_issue: denied in-band for MCP clients (HTTP 200, isError)",
        w.rpc(&resource, Some(&reader), call("create_issue")),
        200,
        "\"insufficient_scope\"",
    )
    .await;
    let plain = json!({"method": "tools/call", "params": {"name": "create_issue"}});
    w.step(
        "6. The same call from a non-JSON-RPC client: HTTP 403 with insufficient_scope",
        w.rpc(&resource, Some(&reader), plain),
        403,
        "\"required_scopes\":[\"issues:write\"]",
    )
    .await;
    let other = mint(
        "issues:read issues:write",
        "http://127.0.0.1:1/other".into(),
    )
    .await;
    let body = json!({"method": "tools/list"});
    w.step(
        "7. A token issued for another server: 401 invalid_audience",
        w.rpc(&resource, Some(&other), body),
        401,
        "invalid_audience",
    )
    .await;

    if w.failures > 0 {
        eprintln!("\nauthsec demo: {} step(s) did not match", w.failures);
        std::process::exit(1);
    }
    println!(
        "\nauthsec demo: all 7 steps behaved as expected. Run with --serve to keep the server up."
    );
}

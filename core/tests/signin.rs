//! Sign-in for MCP clients without OAuth (issue 19) against the fixture as the authorization
//! server: the whole flow (oauth_start, the browser's authorization request, the callback,
//! tools/list and tools/call with the session, status, user info, logout with revocation) and
//! the attacks (guessed and foreign session ids, a wrong state, a replayed code, an expired
//! session and sign-in window, a pasted token for another audience).

use std::sync::Arc;
use std::time::Duration;

use authsec_core::{Config, Decision, ManualClock, Request, Response, Runtime, SessionId};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const REDIRECT: &str = "http://127.0.0.1:3005/oauth/callback";

fn runtime(fx: &Fixture, clock: Arc<ManualClock>) -> Runtime {
    let base = &fx.base_url;
    let cfg = json!({
        "issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
        "validation_mode": "jwt_only",
        "tool_scopes": {"notes": ["notes:read"], "admin_only": ["admin"]},
        "sign_in": {"client_id": "mcp-client", "redirect_uri": REDIRECT,
                    "scopes": ["openid", "notes:read"], "app_name": "Notes <MCP>"}
    });
    let cfg = Config::from_json(&cfg.to_string()).unwrap();
    Runtime::builder(cfg).clock(clock).build().unwrap()
}

async fn post(rt: &Runtime, body: Value, headers: &[(&str, &str)]) -> Decision {
    let bytes = body.to_string();
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &h,
        body: bytes.as_bytes(),
    };
    rt.check(&req).resolve().await
}

async fn get(rt: &Runtime, path: &str) -> Response {
    let req = Request {
        method: "GET",
        path,
        headers: &[],
        body: b"",
    };
    match rt.check(&req).resolve().await {
        Decision::Respond(r) => r,
        other => panic!("GET {path}: {other:?}"),
    }
}

fn respond(d: Decision) -> Value {
    match d {
        Decision::Respond(r) => {
            assert_eq!(r.status, 200);
            serde_json::from_slice(&r.body).unwrap()
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// A sign-in tool's answer document (the text content, parsed).
async fn tool(rt: &Runtime, name: &str, args: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": name, "arguments": args}});
    let answer = respond(post(rt, body, &[]).await);
    assert_eq!(answer["id"], 7);
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

fn list_body(session: Option<&str>) -> Value {
    match session {
        Some(s) => json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list",
                          "params": {"_meta": {"session_id": s}}}),
        None => json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    }
}

fn tool_names(answer: &Value) -> Vec<String> {
    answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// What the browser does: load the authorization URL; the fixture approves and redirects.
async fn browser(authorization_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(authorization_url).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        302,
        "the authorization request was refused"
    );
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    location
        .trim_start_matches("http://127.0.0.1:3005")
        .to_string()
}

async fn start(rt: &Runtime) -> (String, String) {
    let doc = tool(rt, "oauth_start", json!({})).await;
    let session = doc["session_id"].as_str().unwrap().to_string();
    let url = doc["authorization_url"].as_str().unwrap().to_string();
    (session, url)
}

async fn signed_in(rt: &Runtime) -> String {
    let (session, url) = start(rt).await;
    let callback = browser(&url).await;
    let page = get(rt, &callback).await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    session
}

#[tokio::test]
async fn the_whole_flow_with_a_real_authorization_request() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));

    // Signed out: the list shows only the sign-in tools; a protected tool is refused in band.
    let list = respond(post(&rt, list_body(None), &[]).await);
    assert_eq!(
        tool_names(&list),
        [
            "oauth_start",
            "oauth_authenticate",
            "oauth_status",
            "oauth_logout",
            "oauth_user_info"
        ]
    );
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "notes", "arguments": {}}});
    let refused = respond(post(&rt, call, &[]).await);
    assert_eq!(refused["result"]["isError"], true);

    // oauth_start: a 256-bit session id and an authorization request with PKCE S256, state,
    // nonce and the RFC 8707 resource.
    let (session, url) = start(&rt).await;
    assert_eq!(session.len(), 43);
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/authorize");
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "mcp-client");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["resource"], RESOURCE);
    assert_eq!(q["scope"], "openid notes:read");
    assert_eq!(q["state"].len(), 43);
    assert_eq!(q["nonce"].len(), 43);
    assert_ne!(q["state"], session);

    let status = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(status["authenticated"], false);
    assert_eq!(status["status"], "pending");

    // The browser signs in; the callback exchanges the code (the fixture checks the verifier).
    let callback = browser(&url).await;
    let page = get(&rt, &callback).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains("You are signed in to Notes &lt;MCP&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("eyJ") && !html.contains(&session),
        "no token or session id in the page"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));

    // Replaying the callback (the same state and code) fails.
    let replay = get(&rt, &callback).await;
    assert_eq!(replay.status, 400);
    assert!(String::from_utf8_lossy(&replay.body).contains("already used"));

    // Signed in: the list is the handler's, filtered for the session's principal.
    match post(&rt, list_body(Some(&session)), &[]).await {
        Decision::Allow(a) => {
            assert_eq!(a.principal.subject, "signin-user");
            assert!(a.filter_tools_list);
            let filtered = rt
                .filter_response_for(
                    &a.principal,
                    true,
                    Some("application/json"),
                    br#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"notes"},{"name":"admin_only"}]}}"#,
                );
            let text = match filtered {
                authsec_core::FilterOutcome::Rewritten(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            };
            assert!(
                text.contains("\"notes\"") && !text.contains("admin_only"),
                "{text}"
            );
        }
        other => panic!("signed-in list: {other:?}"),
    }
    // A protected tool with the session's id: allowed with the session's principal; one the
    // principal's scopes do not cover is refused.
    let call = |tool: &str| {
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": tool, "arguments": {"session_id": session, "text": "x"}}})
    };
    match post(&rt, call("notes"), &[]).await {
        Decision::Allow(a) => {
            assert_eq!(a.principal.subject, "signin-user");
            assert_eq!(
                rt.user_info(&a.principal).to_json()["email"],
                "signin-user@example.com"
            );
        }
        other => panic!("protected call: {other:?}"),
    }
    let refused = respond(post(&rt, call("admin_only"), &[]).await);
    assert_eq!(refused["result"]["isError"], true);

    let status = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["user_id"], "signin-user");
    let info = tool(
        &rt,
        "oauth_user_info",
        json!({"session_id": [session.clone()]}),
    )
    .await;
    assert_eq!(info["user_info"]["sub"], "signin-user", "{info}");
    assert_eq!(info["userinfo"]["name"], "Sign-in User");

    // Logout revokes the tokens and the session is gone: the list is signed out again.
    let out = tool(&rt, "oauth_logout", json!({"session_id": session})).await;
    assert_eq!(out["logged_out"], true);
    assert_eq!(out["revoked"], true);
    let revoked = fx.control("GET", "/_control/sign-in", None).await;
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 2, "{revoked}");
    let list = respond(post(&rt, list_body(Some(&session)), &[]).await);
    assert_eq!(tool_names(&list).len(), 5);
    let gone = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(gone["error"], "invalid_session");
}

#[tokio::test]
async fn the_mcp_session_bound_at_oauth_start_names_the_sign_in_for_tools_list() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "oauth_start", "arguments": {}}});
    let answer = respond(post(&rt, body, &[("mcp-session-id", "mcp-abc")]).await);
    let doc: Value =
        serde_json::from_str(answer["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    let callback = browser(doc["authorization_url"].as_str().unwrap()).await;
    assert_eq!(get(&rt, &callback).await.status, 200);
    match post(&rt, list_body(None), &[("mcp-session-id", "mcp-abc")]).await {
        Decision::Allow(a) => assert_eq!(a.principal.subject, "signin-user"),
        other => panic!("{other:?}"),
    }
    // Another MCP session sees the signed-out list.
    let other = respond(post(&rt, list_body(None), &[("mcp-session-id", "mcp-other")]).await);
    assert_eq!(tool_names(&other).len(), 5);
}

#[tokio::test]
async fn guessed_foreign_and_malformed_session_ids_get_one_answer() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));
    let real = signed_in(&rt).await;
    let guessed = SessionId::generate().unwrap().to_text();
    // One character changed: a well-formed id whose digest differs.
    let mut foreign = real.clone();
    let last = foreign.pop().unwrap();
    foreign.push(if last == 'A' { 'Q' } else { 'A' });
    for bad in [guessed.as_str(), foreign.as_str(), "not-an-id", "<script>"] {
        let doc = tool(&rt, "oauth_user_info", json!({"session_id": bad})).await;
        assert_eq!(doc["error"], "invalid_session", "{bad}: {doc}");
        assert!(!doc.to_string().contains(bad) || bad.len() < 3);
        let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "notes", "arguments": {"session_id": bad}}});
        let refused = respond(post(&rt, call, &[]).await);
        assert_eq!(refused["result"]["isError"], true, "{bad}");
        let list = respond(post(&rt, list_body(Some(bad)), &[]).await);
        assert_eq!(tool_names(&list).len(), 5, "{bad}");
    }
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_leaves_the_pending_sign_in_usable() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));
    let (session, url) = start(&rt).await;
    let callback = browser(&url).await;
    let wrong = format!(
        "/oauth/callback?code=x&state={}",
        SessionId::generate().unwrap().to_text()
    );
    let page = get(&rt, &wrong).await;
    assert_eq!(page.status, 400);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let injected = get(&rt, "/oauth/callback?state=%3Cscript%3E&error=%3Cb%3Ex").await;
    assert_eq!(injected.status, 400);
    assert!(!String::from_utf8_lossy(&injected.body).contains("<b>x"));
    // The real callback still works, once.
    assert_eq!(get(&rt, &callback).await.status, 200);
    let status = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(status["authenticated"], true);
    // A code presented with another session's state is refused by the authorization server
    // (the fixture binds the code to the PKCE challenge of its own request).
    let (_, url2) = start(&rt).await;
    let cb2 = browser(&url2).await;
    let code = cb2
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let (_, url3) = start(&rt).await;
    let cb3 = browser(&url3).await;
    let state3 = cb3.split("state=").nth(1).unwrap().to_string();
    let crossed = get(&rt, &format!("/oauth/callback?code={code}&state={state3}")).await;
    assert_eq!(crossed.status, 400);
}

#[tokio::test]
async fn sessions_and_sign_in_windows_expire() {
    let fx = Fixture::start().await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let rt = runtime(&fx, clock.clone());
    let session = signed_in(&rt).await;
    let (_, url) = start(&rt).await;
    let late = browser(&url).await;
    clock.advance(Duration::from_secs(601));
    // The sign-in window (600 s) has passed: the callback fails.
    assert_eq!(get(&rt, &late).await.status, 400);
    // Past the longest session lifetime (86400 s), the session is gone.
    clock.advance(Duration::from_secs(86_400));
    let doc = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(doc["error"], "invalid_session");
    let list = respond(post(&rt, list_body(Some(&session)), &[]).await);
    assert_eq!(tool_names(&list).len(), 5);
}

#[tokio::test]
async fn a_pasted_token_is_validated_like_a_bearer_token() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));
    let (session, _) = start(&rt).await;
    let base = fx.base_url.clone();
    let other_aud = fx
        .mint(json!({"kid": "rsa-1", "claims": {"iss": base, "sub": "u2",
            "aud": "https://other.example.com/mcp", "scope": "notes:read", "exp": {"$now": 600}}}))
        .await;
    let doc = tool(
        &rt,
        "oauth_authenticate",
        json!({"session_id": session, "jwt_token": other_aud}),
    )
    .await;
    assert_eq!(doc["error"], "audience_mismatch", "{doc}");
    let status = tool(&rt, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(
        status["authenticated"], false,
        "a refused token is never cached"
    );
    let forged = fx
        .mint(
            json!({"kid": "attacker-rsa", "claims": {"iss": fx.base_url, "sub": "u2",
            "aud": RESOURCE, "scope": "notes:read", "exp": {"$now": 600}}}),
        )
        .await;
    let doc = tool(
        &rt,
        "oauth_authenticate",
        json!({"session_id": session, "jwt_token": forged}),
    )
    .await;
    assert!(doc["error"].is_string(), "{doc}");
    let good = fx
        .mint(
            json!({"kid": "rsa-1", "claims": {"iss": fx.base_url, "sub": "u2",
            "aud": RESOURCE, "scope": "notes:read", "exp": {"$now": 600}}}),
        )
        .await;
    let doc = tool(
        &rt,
        "oauth_authenticate",
        json!({"session_id": [session.clone()], "jwt_token": good}),
    )
    .await;
    assert_eq!(doc["authenticated"], true, "{doc}");
    assert!(!doc.to_string().contains("eyJ"), "no token in the answer");
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "notes", "arguments": {"session_id": session}}});
    match post(&rt, call, &[]).await {
        Decision::Allow(a) => assert_eq!(a.principal.subject, "u2"),
        other => panic!("{other:?}"),
    }
    // Without a session, oauth_authenticate binds nothing.
    let doc = tool(
        &rt,
        "oauth_authenticate",
        json!({"session_id": "x", "jwt_token": "y"}),
    )
    .await;
    assert_eq!(doc["error"], "invalid_session");
}

#[tokio::test]
async fn the_info_route_and_the_handshake() {
    let fx = Fixture::start().await.unwrap();
    let rt = runtime(&fx, Arc::new(ManualClock::new()));
    let info: Value = serde_json::from_slice(&get(&rt, "/").await.body).unwrap();
    assert_eq!(info["protocol"], "mcp-with-oauth");
    assert_eq!(info["auth_service"], fx.base_url.as_str());
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    assert!(matches!(post(&rt, init, &[]).await, Decision::PassThrough));
}

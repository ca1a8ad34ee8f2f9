//! `authsec proxy` in front of a real HTTP upstream on 127.0.0.1: what the upstream receives
//! (identity headers, never the bearer token unless asked, no hop-by-hop fields, no client-set
//! identity headers, `Via`), what the client receives when the upstream is down (the core's 502),
//! SSE passed event by event (the upstream sends its second event only after the client has read
//! the first), `/healthz` and `/metrics`, and graceful shutdown (a stream in flight finishes, new
//! connections are refused).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsec_cli::proxy::{HttpUpstream, IdentityHeaders, Proxy, ProxyOptions};
use authsec_cli::telemetry::LogSink;
use authsec_core::{Config, Runtime};
use authsec_fixture::Fixture;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// The session id the upstream names in its answer to `initialize`.
const NEW_SESSION: &str = "4b1f9e2a-upstream-session";

/// The upstream: `POST /mcp` echoes the request's headers and body as JSON (naming a new
/// session when the body is an `initialize`); `GET /mcp` answers an SSE stream whose events the
/// test sends through a channel.
#[derive(Clone, Default)]
struct Up {
    events: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>,
}

async fn echo(headers: HeaderMap, body: Bytes) -> Response {
    let h: Vec<Value> = headers
        .iter()
        .map(|(k, v)| json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
        .collect();
    let out = json!({"headers": h, "body": String::from_utf8_lossy(&body)});
    let mut r = Response::builder();
    if body.windows(12).any(|w| w == b"\"initialize\"") {
        // A new session, as an MCP server answers `initialize`.
        r = r.header("mcp-session-id", NEW_SESSION);
    }
    r.header("content-type", "application/json")
        .header("connection", "x-upstream-hop")
        .header("x-upstream-hop", "1")
        .header("keep-alive", "timeout=5")
        .body(Body::from(out.to_string()))
        .unwrap()
}

async fn stream(State(up): State<Up>) -> Response {
    let Some(rx) = up.events.lock().unwrap().take() else {
        return Response::builder()
            .status(StatusCode::CONFLICT)
            .body(Body::empty())
            .unwrap();
    };
    let s = futures::stream::unfold(rx, |mut rx| async move {
        let e = rx.recv().await?;
        Some((Ok::<_, std::io::Error>(Bytes::from(e)), rx))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(s))
        .unwrap()
}

async fn start_upstream(up: Up) -> SocketAddr {
    let app = axum::Router::new()
        .route("/mcp", post(echo))
        .route("/mcp", get(stream))
        .with_state(up);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

struct Running {
    base: String,
    proxy: Proxy,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start_proxy(fx: &Fixture, upstream: &str, forward_token: bool) -> Running {
    let cfg = Config::from_json(
        &json!({"issuer": fx.base_url, "jwks_url": format!("{}/jwks", fx.base_url),
                "resource_uri": "http://127.0.0.1:18080/mcp",
                "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}})
        .to_string(),
    )
    .unwrap();
    let rt = Runtime::new(cfg).unwrap();
    rt.startup().await.unwrap();
    let up = HttpUpstream::new(upstream, "/mcp", Duration::from_secs(30)).unwrap();
    let opts = ProxyOptions {
        identity: IdentityHeaders::default(),
        forward_token,
        log: LogSink::Off,
        on_record: None,
        shutdown_grace: Duration::from_secs(30),
        request_id_header: "x-request-id".into(),
    };
    let proxy = Proxy::new(rt, Arc::new(up), opts);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let p = proxy.clone();
    let done = tokio::spawn(async move {
        p.serve(l, async {
            let _ = stopped.await;
        })
        .await
    });
    Running {
        base,
        proxy,
        stop: Some(stop),
        done,
    }
}

async fn token(fx: &Fixture, scope: &str) -> String {
    fx.mint(json!({"kid": "rsa-1", "claims": {"iss": fx.base_url, "sub": "dev user", "client_id": "dev-client",
        "aud": "http://127.0.0.1:18080/mcp", "scope": scope, "exp": {"$now": 3600}}}))
        .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn header<'a>(echoed: &'a Value, name: &str) -> Vec<&'a str> {
    echoed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == name)
        .map(|p| p[1].as_str().unwrap())
        .collect()
}

const CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_gets_the_identity_not_the_token_nor_hop_by_hop_fields() {
    let fx = Fixture::start().await.unwrap();
    let up = start_upstream(Up::default()).await;
    let p = start_proxy(&fx, &format!("http://{up}/mcp"), false).await;
    let t = token(&fx, "issues:read").await;
    let r = client()
        .post(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .header("x-authsec-subject", "admin")
        .header("X-Authsec-Scopes", "issues:write")
        .header("connection", "x-client-hop")
        .header("x-client-hop", "secret")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic cHJveHk6c2VjcmV0")
        .header("mcp-session-id", "s-1")
        .body(CALL)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("via").unwrap(), "1.1 authsec");
    assert!(
        r.headers().get("x-upstream-hop").is_none(),
        "response hop-by-hop field forwarded"
    );
    assert!(r.headers().get("keep-alive").is_none());
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(
        header(&echoed, "authorization"),
        Vec::<&str>::new(),
        "token forwarded: {echoed}"
    );
    assert_eq!(header(&echoed, "x-authsec-subject"), ["dev%20user"]);
    assert_eq!(header(&echoed, "x-authsec-client-id"), ["dev-client"]);
    assert_eq!(header(&echoed, "x-authsec-scopes"), ["issues:read"]);
    assert_eq!(header(&echoed, "x-authsec-issuer"), [fx.base_url.as_str()]);
    assert_eq!(
        header(&echoed, "x-authsec-audience"),
        ["http://127.0.0.1:18080/mcp"]
    );
    assert!(
        header(&echoed, "x-authsec-claims").is_empty(),
        "claims only when asked"
    );
    for hop in ["x-client-hop", "te", "proxy-authorization", "connection"] {
        assert!(header(&echoed, hop).is_empty(), "{hop} forwarded: {echoed}");
    }
    assert_eq!(header(&echoed, "mcp-session-id"), ["s-1"]);
    assert_eq!(header(&echoed, "via"), ["1.1 authsec"]);
    assert_eq!(header(&echoed, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header(&echoed, "host"), [up.to_string().as_str()]);
    assert_eq!(
        echoed["body"], CALL,
        "the body is forwarded as the core read it"
    );

    // A denied request never reaches the upstream; the client gets the core's answer.
    let r = client()
        .post(format!("{}/mcp", p.base))
        .header("content-type", "application/json")
        .body(CALL)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":"invalid_token","error_description":"missing bearer token","reason":"no_token"}"#
    );
}

/// The proxy sees the server's answer to `initialize`, so the session it names belongs to the
/// caller who opened it before any request carries the id: another caller with its own valid
/// token is refused even when it is first to use the id (docs/sessions.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_named_in_the_answer_to_initialize_belongs_to_its_opener() {
    let fx = Fixture::start().await.unwrap();
    let up = start_upstream(Up::default()).await;
    let p = start_proxy(&fx, &format!("http://{up}/mcp"), false).await;
    let owner = token(&fx, "issues:read").await;
    let intruder = fx
        .mint(
            json!({"kid": "rsa-1", "claims": {"iss": fx.base_url, "sub": "intruder",
            "aud": "http://127.0.0.1:18080/mcp", "scope": "issues:read", "exp": {"$now": 3600}}}),
        )
        .await;
    let url = format!("{}/mcp", p.base);
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#;
    let r = client()
        .post(&url)
        .bearer_auth(&owner)
        .body(init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["mcp-session-id"], NEW_SESSION);
    let call = |t: &str| {
        client()
            .post(&url)
            .bearer_auth(t)
            .header("mcp-session-id", NEW_SESSION)
            .body(CALL)
            .send()
    };
    let r = call(&intruder).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 1);
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(body["error"]["message"], "Session not found");
    assert_eq!(
        body["error"]["data"]["authsec"]["reason"],
        "session_owner_mismatch"
    );
    let r = call(&owner).await.unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(header(&echoed, "mcp-session-id"), [NEW_SESSION]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_token_passes_authorization_for_servers_that_validate_it() {
    let fx = Fixture::start().await.unwrap();
    let up = start_upstream(Up::default()).await;
    let p = start_proxy(&fx, &format!("http://{up}/mcp"), true).await;
    let t = token(&fx, "issues:read").await;
    let r = client()
        .post(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .body(CALL)
        .send()
        .await
        .unwrap();
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(
        header(&echoed, "authorization"),
        [format!("Bearer {t}").as_str()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_the_cores_502() {
    let fx = Fixture::start().await.unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let p = start_proxy(&fx, &format!("http://127.0.0.1:{port}/mcp"), false).await;
    let t = token(&fx, "issues:read").await;
    let r = client()
        .post(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .body(CALL)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    assert!(r.headers().get("www-authenticate").is_none());
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":"bad_gateway","error_description":"the MCP server did not answer"}"#
    );
    let m = client()
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("authsec_proxy_requests_total{decision=\"upstream_error\",reason=\"upstream_unavailable\"} 1\n"),
        "{m}"
    );
}

fn list_event(id: u32) -> String {
    format!(
        "event: message\ndata: {}\n\n",
        json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{"name": "list_issues"}, {"name": "create_issue"}]}})
    )
}

/// Read from `resp` until `want` bytes arrived (bounded: a buffering proxy would never deliver).
async fn read_exactly(resp: &mut reqwest::Response, want: usize) -> String {
    let mut got = Vec::new();
    while got.len() < want {
        let c = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
            .await
            .expect("the proxy held back an event the upstream had sent")
            .unwrap()
            .expect("stream ended early");
        got.extend_from_slice(&c);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_passes_event_by_event_filtered() {
    let fx = Fixture::start().await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let up = Up {
        events: Arc::new(Mutex::new(Some(rx))),
    };
    let addr = start_upstream(up).await;
    let p = start_proxy(&fx, &format!("http://{addr}/mcp"), false).await;
    let t = token(&fx, "issues:read").await;
    tx.send(list_event(1)).unwrap();
    let mut r = client()
        .get(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    assert!(r.headers().get("content-length").is_none());
    let filtered = |id: u32| {
        format!(
            "event: message\ndata: {}\n\n",
            r#"{"jsonrpc":"2.0","id":ID,"result":{"tools":[{"name":"list_issues"}],"cacheScope":"private"}}"#
                .replace("ID", &id.to_string())
        )
    };
    let first = read_exactly(&mut r, filtered(1).len()).await;
    assert_eq!(
        first,
        filtered(1),
        "create_issue removed from the first event"
    );
    // Only now does the upstream send its second event: the first one was not held back.
    tx.send(list_event(2)).unwrap();
    let second = read_exactly(&mut r, filtered(2).len()).await;
    assert_eq!(second, filtered(2));
    drop(tx);
    assert!(
        r.chunk().await.unwrap().is_none(),
        "the stream ends with the upstream's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let fx = Fixture::start().await.unwrap();
    let up = start_upstream(Up::default()).await;
    let p = start_proxy(&fx, &format!("http://{up}/mcp"), false).await;
    let h = client()
        .get(format!("{}/healthz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    assert_eq!(h.text().await.unwrap(), r#"{"status":"ok"}"#);
    let t = token(&fx, "issues:read").await;
    let c = client();
    c.post(format!("{}/mcp", p.base))
        .body(CALL)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    c.post(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .body(CALL)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let denied =
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_issue"}}"#;
    c.post(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .body(denied)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Records are written when each answer's last byte went out; the metrics are read after.
    let mut m = String::new();
    for _ in 0..200 {
        m = c
            .get(format!("{}/metrics", p.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.contains("decision=\"allow\"") && m.contains("insufficient_scope") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for line in [
        "authsec_proxy_requests_total{decision=\"deny\",reason=\"no_token\"} 1\n",
        "authsec_proxy_requests_total{decision=\"deny\",reason=\"insufficient_scope\"} 1\n",
        "authsec_proxy_requests_total{decision=\"allow\",reason=\"ok\"} 1\n",
        "authsec_proxy_upstream_seconds_count 1\n",
        "# TYPE authsec_proxy_decision_seconds histogram\n",
        // The core's own metrics follow the proxy's.
        "# TYPE authsec_decisions_total counter\n",
        "authsec_backend_requests_total{endpoint=\"jwks\",status=\"2xx\"} 1\n",
        "authsec_cache_lookups_total{cache=\"token\",result=\"hit\"} 1\n",
    ] {
        assert!(m.contains(line), "{line:?} missing in\n{m}");
    }
    assert_eq!(
        p.proxy
            .metrics()
            .render()
            .lines()
            .filter(|l| l.starts_with("authsec_proxy_requests_total"))
            .count(),
        4,
        "healthz, no_token, ok, insufficient_scope"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_streams_in_flight_and_refuses_new_connections() {
    let fx = Fixture::start().await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let up = Up {
        events: Arc::new(Mutex::new(Some(rx))),
    };
    let addr = start_upstream(up).await;
    let mut p = start_proxy(&fx, &format!("http://{addr}/mcp"), false).await;
    let t = token(&fx, "issues:read").await;
    tx.send(list_event(1)).unwrap();
    let mut r = client()
        .get(format!("{}/mcp", p.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let one = read_exactly(&mut r, 10).await;
    assert!(one.starts_with("event: mes"), "{one}");
    p.stop.take().unwrap().send(()).unwrap();
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(p.base.trim_start_matches("http://"))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(refused, "the listener still accepts after shutdown");
    // The stream in flight still gets the upstream's next event, then ends.
    tx.send(list_event(2)).unwrap();
    drop(tx);
    let mut rest = Vec::new();
    while let Some(c) = r.chunk().await.unwrap() {
        rest.extend_from_slice(&c);
    }
    assert!(
        String::from_utf8_lossy(&rest).contains("\"id\":2"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    tokio::time::timeout(Duration::from_secs(30), p.done)
        .await
        .unwrap()
        .unwrap();
}

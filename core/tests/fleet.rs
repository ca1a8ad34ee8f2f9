//! The fleet store against a real Redis (Debian's `redis-server`, started here on a free
//! loopback port and stopped by PID; `scripts/test.sh` installs it when missing): two runtimes
//! in introspection mode cost the authorization server one call for a token both see, a
//! revocation learned by one is refused by the other, nothing in Redis holds a token or a claim
//! in clear, and with Redis stopped mid-run every answer is exactly the one a runtime without
//! Redis gives.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use authsec_core::{
    Check, Config, Decision, ErrorCode, ManualClock, RedisSessionStore, Request, Runtime, Secret,
    SecretText, SessionId, SessionRecord, SessionStore, SessionTokens, TokenSource,
    INACTIVE_MESSAGE, RECORD_VERSION,
};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const TTL: u64 = 300;

/// A `redis-server` of this test, stopped (by PID) when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/test.sh installs it)");
        let r = Redis {
            child: Some(child),
            port,
        };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every key and its raw value.
    async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .unwrap();
        let mut out = Vec::new();
        for k in keys {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(&k).query_async(&mut c).await.unwrap();
            out.push((k, v.unwrap_or_default()));
        }
        out
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(fx: &Fixture, redis: Option<&Redis>) -> Config {
    Config {
        issuer: fx.base_url.clone(),
        resource_uri: "https://mcp.example.com/mcp".into(),
        introspection_url: format!("{}/introspect", fx.base_url),
        introspection_client_id: "rs-1".into(),
        introspection_client_secret: Secret::new("secret-1"),
        introspection_cache_ttl_seconds: TTL,
        redis_url: Secret::new(redis.map(Redis::url).unwrap_or_default()),
        redis_key: Secret::new(if redis.is_some() { KEY } else { "" }),
        redis_prefix: "fleet-test:".into(),
        redis_timeout_seconds: 0.5,
        // Generous: the other replica's call is slowed to 300 ms by the fixture.
        redis_lease_wait_seconds: 10.0,
        ..Config::default()
    }
}

fn runtime(cfg: Config, clock: Arc<ManualClock>) -> Runtime {
    Runtime::builder(cfg).clock(clock).build().unwrap()
}

/// A refusal as a client sees it: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// What a client gets for a `tools/list` with `token`: `None` for an allow, the answer otherwise.
async fn check(rt: &Runtime, token: &str) -> Option<Answer> {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: body.as_bytes(),
    };
    let d = match rt.check(&req) {
        Check::Ready(d) => d,
        Check::Pending(p) => p.await,
    };
    match d {
        Decision::Allow(_) => None,
        Decision::Respond(r) => Some((r.status, r.headers, r.body)),
        other => panic!("unexpected decision {other:?}"),
    }
}

/// The in-band answer (reference: an MCP JSON-RPC request is refused inside JSON-RPC, error
/// -32001 with the 401 in `data.authsec`) to a `tools/list` with an inactive token.
fn assert_inactive(answer: &Option<Answer>) {
    let (status, headers, body) = answer.as_ref().expect("refused");
    assert_eq!(*status, 200);
    assert_eq!(
        headers,
        &[("content-type".to_string(), "application/json".to_string())]
    );
    let want = json!({"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32001,
        "message": "Access has been revoked. The user needs to re-authenticate to get a new token.",
        "data": {"authsec": {"error": "invalid_token", "status": 401,
                             "error_description": INACTIVE_MESSAGE}}}});
    assert_eq!(serde_json::from_slice::<Value>(body).unwrap(), want);
}

async fn introspections(fx: &Fixture) -> u64 {
    fx.counters().await["introspection"].as_u64().unwrap()
}

/// Wait (hang guard, not a timing assertion) until `cond` holds.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_introspection_and_a_revocation() {
    let redis = Redis::start();
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"introspection": {
        "opaque-fleet-1": {"active": true, "sub": "user-fleet-a", "aud": "https://mcp.example.com/mcp",
                           "scope": "tools:read", "exp": {"$now": 3600}},
    }}))
    .await;
    // Slow the authorization server so the two replicas see the new token at the same moment.
    fx.control(
        "POST",
        "/_control/latency",
        Some(json!({"endpoint": "introspection", "ms": 300})),
    )
    .await;
    let (clock_a, clock_b) = (Arc::new(ManualClock::new()), Arc::new(ManualClock::new()));
    let a = runtime(config(&fx, Some(&redis)), clock_a.clone());
    let b = runtime(config(&fx, Some(&redis)), clock_b.clone());
    assert_eq!(a.startup().await.unwrap(), Vec::<String>::new());
    assert_eq!(b.startup().await.unwrap(), Vec::<String>::new());

    let (ra, rb) = tokio::join!(check(&a, "opaque-fleet-1"), check(&b, "opaque-fleet-1"));
    assert_eq!((ra, rb), (None, None), "both allow");
    assert_eq!(introspections(&fx).await, 1, "one call for two replicas");
    // Later requests on either replica are answered without the authorization server.
    assert_eq!(check(&a, "opaque-fleet-1").await, None);
    assert_eq!(check(&b, "opaque-fleet-1").await, None);
    assert_eq!(introspections(&fx).await, 1);

    // Nothing in Redis in clear: not the token, not a claim.
    let dump = redis.dump().await;
    assert!(!dump.is_empty());
    for (k, v) in &dump {
        assert!(k.starts_with("fleet-test:"), "{k}");
        assert!(!k.contains("opaque-fleet-1"), "{k}");
        for clear in [
            &b"opaque-fleet-1"[..],
            b"user-fleet-a",
            b"tools:read",
            b"active",
        ] {
            assert!(
                !v.windows(clear.len()).any(|w| w == clear),
                "{k} holds {:?} in clear",
                String::from_utf8_lossy(clear)
            );
        }
    }

    // The token is revoked at the authorization server; replica A's cached answer ages out
    // (its clock passes the TTL), so A asks again and learns `active: false`.
    fx.control(
        "POST",
        "/_control/latency",
        Some(json!({"endpoint": "introspection", "ms": 0})),
    )
    .await;
    fx.control(
        "POST",
        "/_control/introspection",
        Some(json!({"token": "opaque-fleet-1", "answer": {"active": false}})),
    )
    .await;
    clock_a.advance(Duration::from_secs(TTL + 1));
    assert_inactive(&check(&a, "opaque-fleet-1").await);
    assert_eq!(introspections(&fx).await, 2);
    // Replica B still held an allow in its local cache, within its TTL: the notice makes it
    // refuse, without asking the authorization server itself.
    eventually("replica B refuses the revoked token", async || {
        check(&b, "opaque-fleet-1").await.is_some()
    })
    .await;
    assert_inactive(&check(&b, "opaque-fleet-1").await);
    assert_eq!(introspections(&fx).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_answers_exactly_as_without_redis() {
    let mut redis = Redis::start();
    let fx = Fixture::start().await.unwrap();
    let active = |sub: &str| json!({"active": true, "sub": sub, "aud": "https://mcp.example.com/mcp", "exp": {"$now": 3600}});
    fx.reset(json!({"introspection": {
        "opaque-down-1": active("user-1"),
        "opaque-down-2": active("user-2"),
        "opaque-down-3": {"active": false},
    }}))
    .await;
    let clock = Arc::new(ManualClock::new());
    let a = runtime(config(&fx, Some(&redis)), clock.clone());
    assert_eq!(a.startup().await.unwrap(), Vec::<String>::new());
    assert_eq!(check(&a, "opaque-down-1").await, None);
    assert_eq!(introspections(&fx).await, 1);

    redis.stop();
    // Cached locally: still allowed, no call.
    assert_eq!(check(&a, "opaque-down-1").await, None);
    assert_eq!(introspections(&fx).await, 1);
    // New tokens: introspected directly, answered as the mode says.
    assert_eq!(check(&a, "opaque-down-2").await, None);
    assert_eq!(introspections(&fx).await, 2);
    let refused = check(&a, "opaque-down-3").await;
    assert_inactive(&refused);
    assert_eq!(introspections(&fx).await, 3);
    // Unknown tokens too (the fixture's default answer is `active: false`).
    let unknown = check(&a, "opaque-down-unknown").await;
    assert_inactive(&unknown);
    // Byte for byte the answers of a runtime that never had Redis.
    let plain = runtime(config(&fx, None), clock.clone());
    assert_eq!(check(&plain, "opaque-down-3").await, refused);
    assert_eq!(check(&plain, "opaque-down-unknown").await, unknown);
    assert_eq!(check(&plain, "opaque-down-2").await, None);

    // A runtime starting while Redis is down serves, with a warning.
    let late = runtime(config(&fx, Some(&redis)), clock.clone());
    let warnings = late.startup().await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("redis_url: redis ")
            && warnings[0].ends_with(
                " at startup; nothing is shared until it answers (each replica validates on its own meanwhile)"
            ),
        "{warnings:?}"
    );
    assert!(
        !warnings[0].contains(&redis.port.to_string()),
        "{warnings:?}"
    );
    assert_eq!(check(&late, "opaque-down-1").await, None);
    assert_inactive(&check(&late, "opaque-down-3").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_foreign_entry_is_never_an_allow() {
    let redis = Redis::start();
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"introspection": {
        "opaque-tamper-1": {"active": true, "sub": "user-t", "aud": "https://mcp.example.com/mcp", "exp": {"$now": 3600}},
    }}))
    .await;
    let clock = Arc::new(ManualClock::new());
    let a = runtime(config(&fx, Some(&redis)), clock.clone());
    assert_eq!(check(&a, "opaque-tamper-1").await, None);
    // Another deployment with another key reads the same Redis and prefix: the entry does not
    // open, so it introspects itself (and then refuses, the token now being revoked).
    fx.control(
        "POST",
        "/_control/introspection",
        Some(json!({"token": "opaque-tamper-1", "answer": {"active": false}})),
    )
    .await;
    let mut other_cfg = config(&fx, Some(&redis));
    other_cfg.redis_key = Secret::new("//////////////////////////////////////////8=");
    let other = runtime(other_cfg, clock.clone());
    assert_inactive(&check(&other, "opaque-tamper-1").await);
    assert_eq!(introspections(&fx).await, 2);
    // Whoever can write to Redis cannot forge an allow: an entry overwritten with a plaintext
    // "active" answer does not open, and the replica asks the authorization server.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("fleet-test:introspection:*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let forged = json!({"until": 4e9, "answer": {"active": true, "sub": "forged"}}).to_string();
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg(forged)
        .query_async(&mut c)
        .await
        .unwrap();
    let third = runtime(config(&fx, Some(&redis)), clock.clone());
    assert_inactive(&check(&third, "opaque-tamper-1").await);
    assert_eq!(introspections(&fx).await, 3);
}

/// The child half of `a_session_made_by_one_process_is_used_by_another`: a second server
/// process writing a session through its own runtime, then printing the session id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_writer_process() {
    let Ok(url) = std::env::var("FLEET_TEST_REDIS_URL") else {
        return; // only meaningful as the child process below
    };
    let fx = Fixture::start().await.unwrap();
    let mut cfg = config(&fx, None);
    cfg.redis_url = Secret::new(url);
    cfg.redis_key = Secret::new(KEY);
    let rt = Runtime::new(cfg).unwrap();
    let store = rt.fleet_session_store().expect("redis configured");
    assert_eq!(store.kind(), "redis");
    let id = SessionId::generate().unwrap();
    let now = 1_900_000_000;
    let record = SessionRecord {
        v: RECORD_VERSION,
        id_digest: id.digest(),
        created_at: now,
        expires_at: now + 3600,
        mcp_session: None,
        pending: None,
        tokens: Some(SessionTokens {
            access_token: SecretText("at-secret-fleet-session-1".into()),
            refresh_token: Some(SecretText("rt-secret-fleet-session-1".into())),
            id_token: None,
            access_expires_at: now + 3600,
            source: TokenSource::AuthorizationCode,
        }),
    };
    let key = format!("session:{}", id.digest());
    store
        .put(&key, record.to_bytes().unwrap(), Duration::from_secs(600))
        .await
        .unwrap();
    println!("FLEET-SESSION-ID={}", id.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_by_one_process_is_used_by_another() {
    if std::env::var("FLEET_TEST_REDIS_URL").is_ok() {
        return; // we are the child
    }
    let redis = Redis::start();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "session_writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FLEET_TEST_REDIS_URL", redis.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id_text = stdout
        .lines()
        .find_map(|l| l.split("FLEET-SESSION-ID=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the child printed the session id");
    let id = SessionId::parse(id_text).unwrap();
    let key = format!("session:{}", id.digest());

    // Nothing of the session in clear in Redis.
    let dump = redis.dump().await;
    assert_eq!(
        dump.len(),
        1,
        "{:?}",
        dump.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert_eq!(dump[0].0, format!("fleet-test:{key}"));
    for clear in [
        &b"at-secret-fleet-session-1"[..],
        b"rt-secret-fleet-session-1",
        b"access_token",
        id_text.as_bytes(),
    ] {
        assert!(!dump[0].1.windows(clear.len()).any(|w| w == clear));
    }

    // This process reads the session the other one made.
    let fx = Fixture::start().await.unwrap();
    let rt = Runtime::new(config(&fx, Some(&redis))).unwrap();
    let store = rt.fleet_session_store().unwrap();
    let record = SessionRecord::from_bytes(&store.get(&key).await.unwrap().unwrap()).unwrap();
    assert!(id.matches(&record.id_digest));
    let tokens = record.tokens.unwrap();
    assert_eq!(tokens.access_token.expose(), "at-secret-fleet-session-1");
    // `take` is single-use across processes too.
    assert!(store.take(&key).await.unwrap().is_some());
    assert_eq!(store.take(&key).await.unwrap(), None);
    // A store with another key cannot open a session (it is refused, never guessed at).
    let mut other = config(&fx, Some(&redis));
    other.redis_key = Secret::new("//////////////////////////////////////////8=");
    let other = RedisSessionStore::from_config(&other).unwrap().unwrap();
    other
        .put("k", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    let _ = other.get("k").await.unwrap();
    let mine = rt.fleet_session_store().unwrap();
    let refused = mine.get("k").await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::SessionStoreUnavailable);
    assert_eq!(
        refused.message(),
        "session store: a redis value could not be opened with the configured key"
    );
    // Redis gone: an error, never a session.
    drop(redis);
    let down = mine.get(&key).await.unwrap_err();
    assert_eq!(down.code(), ErrorCode::SessionStoreUnavailable);
}

/// The sign-in flow across two replicas sharing Redis: `oauth_start` on one, the browser's
/// callback on the other, the protected call and `oauth_status` on either; nothing of the
/// session in clear in Redis; `oauth_logout` on one signs out on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_is_used_on_another() {
    let redis = Redis::start();
    let fx = Fixture::start().await.unwrap();
    let replica = || {
        let base = &fx.base_url;
        let cfg = json!({
            "issuer": base, "jwks_url": format!("{base}/jwks"),
            "resource_uri": "https://mcp.example.com/mcp", "validation_mode": "jwt_only",
            "tool_scopes": {"notes": ["notes:read"]},
            "sign_in": {"client_id": "mcp-client", "redirect_uri": "http://127.0.0.1:3005/oauth/callback",
                        "scopes": ["openid", "notes:read"]},
            "redis_url": redis.url(), "redis_key": KEY, "redis_prefix": "fleet-test:"
        });
        Runtime::new(Config::from_json(&cfg.to_string()).unwrap()).unwrap()
    };
    let (a, b) = (replica(), replica());
    let post = async |rt: &Runtime, body: Value| {
        let text = body.to_string();
        let headers = [("content-type", "application/json")];
        let req = Request {
            method: "POST",
            path: "/mcp",
            headers: &headers,
            body: text.as_bytes(),
        };
        match rt.check(&req) {
            Check::Ready(d) => d,
            Check::Pending(p) => p.await,
        }
    };
    let tool = async |rt: &Runtime, name: &str, args: Value| -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                          "params": {"name": name, "arguments": args}});
        let Decision::Respond(r) = post(rt, body).await else {
            panic!("{name}: not answered")
        };
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap()
    };

    let start = tool(&a, "oauth_start", json!({})).await;
    let session = start["session_id"].as_str().unwrap().to_string();
    let url = start["authorization_url"].as_str().unwrap().to_string();
    // The browser signs in at the fixture and lands on the callback, served by replica B.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let callback = location
        .trim_start_matches("http://127.0.0.1:3005")
        .to_string();
    let req = Request {
        method: "GET",
        path: &callback,
        headers: &[],
        body: b"",
    };
    let page = match b.check(&req) {
        Check::Ready(Decision::Respond(r)) => r,
        Check::Pending(p) => match p.await {
            Decision::Respond(r) => r,
            other => panic!("callback: {other:?}"),
        },
        other => panic!("callback: {other:?}"),
    };
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));

    // Replica A serves the protected tool with the session B completed.
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "notes", "arguments": {"session_id": session}}});
    match post(&a, call.clone()).await {
        Decision::Allow(allow) => assert_eq!(allow.principal.subject, "signin-user"),
        other => panic!("protected call on A: {other:?}"),
    }
    let status = tool(&b, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(
        (status["authenticated"].clone(), status["user_id"].clone()),
        (json!(true), json!("signin-user"))
    );

    // Nothing in clear: no JWT (access or ID token), no session id, no token field name.
    let dump = redis.dump().await;
    assert!(!dump.is_empty());
    for (k, v) in &dump {
        assert!(!k.contains(&session), "{k}");
        for clear in [
            &b"eyJ"[..],
            session.as_bytes(),
            b"access_token",
            b"signin-user",
        ] {
            assert!(
                !v.windows(clear.len()).any(|w| w == clear),
                "{k} holds {:?}",
                String::from_utf8_lossy(clear)
            );
        }
    }

    // Logout on B signs out on A.
    tool(&b, "oauth_logout", json!({"session_id": session})).await;
    assert!(
        matches!(post(&a, call).await, Decision::Respond(_)),
        "A still allowed after logout on B"
    );
    let gone = tool(&a, "oauth_status", json!({"session_id": session})).await;
    assert_eq!(gone["error"], "invalid_session");
}

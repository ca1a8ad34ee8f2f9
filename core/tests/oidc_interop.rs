//! Interop with a real authorization server: oidc-provider (npm), started on loopback by this test.
//! Its RS256, PS256, ES256, ES384, EdDSA and `Ed25519`-alg JWT access tokens are validated against
//! its JWKS; a correctly signed token for another resource is refused; an opaque token is
//! validated through RFC 7662 introspection, and refused after RFC 7009 revocation.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use authsec_core::{Config, Decision, Request, Runtime};
use serde_json::{json, Value};

const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
const OTHER: &str = "http://127.0.0.1:8080/other";

/// The running authorization server; killed by PID when dropped (also when a test panics).
struct AuthServer {
    child: Child,
    issuer: String,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn as_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/oidc")
}

/// `npm ci` once per test process when the pinned oidc-provider is not installed (a fresh clone).
fn ensure_installed(dir: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if dir.join("node_modules/oidc-provider/package.json").exists() {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .expect("npm is installed");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    });
}

/// Start oidc-provider on a free port (`as.mjs 0` prints the real one in its READY line).
fn start_auth_server() -> AuthServer {
    let dir = as_dir();
    ensure_installed(&dir);
    let mut child = Command::new("node")
        .args(["as.mjs", "0"])
        .current_dir(&dir)
        .env("MCP_RESOURCES", format!("{RESOURCE},{OTHER}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    // From here on the guard owns the process: any panic below kills it.
    let mut server = AuthServer {
        child,
        issuer: String::new(),
    };
    // Both pipes are drained for the life of the process, so it never blocks or gets EPIPE.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    let errors = Arc::new(Mutex::new(String::new()));
    let sink = errors.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    match line
        .strip_prefix("READY ")
        .and_then(|r| r.split_whitespace().next())
    {
        Some(issuer) => server.issuer = issuer.to_string(),
        None => {
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "oidc-provider did not start (first line {line:?}); stderr:\n{}",
                errors.lock().unwrap()
            );
        }
    }
    server
}

async fn token(issuer: &str, client: &str, resource: &str) -> String {
    let resp: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth(client, Some(format!("{client}-secret")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "mcp:read mcp:write"),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token for {client}: {resp}"))
        .to_string()
}

fn runtime(issuer: &str, extra: Value) -> Runtime {
    let mut c = json!({
        "issuer": issuer, "resource_uri": RESOURCE, "policy_mode": "local_only",
        "tool_scopes": {"echo": ["mcp:read"], "admin": ["mcp:admin"]},
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    Runtime::new(Config::from_json(&c.to_string()).unwrap()).unwrap()
}

async fn check(rt: &Runtime, token: &str, body: Value) -> Decision {
    let auth = format!("Bearer {token}");
    let body = body.to_string();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    rt.check(&Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: body.as_bytes(),
    })
    .resolve()
    .await
}

fn tools_call(tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_access_tokens_of_every_algorithm() {
    let a = start_auth_server();
    let rt = runtime(&a.issuer, json!({"jwks_url": format!("{}/jwks", a.issuer)}));
    for client in [
        "mcp-rs256",
        "mcp-ps256",
        "mcp-es256",
        "mcp-es384",
        "mcp-eddsa",
        "mcp-ed25519",
    ] {
        let t = token(&a.issuer, client, RESOURCE).await;
        match check(&rt, &t, tools_call("echo")).await {
            Decision::Allow(allow) => {
                let p = &allow.principal;
                assert_eq!(p.subject, client, "{client}");
                assert_eq!(p.issuer, a.issuer);
                assert_eq!(p.audience, vec![RESOURCE.to_string()]);
                assert!(
                    p.scopes.contains(&"mcp:read".to_string()),
                    "{client}: {:?}",
                    p.scopes
                );
                assert_eq!(p.claims["client_id"], client);
            }
            d => panic!("{client}: {d:?}"),
        }
        // Same token again: decided from memory (verified-token cache).
        let auth = format!("Bearer {t}");
        let body = tools_call("admin").to_string();
        let headers = [("authorization", auth.as_str())];
        let ready = rt.check(&Request {
            method: "POST",
            path: "/mcp",
            headers: &headers,
            body: body.as_bytes(),
        });
        match ready {
            authsec_core::Check::Ready(Decision::Respond(r)) => {
                assert_eq!(r.status, 200, "in-band denial for a JSON-RPC client");
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(
                    v["result"]["_meta"]["authsec"]["error"],
                    "insufficient_scope"
                );
                assert_eq!(
                    v["result"]["_meta"]["authsec"]["required_scopes"],
                    json!(["mcp:admin"])
                );
            }
            other => panic!("{client}: expected a decision from memory, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_for_another_resource_is_refused() {
    let a = start_auth_server();
    let rt = runtime(&a.issuer, json!({"jwks_url": format!("{}/jwks", a.issuer)}));
    let t = token(&a.issuer, "mcp-rs256", OTHER).await;
    match check(&rt, &t, json!({"method": "tools/list"})).await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 401);
            let www = r.header("www-authenticate").unwrap();
            assert!(www.contains("error=\"invalid_audience\""), "{www}");
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                format!(
                    r#"{{"error":"invalid_audience","error_description":"audience mismatch: token aud=[\"{OTHER}\"] does not include resource_uri={RESOURCE}"}}"#
                )
            );
        }
        d => panic!("{d:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_token_through_introspection_then_revoked() {
    let a = start_auth_server();
    let rt = runtime(
        &a.issuer,
        json!({
            "introspection_url": format!("{}/token/introspection", a.issuer),
            "introspection_client_id": "mcp-rs",
            "introspection_client_secret": "mcp-rs-secret",
        }),
    );
    let t = token(&a.issuer, "mcp-opaque", RESOURCE).await;
    assert!(!t.contains('.'), "opaque token expected");
    match check(&rt, &t, tools_call("echo")).await {
        Decision::Allow(allow) => {
            assert_eq!(allow.principal.claims["client_id"], "mcp-opaque");
            assert!(allow.principal.scopes.contains(&"mcp:read".to_string()));
            assert_eq!(allow.principal.audience, vec![RESOURCE.to_string()]);
        }
        d => panic!("{d:?}"),
    }
    let status = reqwest::Client::new()
        .post(format!("{}/token/revocation", a.issuer))
        .basic_auth("mcp-opaque", Some("mcp-opaque-secret"))
        .form(&[("token", t.as_str())])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "revocation: {status}");

    // An MCP client gets the in-band tool error; a plain HTTP client the 401 challenge.
    match check(&rt, &t, tools_call("echo")).await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 200);
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["id"], 7);
            assert_eq!(v["result"]["isError"], true);
            let meta = &v["result"]["_meta"]["authsec"];
            assert_eq!(meta["error"], "invalid_token");
            assert_eq!(meta["reason"], "token_revoked");
            assert_eq!(
                v["result"]["content"][0]["text"],
                "Access has been revoked. The user needs to re-authenticate to get a new token."
            );
        }
        d => panic!("{d:?}"),
    }
    match check(&rt, &t, json!({"method": "tools/list"})).await {
        Decision::Respond(r) => {
            assert_eq!(r.status, 401);
            assert_eq!(
                r.header("www-authenticate").unwrap(),
                "Bearer realm=\"AuthSec Protected MCP Resource\", resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\", error=\"invalid_token\", error_description=\"introspection returned active=false   token revoked, suspended, expired, or principal membership inactive\""
            );
        }
        d => panic!("{d:?}"),
    }
}

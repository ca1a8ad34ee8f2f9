//! The C side of the ABI, proven from C: compiles the C programs against `include/authsec.h` and
//! the static `libauthsec.a` with `-Wall -Wextra -Werror -pedantic`, runs them under
//! AddressSanitizer (checking the sanitizer is really linked in) and once under valgrind
//! memcheck, against the fixture backend on loopback:
//! - `ffi/tests/c/threads.c`: one runtime shared by 8 threads;
//! - `examples/c/server.c`: a libmicrohttpd MCP server driven over real HTTP through the core
//!   scenarios (401 + challenge, metadata, filtered tools/list, allow, in-band and HTTP 403,
//!   wrong audience, manifest published through the handshake callback).
//!
//! Needs gcc, libmicrohttpd-dev, libcjson-dev and valgrind (`scripts/test.sh` installs them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use authsec_fixture::Fixture;
use serde_json::{json, Value};

const RESOURCE_PATH: &str = "/mcp";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/<profile>`, where cargo put `libauthsec.a` next to this test's `deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Compile C sources against the header and the static library.
fn compile(name: &str, sources: &[&str], asan: bool, libs: &[&str]) -> PathBuf {
    let lib = target_dir().join("libauthsec.a");
    assert!(
        lib.exists(),
        "{} missing: build authsec-ffi first",
        lib.display()
    );
    let out = target_dir().join(format!("c-{name}{}", if asan { "-asan" } else { "" }));
    let mut cmd = Command::new("gcc");
    cmd.args([
        "-std=c11",
        "-D_DEFAULT_SOURCE",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-g",
    ])
    .arg(format!("-I{}", repo().join("include").display()));
    if asan {
        cmd.args(["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]);
    }
    for s in sources {
        cmd.arg(repo().join(s));
    }
    cmd.arg(&lib)
        .args(libs)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out);
    let res = cmd.output().expect("gcc");
    assert!(
        res.status.success(),
        "gcc failed for {name}:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    if asan {
        let nm = Command::new("nm").arg(&out).output().expect("nm");
        assert!(
            String::from_utf8_lossy(&nm.stdout).contains("__asan_init"),
            "{name}: AddressSanitizer is not linked in"
        );
    }
    out
}

fn rs256(fx_base: &str, scope: &str, aud: &str) -> Value {
    json!({"kid": "rsa-1", "claims": {"iss": fx_base, "sub": "user-1", "aud": aud,
        "scope": scope, "exp": {"$now": 3600}}})
}

/// Run a program to completion off the async threads; returns (success, stdout, stderr).
async fn run(mut cmd: Command) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().expect("run C program");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .unwrap()
}

/// Point `cmd` (threads.c, possibly under a wrapper) at the fixture: the runtime configuration
/// and an `issues:read` token for `user-1`.
async fn threads_env(fx: &Fixture, cmd: &mut Command) {
    let base = &fx.base_url;
    let resource = "https://mcp.example.com/mcp";
    let token = fx.mint(rs256(base, "issues:read", resource)).await;
    let config = json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": resource,
        "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}});
    cmd.env("AUTHSEC_TEST_CONFIG", config.to_string())
        .env("AUTHSEC_TEST_TOKEN", token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_threads_share_one_runtime_under_asan() {
    let exe = compile("threads", &["ffi/tests/c/threads.c"], true, &[]);
    let fx = Fixture::start().await.unwrap();
    let mut cmd = Command::new(exe);
    threads_env(&fx, &mut cmd).await;
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let (ok, out, err) = run(cmd).await;
    assert!(ok, "threads.c failed:\n{out}\n{err}");
    assert_eq!(out.trim(), "threads: 1600 checks ok");
    assert_eq!(
        fx.counters().await["jwks"],
        json!(1),
        "8 threads share one key fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_under_valgrind_have_no_errors_and_no_leaks() {
    let exe = compile("threads", &["ffi/tests/c/threads.c"], false, &[]);
    let fx = Fixture::start().await.unwrap();
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--quiet",
        "--error-exitcode=99",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite,indirect,possible",
    ])
    .arg(exe)
    .env("AUTHSEC_TEST_ROUNDS", "5");
    threads_env(&fx, &mut cmd).await;
    let (ok, out, err) = run(cmd).await;
    assert!(ok, "valgrind reported errors or leaks:\n{out}\n{err}");
    assert_eq!(out.trim(), "threads: 160 checks ok");
    assert!(
        !err.contains("ERROR SUMMARY: ") || err.contains("ERROR SUMMARY: 0 errors"),
        "{err}"
    );
}

/// A count from the environment, or `default`.
fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Point `cmd` (leaks.c) at the fixture: the configuration and 64 distinct `issues:read` tokens.
async fn leaks_env(fx: &Fixture, cmd: &mut Command, checks: u64) {
    let base = &fx.base_url;
    let resource = "https://mcp.example.com/mcp";
    let mut tokens = Vec::new();
    for i in 0..64 {
        let mut spec = rs256(base, "issues:read", resource);
        spec["claims"]["jti"] = json!(format!("leak-{i}"));
        tokens.push(fx.mint(spec).await);
    }
    let config = json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": resource,
        "max_body_bytes": 1024,
        "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}});
    cmd.env("AUTHSEC_TEST_CONFIG", config.to_string())
        .env("AUTHSEC_TEST_TOKENS", tokens.join("\n"))
        .env("AUTHSEC_TEST_CHECKS", checks.to_string())
        .env("AUTHSEC_TEST_SAMPLES", "20");
}

/// The `rss <check> <kB>` samples of a leak run.
fn rss_samples(out: &str) -> Vec<(u64, u64)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("rss ")?.split(' ');
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .collect()
}

/// A mixed run of checks (allowed, denied, missing token, first sight, filtered tools/list,
/// metadata, oversized, unparseable; see leaks.c), three ways, each counting panics caught at
/// the boundary (status 901: must be zero):
/// - natively, `AUTHSEC_LEAK_CHECKS` checks (default 20k): RSS after warm-up
///   (the first quarter) grows by less than 4 MiB;
/// - under AddressSanitizer and LeakSanitizer (the C side instrumented, every allocation of the
///   Rust side through the interposed allocator), the same count: no error, no leak;
/// - under valgrind memcheck, `AUTHSEC_LEAK_VALGRIND_CHECKS` (default 2000): zero errors and
///   zero definite, indirect or possible leaks.
///
/// scripts/leaks.sh runs it with 1M checks and prints the samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_checks_leak_nothing_and_rss_stays_flat() {
    let exe = compile("leaks", &["ffi/tests/c/leaks.c"], false, &[]);
    let asan = compile("leaks", &["ffi/tests/c/leaks.c"], true, &[]);
    let fx = Fixture::start().await.unwrap();
    let checks = env_count("AUTHSEC_LEAK_CHECKS", 20_000);
    let ok_line = |n: u64| format!("leaks: {n} checks ok, 0 panics");

    let mut native = Command::new(&exe);
    let n = checks;
    leaks_env(&fx, &mut native, n).await;
    let started = std::time::Instant::now();
    let (ok, out, err) = run(native).await;
    assert!(ok, "leaks.c failed natively:\n{out}\n{err}");
    assert!(out.contains(&ok_line(n)), "{out}");
    // The panic hook prints every panic, a caught one too: none may happen.
    assert!(!err.contains("panicked at"), "{err}");
    let samples = rss_samples(&out);
    println!(
        "native, {n} checks in {:?}; RSS samples (check, kB): {samples:?}",
        started.elapsed()
    );
    assert_eq!(samples.len(), 20, "{out}");
    let warm = samples[4].1;
    let peak = samples[5..].iter().map(|s| s.1).max().unwrap();
    assert!(
        peak < warm + 4096,
        "RSS grew from {warm} kB after warm-up to {peak} kB: {samples:?}"
    );

    let mut cmd = Command::new(&asan);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    leaks_env(&fx, &mut cmd, checks).await;
    let started = std::time::Instant::now();
    let (ok, out, err) = run(cmd).await;
    println!(
        "ASan+LSan, {checks} checks in {:?}: {}",
        started.elapsed(),
        out.lines().last().unwrap_or("")
    );
    assert!(
        ok,
        "AddressSanitizer or LeakSanitizer reported:\n{out}\n{err}"
    );
    assert!(out.contains(&ok_line(checks)), "{out}");
    assert!(
        !err.contains("Sanitizer") && !err.contains("panicked at"),
        "{err}"
    );

    let checks = env_count("AUTHSEC_LEAK_VALGRIND_CHECKS", 500);
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite,indirect,possible",
    ])
    .arg(&exe);
    leaks_env(&fx, &mut cmd, checks).await;
    let started = std::time::Instant::now();
    let (ok, out, err) = run(cmd).await;
    let summary: Vec<&str> = err
        .lines()
        .filter(|l| {
            l.contains("ERROR SUMMARY") || l.contains("lost:") || l.contains("in use at exit")
        })
        .collect();
    println!(
        "valgrind, {checks} checks in {:?}: {}",
        started.elapsed(),
        summary.join(" | ")
    );
    assert!(ok, "valgrind reported errors or leaks:\n{out}\n{err}");
    assert!(out.contains(&ok_line(checks)), "{out}");
    assert!(err.contains("ERROR SUMMARY: 0 errors"), "{err}");
}

/// The example server process, killed when dropped.
struct Server(Child);

impl Server {
    /// SIGTERM, then the exit status: a clean exit means no leak under LeakSanitizer.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        self.0.wait().expect("wait for the example server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server(exe: &Path, base: &str, port: u16) -> (Server, String) {
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(exe)
        .arg(port.to_string())
        .env_clear()
        .env("AUTHSEC_ISSUER", base)
        .env("AUTHSEC_JWKS_URL", format!("{base}/jwks"))
        .env("AUTHSEC_RESOURCE_URI", format!("{url}{RESOURCE_PATH}"))
        .env(
            "AUTHSEC_TOOL_SCOPES_JSON",
            r#"{"list_issues": ["issues:read"], "create_issue": ["issues:write"]}"#,
        )
        .env("AUTHSEC_RESOURCE_SERVER_ID", "rs-1")
        .env("AUTHSEC_INTROSPECTION_CLIENT_ID", "rs-1")
        .env("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "secret-1")
        .env("AUTHSEC_PUBLISH_MANIFEST", "true")
        .env("AUTHSEC_POLICY_MODE", "local_only")
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start example server");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(line.trim(), format!("READY {url}"), "server did not start");
    (server, url)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut req = http
        .post(format!("{url}{RESOURCE_PATH}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, www, json)
}

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_server_over_http() {
    let exe = compile(
        "server",
        &["examples/c/server.c"],
        true,
        &["-lmicrohttpd", "-lcjson"],
    );
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({})).await;
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}{RESOURCE_PATH}");
    let reader = fx.mint(rs256(&fx.base_url, "issues:read", &resource)).await;
    let foreign = fx
        .mint(rs256(
            &fx.base_url,
            "issues:read issues:write",
            "https://other.example.com/mcp",
        ))
        .await;
    let (server, url) = start_server(&exe, &fx.base_url, port).await;
    let http = reqwest::Client::new();

    // The manifest went out at startup, through the handshake callback.
    let last = fx.control("GET", "/_control/last", None).await;
    let names: Vec<&str> = last["manifest"]["json"]["tools"]
        .as_array()
        .expect("manifest published")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_issues", "create_issue", "delete_issue"]);

    // 1. No token: 401 with the challenge pointing at the metadata document.
    let metadata_url = format!("{url}/.well-known/oauth-protected-resource{RESOURCE_PATH}");
    let (status, www, body) = post(&http, &url, None, call(1, "list_issues")).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.as_deref(),
        Some(format!("Bearer realm=\"AuthSec Protected MCP Resource\", resource_metadata=\"{metadata_url}\", error=\"invalid_token\", error_description=\"missing bearer token\"").as_str())
    );
    assert_eq!(body["error"], "invalid_token");

    // 2. The metadata document the challenge names.
    let meta: Value = http
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], resource);
    assert_eq!(meta["authorization_servers"], json!([fx.base_url]));
    assert_eq!(meta["bearer_methods_supported"], json!(["header"]));

    // 3. tools/list shows only what the caller may call.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, _, body) = post(&http, &url, Some(&reader), list).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_issues"]);

    // 4. An allowed call reaches the handler with the principal.
    let (status, _, body) = post(&http, &url, Some(&reader), call(3, "list_issues")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "list_issues ran for user-1"
    );

    // 5. A denied call: the in-band tool error an MCP client shows (HTTP 200, isError).
    let (status, _, body) = post(&http, &url, Some(&reader), call(4, "create_issue")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 4);
    assert_eq!(body["result"]["isError"], true);
    assert_eq!(body["result"]["_meta"]["authsec"]["status"], 403);
    assert_eq!(
        body["result"]["_meta"]["authsec"]["error"],
        "insufficient_scope"
    );

    // 6. The same call without a JSON-RPC envelope: HTTP 403 with the scope challenge.
    let plain = json!({"method": "tools/call", "params": {"name": "create_issue"}});
    let (status, www, body) = post(&http, &url, Some(&reader), plain).await;
    assert_eq!(status, 403);
    let www = www.unwrap();
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(www.contains("scope=\"issues:write\""), "{www}");
    assert_eq!(body["required_scopes"], json!(["issues:write"]));

    // 7. A token issued for another resource is refused.
    let (status, www, body) = post(&http, &url, Some(&foreign), call(5, "list_issues")).await;
    assert_eq!(status, 200, "in-band for a JSON-RPC tools/call");
    assert_eq!(body["result"]["_meta"]["authsec"]["status"], 401);
    assert!(www.is_none());
    let list = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"});
    let (status, www, body) = post(&http, &url, Some(&foreign), list).await;
    assert_eq!(status, 200, "a JSON-RPC error for an MCP client");
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(
        body["error"]["data"]["authsec"]["error"],
        "invalid_audience"
    );
    assert!(www.is_none());
    let plain = json!({"method": "tools/list"});
    let (status, www, body) = post(&http, &url, Some(&foreign), plain).await;
    assert_eq!(status, 401);
    assert!(www.unwrap().contains("error=\"invalid_audience\""));
    assert_eq!(body["error"], "invalid_audience");

    // 8. A tool the handler does not know and the policy does not map: refused before it.
    let (status, _, body) = post(&http, &url, Some(&reader), call(7, "delete_issue")).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["_meta"]["authsec"]["status"], 403);

    // 9. A present but invalid token passes through only for the handshake, and the handler
    //    then runs nothing but the handshake: tool names smuggled into a ping's params are
    //    never dispatched (the example reads the request with a real JSON parser).
    let junk = "junk";
    let smuggle = json!({"jsonrpc": "2.0", "id": 8, "method": "ping",
        "params": {"a": "tools/call", "b": "delete_issue"}});
    let (status, _, body) = post(&http, &url, Some(junk), smuggle).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"jsonrpc": "2.0", "id": 8, "result": {}}));
    let init = json!({"jsonrpc": "2.0", "id": 9, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let (status, _, body) = post(&http, &url, Some(junk), init).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["serverInfo"]["name"], "authsec-c-example");
    let (status, _, body) = post(&http, &url, Some(junk), call(10, "delete_issue")).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["_meta"]["authsec"]["status"], 401, "{body}");

    // 10. A body over max_body_bytes (4 MiB by default) is not kept; the runtime answers 413.
    let resp = http
        .post(format!("{url}{RESOURCE_PATH}"))
        .bearer_auth(&reader)
        .header("content-type", "application/json")
        .body(vec![b' '; 4 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error":"invalid_request","error_description":"request body exceeds max_body_bytes (4194304)"}"#
    );

    // 11. SIGTERM: the server frees everything and exits cleanly (LeakSanitizer is on).
    let status = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    assert!(status.success(), "example server exit: {status:?}");
}

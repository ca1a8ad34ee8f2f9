//! The `authsec` binary itself: `proxy` from a TOML file (READY line, `/healthz`, the core's 401,
//! SIGTERM ends it with status 0), an invalid configuration (status 2, the core's message, no
//! secret), `--stdio` without a command, `token mint` and `token serve`, and `doctor`'s exit
//! status.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_authsec");

/// A configuration file in a directory of its own under the system temp dir, removed with the
/// directory when the test drops it (tests run in parallel, so each file has its own directory).
struct TempFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp(name: &str, text: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("authsec-bin-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    TempFile { dir, path }
}

/// Spawn, and return the child and the URL of its first `READY <url>` line.
fn ready(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let l = lines.next().expect("READY line").unwrap();
        if let Some(u) = l.strip_prefix("READY ") {
            break u.to_string();
        }
    };
    (child, url)
}

fn sigterm(child: &mut Child) -> i32 {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn proxy_from_a_toml_file_serves_and_stops_on_sigterm() {
    let cfg = temp(
        "proxy.toml",
        "issuer = \"https://as.example.com\"\njwks_url = \"https://as.example.com/jwks\"\nresource_uri = \"http://127.0.0.1:18080/mcp\"\n[tool_scopes]\nlist_issues = [\"issues:read\"]\n",
    );
    let (mut child, url) = ready(Command::new(EXE).args([
        "proxy",
        "--config",
        cfg.to_str().unwrap(),
        "--upstream",
        "http://127.0.0.1:9/mcp",
        "--listen",
        "127.0.0.1:0",
    ]));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let h = c.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(h.status(), 200);
        let r = c
            .post(format!("{url}/mcp"))
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"error":"invalid_token","error_description":"missing bearer token","reason":"no_token"}"#
        );
    });
    assert_eq!(sigterm(&mut child), 0, "graceful shutdown exits 0");
}

#[test]
fn an_invalid_config_exits_2_with_the_core_message() {
    let cfg = temp(
        "bad.json",
        r#"{"resource_uri": "http://127.0.0.1:18080/mcp", "introspection_client_secret": "hunter2-secret"}"#,
    );
    let out = Command::new(EXE)
        .args([
            "proxy",
            "--config",
            cfg.to_str().unwrap(),
            "--upstream",
            "http://127.0.0.1:9/mcp",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config_invalid: issuer is required"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let out = Command::new(EXE)
        .args(["proxy", "--stdio"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn token_mint_and_serve_and_doctor_exit_status() {
    let out = Command::new(EXE)
        .args([
            "token",
            "mint",
            "--issuer",
            "http://127.0.0.1:9000",
            "--scope",
            "issues:read",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tok = String::from_utf8(out.stdout).unwrap();
    assert_eq!(tok.trim().split('.').count(), 3, "{tok}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEVELOPMENT ONLY"));

    // A served dev issuer's token passes doctor (exit 0); an expired one fails it (exit 1).
    let mut serve = Command::new(EXE);
    serve.args([
        "token",
        "serve",
        "--port",
        "0",
        "--scope",
        "issues:read",
        "--audience",
        "http://127.0.0.1:18080/mcp",
    ]);
    let mut child = serve
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let token = lines.next().unwrap().unwrap();
    let base = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("READY ")
        .unwrap()
        .to_string();
    let cfg = temp(
        "doctor.json",
        &format!(
            r#"{{"issuer":"{base}","jwks_url":"{base}/jwks","resource_uri":"http://127.0.0.1:18080/mcp","tool_scopes":{{"t":["issues:read"]}}}}"#
        ),
    );
    let good = Command::new(EXE)
        .args([
            "doctor",
            "--config",
            cfg.to_str().unwrap(),
            "--token",
            &token,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ok    t: allowed (needs any of issues:read)"),
        "{text}"
    );
    assert!(!text.contains(&token));
    let expired = Command::new(EXE)
        .args([
            "token",
            "mint",
            "--issuer",
            &base,
            "--ttl",
            "-60",
            "--audience",
            "http://127.0.0.1:18080/mcp",
        ])
        .output()
        .unwrap();
    let expired = String::from_utf8(expired.stdout).unwrap();
    let bad = Command::new(EXE)
        .args(["doctor", "--config", cfg.to_str().unwrap(), "--token", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    bad.stdin
        .as_ref()
        .unwrap()
        .write_all(expired.as_bytes())
        .unwrap();
    let bad = bad.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  expiry: expired"), "{text}");
    assert_eq!(sigterm(&mut child), 0);
}

#[test]
fn an_identity_prefix_that_could_strip_standard_fields_is_refused() {
    let out = Command::new(EXE)
        .args([
            "proxy",
            "--upstream",
            "http://127.0.0.1:9/mcp",
            "--identity-header-prefix",
            "content-",
        ])
        .env("AUTHSEC_ISSUER", "https://as.example.com")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--identity-header-prefix \"content-\": must start with \"x-\""));
}

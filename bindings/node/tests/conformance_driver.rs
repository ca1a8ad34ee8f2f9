//! Every conformance vector through the Node binding: the shared Rust runner
//! (`tests/conformance/runner`) spawns `node test/conformance-driver.mjs` and speaks the driver
//! protocol with it (`tests/conformance/README.md`, "Driver protocol"); the driver only
//! translates commands into the public `@authsec/runtime` API. Also: the runner-level mutation
//! check through the driver, and the protocol's other commands and error answers.
//!
//! The native module is this crate's cdylib, built by cargo for this test (the crate is also an
//! rlib so that `cargo test` builds it); the test installs it as `bindings/node/authsec.node`
//! (what `index.js` loads) when that file differs. Needs `node`
//! (>= 20) on PATH. `AUTHSEC_VECTOR=<id prefix>` runs a subset.

use std::path::PathBuf;
use std::sync::Arc;

use authsec_conformance::driver::Driver;
use authsec_fixture::Fixture;
use serde_json::json;

/// `bindings/node`.
fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Install the freshly built cdylib as `authsec.node` (once per test process).
fn install_addon() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(install_addon_now);
}

fn install_addon_now() {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test>: cargo builds this crate's cdylib into the same deps dir
    // (`cargo test` does not copy it up to target/<profile>).
    let deps = exe.parent().expect("target deps dir");
    let name = if cfg!(target_os = "macos") {
        "libauthsec_node.dylib"
    } else if cfg!(windows) {
        "authsec_node.dll"
    } else {
        "libauthsec_node.so"
    };
    let built = deps.join(name);
    let bytes = std::fs::read(&built)
        .unwrap_or_else(|e| panic!("{}: {e} (cargo builds it for this test)", built.display()));
    let dest = node_dir().join("authsec.node");
    if std::fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
        // Write next to it and rename, so a concurrently starting node never loads half a file.
        let tmp = node_dir().join(format!(".authsec.node.{}", std::process::id()));
        std::fs::write(&tmp, &bytes).expect("write the native module");
        std::fs::rename(&tmp, &dest).expect("install the native module");
    }
}

fn driver() -> Driver {
    install_addon();
    Driver::spawn("node", &["test/conformance-driver.mjs"], &node_dir())
        .unwrap_or_else(|e| panic!("start the Node driver: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_vectors_through_the_node_driver() {
    let d = Arc::new(driver());
    authsec_conformance::run_all_shared(d.clone()).await;
    d.shutdown()
        .expect("the driver exits cleanly at the end of its input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_check_through_the_node_driver() {
    authsec_conformance::mutation_check(driver()).await;
}

/// The commands no vector uses (environment config, manifest publishing) and the error answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_commands_and_errors() {
    let fx = Fixture::start().await.expect("fixture");
    let base = fx.base_url.clone();
    let d = driver();
    tokio::task::spawn_blocking(move || {
        let err = |cmd: serde_json::Value| d.command(&cmd).expect_err("must fail");
        let e = err(json!({"op": "check", "request": {}}));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("protocol_error", "no runtime: send create first")
        );
        let e = err(json!({"op": "bogus"}));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("protocol_error", "unknown op \"bogus\"")
        );

        // create_from_env: the variables apply to this build only.
        let env = json!({
            "TESTD_ISSUER": base, "TESTD_JWKS_URI": format!("{base}/jwks"),
            "TESTD_RESOURCE_URI": "https://mcp.example.com/tools/mcp",
            "TESTD_RESOURCE_SERVER_ID": "rs-1", "TESTD_INTROSPECTION_CLIENT_ID": "rs-1",
            "TESTD_INTROSPECTION_CLIENT_SECRET": "secret-1",
        });
        d.command(&json!({"op": "create_from_env", "prefix": "TESTD_", "env": env}))
            .expect("create_from_env");
        let e = err(json!({"op": "create", "config": "{}"}));
        assert_eq!(e.message, "a runtime is open: send close first");
        let m = d.command(&json!({"op": "metadata"})).expect("metadata");
        let doc: serde_json::Value = serde_json::from_slice(&base64_decode(
            m["response"]["body_base64"].as_str().unwrap(),
        ))
        .unwrap();
        assert_eq!(doc["resource"], "https://mcp.example.com/tools/mcp");

        // publish_manifest against the fixture: a report, then the core's refusal of an empty list.
        let tools = json!([{"name": "list_issues", "description": "List issues"}]);
        let r = d
            .command(&json!({"op": "publish_manifest", "tools": tools}))
            .expect("publish");
        assert_eq!(
            r["report"],
            json!({"tools_sent": 1, "tools_seen": 1, "generation": 1})
        );
        let e = err(json!({"op": "publish_manifest", "tools": []}));
        assert_eq!(e.code, "invalid_input");
        assert!(
            e.message
                .starts_with("manifest not sent: the tool list is empty"),
            "{}",
            e.message
        );

        // A filter for a handle the driver never gave out; then close, and the environment is gone.
        let e =
            err(json!({"op": "filter", "handle": 999, "content_type": null, "body_base64": ""}));
        assert_eq!(e.message, "unknown handle 999");
        d.command(&json!({"op": "close"})).expect("close");
        let e = err(json!({"op": "create_from_env", "prefix": "TESTD_"}));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("config_invalid", "issuer is required")
        );
        let e = err(json!({"op": "create", "config": "{\"issuer\": 1}"}));
        assert_eq!(e.code, "config_invalid");
        let e = err(json!({"op": "hello", "protocol": 2}));
        assert_eq!(e.message, "this driver speaks protocol 1, not 2");
        d.shutdown().expect("clean exit");
        let e = err(json!({"op": "metadata"}));
        assert_eq!(e.code, "driver_failed");
    })
    .await
    .unwrap();
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

//! The tenant catalogue against real databases (issue 16): an embedded SQLite file and a
//! PostgreSQL server (Debian's `postgresql`, started here with initdb on a temporary data
//! directory on a free port, as the `postgres` user when run as root, stopped at the end).
//! Each runs one scenario through `Runtime::check` with tokens minted by the fixture:
//! two tenants do not see each other's catalogue; a role deleted from the tenant's table stops
//! counting once the TTL has passed and the background reload has run; with the database
//! unreadable the last snapshot serves up to `stale_seconds`, then the catalogue degrades as the
//! policy mode says (docs/rbac.md "Degradation"), in every mode: `remote_required` 503
//! `policy_unavailable`, `remote_with_local_fallback` the last snapshot, `local_only` and `open`
//! nothing counting (a 403 RBAC denial). Never an allow for a value the catalogue never held.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use authsec_core::{Config, Decision, ManualClock, Request, Runtime};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

const RU: &str = "https://mcp.example.com/mcp";
const DENIED: &str = "RBAC denied: no RBAC requirement satisfied";

/// Statements creating the five tables and the two tenants' rows.
const SCHEMA: [&str; 5] = [
    "CREATE TABLE roles (tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE \"groups\" (tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE scopes (tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE resources (tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE permissions (tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
];
const ROWS: [&str; 4] = [
    "INSERT INTO roles VALUES ('tenant-a', 'admin'), ('tenant-a', 'developer'), ('tenant-b', 'viewer')",
    "INSERT INTO \"groups\" VALUES ('tenant-a', 'engineering')",
    "INSERT INTO scopes VALUES ('tenant-a', 'read'), ('tenant-b', 'read')",
    "INSERT INTO resources VALUES ('tenant-a', 'projects')",
];

/// The four policy modes, each with the configuration that selects it. The scope policy makes
/// the four tools public, so RBAC (and the catalogue) alone decides.
const MODES: [&str; 4] = [
    "open",
    "local_only",
    "remote_with_local_fallback",
    "remote_required",
];
const TOOLS: [&str; 4] = [
    "admin_dashboard",
    "engineering_tools",
    "viewer_tool",
    "calculator",
];

fn mode_config(mode: &str) -> Value {
    let public: serde_json::Map<String, Value> =
        TOOLS.iter().map(|t| (t.to_string(), json!([]))).collect();
    match mode {
        "open" => json!({}),
        "local_only" => json!({"policy_mode": "local_only", "tool_scopes": public}),
        remote => json!({"policy_mode": remote, "tool_scopes": public,
            "introspection_client_id": "rs-1", "introspection_client_secret": "secret-1",
            "resource_server_id": "rs-1", "validation_mode": "jwt_only"}),
    }
}

/// Outcome of one tools/call, as a client would see it.
#[derive(Debug, PartialEq)]
enum Seen {
    Allowed,
    Denied(String),
    Status(u16, String),
}

struct Harness {
    rt: Runtime,
    clock: Arc<ManualClock>,
    tokens: Vec<(String, String)>,
    _fixture: Fixture,
}

impl Harness {
    async fn new(catalogue: Value, mode: &str) -> (Harness, Vec<String>) {
        let fixture = Fixture::start().await.expect("fixture");
        let base = fixture.base_url.clone();
        let tool_policy: Vec<Value> = TOOLS
            .iter()
            .map(|t| json!({"name": t, "is_public": true, "required_scopes": []}))
            .collect();
        fixture
            .reset(json!({"policy": {"status": 200, "body": {
                "state": "ready", "policy_complete": true, "tool_policy": tool_policy}}}))
            .await;
        let mut tokens = Vec::new();
        for (name, tenant, roles) in [
            ("a", "tenant-a", json!(["admin", "developer"])),
            ("b", "tenant-b", json!(["admin", "viewer"])),
        ] {
            let claims = json!({"iss": base, "sub": format!("user-{name}"), "aud": RU,
                "tenant_id": tenant, "roles": roles, "groups": ["engineering"],
                "scope": "read", "exp": {"$now": 3600}});
            let t = fixture
                .mint(json!({"kid": "rsa-1", "claims": claims}))
                .await;
            tokens.push((name.to_string(), t));
        }
        let mut cfg = json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RU,
            "request_timeout_seconds": 5,
            "tool_rbac": {"admin_dashboard": {"roles": ["admin"]},
                          "engineering_tools": {"groups": ["engineering"]},
                          "viewer_tool": {"roles": ["viewer"]},
                          "calculator": {}},
            "rbac_catalogue": catalogue});
        for (k, v) in mode_config(mode).as_object().expect("object") {
            cfg[k] = v.clone();
        }
        let clock = Arc::new(ManualClock::new());
        let rt = Runtime::builder(Config::from_json(&cfg.to_string()).expect("config"))
            .clock(clock.clone() as Arc<dyn authsec_core::Clock>)
            .build()
            .expect("runtime");
        let warnings = rt.startup().await.expect("startup");
        (
            Harness {
                rt,
                clock,
                tokens,
                _fixture: fixture,
            },
            warnings,
        )
    }

    async fn call(&self, who: &str, tool: &str) -> Seen {
        let token = &self.tokens.iter().find(|(n, _)| n == who).expect("token").1;
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": tool, "arguments": {}}})
        .to_string();
        let req = Request {
            method: "POST",
            path: "/mcp",
            headers: &headers,
            body: body.as_bytes(),
        };
        match self.rt.check(&req).resolve().await {
            Decision::Allow(_) => Seen::Allowed,
            Decision::Respond(r) => {
                let v: Value = serde_json::from_slice(&r.body).expect("JSON answer");
                if r.status == 200 {
                    let meta = &v["result"]["_meta"]["authsec"];
                    Seen::Denied(meta["error_description"].as_str().unwrap_or("").to_string())
                } else {
                    Seen::Status(r.status, v["error"].as_str().unwrap_or("").to_string())
                }
            }
            other => panic!("unexpected decision {other:?}"),
        }
    }

    /// Past the TTL: the next request serves the snapshot and starts one reload; wait for it.
    async fn expire_and_reload(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
        let _ = self.call("a", "calculator").await;
        let _ = self.call("a", "admin_dashboard").await;
        self.rt.wait_policy_refresh().await;
    }
}

/// Before the outage, what every database source must do. `delete_admin` removes tenant-a's
/// admin role (once, for every harness on that database).
async fn before_outage<D>(hs: &[Harness], delete_admin: D)
where
    D: std::future::Future<Output = ()>,
{
    for h in hs {
        // Each tenant sees its own catalogue only: tenant-b does not define admin or engineering.
        assert_eq!(h.call("a", "admin_dashboard").await, Seen::Allowed);
        assert_eq!(h.call("a", "engineering_tools").await, Seen::Allowed);
        assert_eq!(
            h.call("b", "admin_dashboard").await,
            Seen::Denied(DENIED.into())
        );
        assert_eq!(
            h.call("b", "engineering_tools").await,
            Seen::Denied(DENIED.into())
        );
        assert_eq!(h.call("b", "viewer_tool").await, Seen::Allowed);
        assert_eq!(
            h.call("a", "viewer_tool").await,
            Seen::Denied(DENIED.into())
        );
    }
    // The admin deletes tenant-a's admin role: within the TTL the snapshot still holds it; once
    // the TTL has passed the reload drops it.
    delete_admin.await;
    for h in hs {
        assert_eq!(h.call("a", "admin_dashboard").await, Seen::Allowed);
        h.expire_and_reload(31).await;
        assert_eq!(
            h.call("a", "admin_dashboard").await,
            Seen::Denied(DENIED.into())
        );
        assert_eq!(h.call("a", "engineering_tools").await, Seen::Allowed);
    }
}

/// With the database unreadable (`break_db` already run): the last snapshot serves up to
/// stale_seconds (120), then the mode's degradation.
async fn after_outage(h: &Harness, mode: &str) {
    h.expire_and_reload(31).await;
    assert_eq!(
        h.call("a", "engineering_tools").await,
        Seen::Allowed,
        "{mode}"
    );
    assert_eq!(
        h.call("a", "admin_dashboard").await,
        Seen::Denied(DENIED.into()),
        "{mode}"
    );
    h.expire_and_reload(100).await;
    for (who, tool) in [
        ("a", "engineering_tools"),
        ("a", "admin_dashboard"),
        ("b", "viewer_tool"),
    ] {
        let seen = h.call(who, tool).await;
        let want = match (mode, tool) {
            ("remote_required", _) => Seen::Status(503, "policy_unavailable".into()),
            // The last snapshot: engineering and viewer still held, admin already deleted.
            ("remote_with_local_fallback", "admin_dashboard") => Seen::Denied(DENIED.into()),
            ("remote_with_local_fallback", _) => Seen::Allowed,
            // Nothing counts: even what the snapshot held is denied.
            _ => Seen::Denied(DENIED.into()),
        };
        assert_eq!(seen, want, "{mode} {who} {tool}");
    }
    // A tool without requirement categories is not gated by the catalogue.
    assert_eq!(h.call("a", "calculator").await, Seen::Allowed, "{mode}");
}

/// One harness per policy mode on the same catalogue source.
async fn harnesses(catalogue: Value) -> Vec<Harness> {
    let mut hs = Vec::new();
    for mode in MODES {
        let (h, warnings) = Harness::new(catalogue.clone(), mode).await;
        assert!(warnings.is_empty(), "{mode}: {warnings:?}");
        hs.push(h);
    }
    hs
}

async fn scenario<D, B>(hs: &[Harness], delete_admin: D, break_db: B)
where
    D: std::future::Future<Output = ()>,
    B: std::future::Future<Output = ()>,
{
    before_outage(hs, delete_admin).await;
    break_db.await;
    for (h, mode) in hs.iter().zip(MODES) {
        after_outage(h, mode).await;
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "authsec-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_catalogue() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = temp_dir("sqlite");
    let file = dir.join("catalogue.db");
    let admin = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true),
        )
        .await
        .expect("sqlite");
    for s in SCHEMA.iter().chain(ROWS.iter()) {
        sqlx::query(s).execute(&admin).await.expect(s);
    }
    let hs = harnesses(json!({"sqlite": file.to_str().unwrap()})).await;
    let delete = async {
        sqlx::query("DELETE FROM roles WHERE tenant_id = 'tenant-a' AND name = 'admin'")
            .execute(&admin)
            .await
            .expect("delete");
    };
    let broken = async {
        sqlx::query("DROP TABLE \"groups\"")
            .execute(&admin)
            .await
            .expect("drop");
    };
    scenario(&hs, delete, broken).await;
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_missing_file_is_unavailable_never_allowed() {
    let dir = temp_dir("sqlite-missing");
    let file = dir.join("absent.db");
    for mode in MODES {
        let (h, warnings) = Harness::new(json!({"sqlite": file.to_str().unwrap()}), mode).await;
        assert_eq!(warnings.len(), 1, "{mode}: {warnings:?}");
        assert!(
            warnings[0].contains("tenant catalogue: reading roles failed"),
            "{warnings:?}"
        );
        assert!(!file.exists(), "the catalogue must never create the file");
        // Never loaded: no snapshot to fall back to, so only remote_required differs.
        let want = if mode == "remote_required" {
            assert!(
                warnings[0].ends_with("answer 503 policy_unavailable until the catalogue loads")
            );
            Seen::Status(503, "policy_unavailable".into())
        } else {
            assert!(
                warnings[0].ends_with("counts until the catalogue loads"),
                "{warnings:?}"
            );
            Seen::Denied(DENIED.into())
        };
        for tool in ["admin_dashboard", "engineering_tools"] {
            assert_eq!(h.call("a", tool).await, want, "{mode} {tool}");
        }
        assert_eq!(h.call("a", "calculator").await, Seen::Allowed, "{mode}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PostgreSQL server of its own: initdb on a temporary directory, a free port on 127.0.0.1.
struct Postgres {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.exists());
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL not found under /usr/lib/postgresql: install Debian's postgresql (scripts/test.sh does)")
    })
}

fn as_db_user(bin: &Path) -> Command {
    // Root cannot run PostgreSQL: run it as the postgres user (`id -u` keeps this free of unsafe).
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Postgres {
    fn start() -> Postgres {
        let dir = temp_dir("pg");
        let data = dir.join("data");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if root {
            let st = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(st.success());
        }
        let st = as_db_user(&pg_bin("initdb"))
            .args(["-A", "trust", "-U", "authsec", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb");
        assert!(st.success(), "initdb failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = as_db_user(&pg_bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        Postgres {
            child: Some(child),
            dir,
            port,
        }
    }

    fn url(&self) -> String {
        format!("postgres://authsec@127.0.0.1:{}/postgres", self.port)
    }

    /// Stop the server (SIGINT to its PID: fast shutdown) and wait for it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The server's own PID (the child may be runuser): postmaster.pid's first line.
            let pid = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid"))
                .ok()
                .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_else(|| c.id().to_string());
            let _ = Command::new("kill").arg("-INT").arg(&pid).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_catalogue() {
    use sqlx::postgres::PgPoolOptions;
    let mut pg = Postgres::start();
    // Wait for the server to accept connections (bounded; not a timing assertion).
    let mut admin = None;
    for _ in 0..300 {
        match PgPoolOptions::new()
            .max_connections(1)
            .connect(&pg.url())
            .await
        {
            Ok(p) => {
                admin = Some(p);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let admin = admin.expect("PostgreSQL did not start");
    for s in SCHEMA.iter().chain(ROWS.iter()) {
        sqlx::query(s).execute(&admin).await.expect(s);
    }
    let hs = harnesses(json!({"postgres": pg.url()})).await;
    let delete = async {
        sqlx::query("DELETE FROM roles WHERE tenant_id = 'tenant-a' AND name = 'admin'")
            .execute(&admin)
            .await
            .expect("delete");
    };
    let down = async {
        admin.close().await;
        pg.stop(); // the database is down
    };
    scenario(&hs, delete, down).await;
    // The URL (which may hold a password) never appears in the runtime's Debug output.
    assert!(!format!("{:?}", hs[0].rt).contains("authsec@127.0.0.1"));
}

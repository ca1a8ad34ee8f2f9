//! `authsec doctor` on the common mistakes, each asserting the explanation a user reads: wrong
//! audience, wrong issuer, expired, missing scope, unreachable JWKS, an opaque token without
//! introspection, an invalid configuration; and that the token never appears in the output.
//! The issuer is the fixture (the dev issuer of the demo and `authsec token`) on 127.0.0.1.

use authsec_cli::doctor::{run, Options, Report};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

const RESOURCE: &str = "http://127.0.0.1:18080/mcp";

fn config(fx: &Fixture, extra: Value) -> Value {
    let mut c = json!({
        "issuer": fx.base_url, "jwks_url": format!("{}/jwks", fx.base_url), "resource_uri": RESOURCE,
        "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"], "server_info": []}
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

async fn token(fx: &Fixture, claims: Value) -> String {
    let mut c = json!({"iss": fx.base_url, "sub": "dev-user", "client_id": "dev-client", "aud": RESOURCE,
                       "scope": "issues:read", "exp": {"$now": 3600}});
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    fx.mint(json!({"kid": "rsa-1", "claims": c})).await
}

async fn doctor(cfg: &Value, token: Option<&str>, toml: bool) -> Report {
    let dir = std::env::temp_dir().join(format!(
        "authsec-doctor-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = if toml {
        let p = dir.join("authsec.toml");
        let t = toml::to_string(&toml::Value::try_from(cfg).unwrap()).unwrap();
        std::fs::write(&p, t).unwrap();
        p
    } else {
        let p = dir.join("authsec.json");
        std::fs::write(&p, cfg.to_string()).unwrap();
        p
    };
    let r = run(&Options {
        config: Some(path),
        env_prefix: "AUTHSEC_".into(),
        token: token.map(str::to_string),
        offline: false,
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(t) = token {
        assert!(
            !r.text.contains(t),
            "the token must never be printed:\n{}",
            r.text
        );
        let sig = t.rsplit('.').next().unwrap();
        assert!(
            sig.len() < 8 || !r.text.contains(sig),
            "no signature in the output:\n{}",
            r.text
        );
    }
    r
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn has(r: &Report, line: &str) {
    assert!(r.text.contains(line), "expected {line:?} in:\n{}", r.text);
}

#[tokio::test]
async fn a_good_token_is_explained_and_each_tool_listed() {
    let fx = Fixture::start().await.unwrap();
    let t = token(&fx, json!({})).await;
    let r = doctor(&config(&fx, json!({})), Some(&t), true).await;
    assert!(r.ok, "{}", r.text);
    has(
        &r,
        "ok    valid: policy mode local_only, validation mode jwt_only",
    );
    has(
        &r,
        &format!("ok    JWKS {}/jwks: HTTP 200 in ", fx.base_url),
    );
    has(&r, "header: alg \"RS256\" kid \"rsa-1\" typ \"JWT\"");
    has(&r, "claim sub       \"dev-user\"");
    has(
        &r,
        &format!("ok    issuer: iss is the configured issuer {}", fx.base_url),
    );
    has(
        &r,
        &format!("ok    audience: aud contains the resource URI {RESOURCE}"),
    );
    has(&r, "ok    expiry: valid for ");
    has(&r, " min more (clock skew allowed: 0 s)");
    has(
        &r,
        "ok    signature key: the JWKS publishes kid rsa-1 (RSA), alg RS256",
    );
    has(
        &r,
        "ok    accepted: subject \"dev-user\", client \"dev-client\", scopes [\"issues:read\"]",
    );
    has(&r, "ok    list_issues: allowed (needs any of issues:read)");
    has(&r, "ok    server_info: allowed (public)");
}

#[tokio::test]
async fn missing_scope_names_the_scope_and_the_fix() {
    let fx = Fixture::start().await.unwrap();
    let t = token(&fx, json!({})).await;
    let r = doctor(&config(&fx, json!({})), Some(&t), false).await;
    has(&r, "deny  create_issue: refused (403 insufficient_scope): lacks issues:write (the token has issues:read)");
    has(&r, "fix   to call the refused tools, request the token with scope=\"issues:read issues:write\"");
}

#[tokio::test]
async fn wrong_audience_says_request_the_token_with_resource() {
    let fx = Fixture::start().await.unwrap();
    let t = token(&fx, json!({"aud": "http://127.0.0.1:18080/mcp/"})).await;
    let r = doctor(&config(&fx, json!({})), Some(&t), false).await;
    assert!(!r.ok);
    has(&r, "FAIL  audience: aud [\"http://127.0.0.1:18080/mcp/\"] does not contain the resource URI http://127.0.0.1:18080/mcp");
    has(
        &r,
        "fix   they differ only by a trailing slash: the comparison is exact",
    );
    has(&r, "fix   request the token with resource=http://127.0.0.1:18080/mcp (RFC 8707), so the authorization server puts it in aud");
    has(&r, "FAIL  refused: HTTP 401 invalid_audience:");
}

#[tokio::test]
async fn wrong_issuer_names_both_issuers() {
    let fx = Fixture::start().await.unwrap();
    let t = token(&fx, json!({"iss": "https://login.example.com"})).await;
    let r = doctor(&config(&fx, json!({})), Some(&t), false).await;
    assert!(!r.ok);
    has(
        &r,
        &format!(
            "FAIL  issuer: iss \"https://login.example.com\" is not the configured issuer \"{}\"",
            fx.base_url
        ),
    );
    has(&r, &format!("fix   get the token from {}, or set issuer (and jwks_url) to \"https://login.example.com\" if that issuer is the one you trust", fx.base_url));
    has(&r, "FAIL  refused: HTTP 401 invalid_token:");
}

#[tokio::test]
async fn expired_token_says_how_long_ago_and_the_skew() {
    let fx = Fixture::start().await.unwrap();
    let t = token(&fx, json!({"exp": {"$now": -600}})).await;
    let r = doctor(
        &config(&fx, json!({"clock_skew_seconds": 30})),
        Some(&t),
        false,
    )
    .await;
    assert!(!r.ok);
    has(&r, "FAIL  expiry: expired 10 min ago");
    has(&r, "clock skew allowed: 30 s)");
    has(&r, "fix   get a fresh token");
    has(
        &r,
        "FAIL  refused: HTTP 401 invalid_token: \"token expired\" (reason token_expired)",
    );
}

#[tokio::test]
async fn unreachable_jwks_is_reported_with_its_timing() {
    let fx = Fixture::start().await.unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let jwks = format!("http://127.0.0.1:{port}/jwks");
    let t = token(&fx, json!({})).await;
    let r = doctor(&config(&fx, json!({"jwks_url": jwks})), Some(&t), false).await;
    assert!(!r.ok);
    has(
        &r,
        &format!("FAIL  JWKS {jwks}: unreachable (connection refused or no route) after "),
    );
    has(&r, "fix   check jwks_url");
    has(&r, "FAIL  refused: HTTP 401 invalid_token:");
}

#[tokio::test]
async fn opaque_token_without_introspection_says_what_to_configure() {
    let fx = Fixture::start().await.unwrap();
    let r = doctor(&config(&fx, json!({})), Some("opaque-token-4f9a"), false).await;
    assert!(!r.ok);
    has(&r, "form: opaque (17 characters, not a JWT)");
    has(&r, "FAIL  this token is opaque and the configuration has no introspection_url: only JWTs can be verified locally");
    has(
        &r,
        "fix   set introspection_url with introspection_client_id and introspection_client_secret",
    );
}

#[tokio::test]
async fn invalid_config_gives_the_reference_message() {
    let fx = Fixture::start().await.unwrap();
    let mut c = config(&fx, json!({"introspection_client_secret": "s3cr3t-value"}));
    c.as_object_mut().unwrap().remove("issuer");
    let r = doctor(&c, None, false).await;
    assert!(!r.ok);
    has(&r, "FAIL  config_invalid: issuer is required");
    assert!(!r.text.contains("s3cr3t-value"), "{}", r.text);
    let c = config(&fx, json!({"jwks_uri": "x"}));
    let r = doctor(&c, None, true).await;
    has(&r, "authsec.toml: config_invalid: invalid config JSON: unknown field `jwks_uri`, expected one of `issuer`");
    assert!(!r.text.contains(" column "), "{}", r.text);
}

#[tokio::test]
async fn introspection_with_wrong_credentials_is_reported() {
    let fx = Fixture::start().await.unwrap();
    let c = config(
        &fx,
        json!({"introspection_url": format!("{}/introspect", fx.base_url), "introspection_client_id": "rs-1",
               "introspection_client_secret": "wrong-secret", "validation_mode": "jwt_or_introspect"}),
    );
    let r = doctor(&c, None, false).await;
    assert!(!r.ok);
    has(&r, "the client credentials were refused");
    has(
        &r,
        "fix   check introspection_client_id and introspection_client_secret",
    );
    assert!(!r.text.contains("wrong-secret"), "{}", r.text);
}

//! The AuthSec services API client (service credentials) against the fixture backend's
//! `/services/*` endpoints: the request it sends, the answer fields it reads, and what a caller
//! sees on every failure (never a credential value).

use authsec_core::{Config, ErrorCode, Runtime, Secret};
use authsec_fixture::Fixture;
use serde_json::{json, Value};

fn runtime(fx: &Fixture, services_url: &str) -> Runtime {
    Runtime::new(Config {
        issuer: fx.base_url.clone(),
        resource_uri: "https://mcp.example.com/mcp".into(),
        jwks_url: format!("{}/jwks", fx.base_url),
        introspection_client_id: "rs-1".into(),
        introspection_client_secret: Secret::new("secret-1"),
        services_url: services_url.to_string(),
        ..Config::default()
    })
    .unwrap()
}

fn github() -> Value {
    json!({
        "service_id": "svc-1", "service_name": "github", "service_type": "github",
        "auth_type": "oauth2", "url": "https://api.github.com",
        "credentials": {"access_token": "gho-secret-credential-1", "token_type": "bearer"},
        "metadata": {"org": "acme"}, "retrieved_at": "2026-12-01T10:00:00Z"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_token_and_user_details() {
    let fx = Fixture::start().await.unwrap();
    fx.reset(json!({"services": {
        "sess-1 github": {"credentials": github(), "user_details": {"login": "octo", "id": 7}},
        "sess-1 slack": {"credentials": {
            "service_id": "svc-2", "service_name": "slack", "service_type": "slack",
            "auth_type": "api_key", "url": "https://slack.com/api",
            "credentials": {"api_key": "xoxb-secret-credential-2"},
            "retrieved_at": "2026-12-01T10:00:01Z"}},
        "sess-1 broken": {"credentials": {"service_id": "svc-3", "credentials": {}}},
        "sess-1 refusing": {"credentials": {"error": "session sess-1 expired, token gho-leak"}},
    }}))
    .await;
    let rt = runtime(&fx, &format!("{}/services/", fx.base_url));

    let c = rt.service_credentials("sess-1", "github").await.unwrap();
    assert_eq!(
        (
            c.service_id.as_str(),
            c.service_name.as_str(),
            c.service_type.as_str()
        ),
        ("svc-1", "github", "github")
    );
    assert_eq!(
        (c.auth_type.as_str(), c.url.as_str()),
        ("oauth2", "https://api.github.com")
    );
    assert_eq!(c.retrieved_at, "2026-12-01T10:00:00Z");
    assert_eq!(c.metadata["org"], "acme");
    assert_eq!(c.to_json(), github());
    let debug = format!("{c:?}");
    assert!(!debug.contains("gho-secret-credential-1"), "{debug}");
    assert!(
        debug.contains("<redacted: access_token, token_type>"),
        "{debug}"
    );
    // What went out: the seed's body and client header.
    let last = fx.control("GET", "/_control/last", None).await;
    let sent: Value = serde_json::from_str(last["services"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent,
        json!({"session_id": "sess-1", "service_name": "github"})
    );
    assert_eq!(last["services"]["path"], "credentials");
    assert_eq!(last["services"]["client_id"], "rs-1");
    assert_eq!(last["services"]["content_type"], "application/json");

    let token = rt.service_token("sess-1", "github").await.unwrap();
    assert_eq!(token.expose(), "gho-secret-credential-1");
    assert!(!format!("{token:?}").contains("gho-secret"));

    let d = rt.service_user_details("sess-1", "github").await.unwrap();
    assert_eq!(Value::Object(d), json!({"login": "octo", "id": 7}));

    // Metadata absent: `{}`; no access token: the seed's error.
    let s = rt.service_credentials("sess-1", "slack").await.unwrap();
    assert!(s.metadata.is_empty());
    let e = rt.service_token("sess-1", "slack").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Services);
    assert_eq!(e.message(), "No access token available for slack");

    for (service, want) in [
        ("unknown", "services API returned HTTP 404"),
        (
            "broken",
            "services API answer lacks the string service_name",
        ),
        ("refusing", "services API refused the request for refusing"),
    ] {
        let e = rt.service_credentials("sess-1", service).await.unwrap_err();
        assert_eq!((e.code(), e.message()), (ErrorCode::Services, want));
    }
    let e = rt.service_credentials("", "github").await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            ErrorCode::InvalidInput,
            "session_id and service_name are required"
        )
    );
    assert_eq!(
        fx.counters().await["services"],
        8,
        "the empty argument never left"
    );

    // An outage whose body echoes a credential: the caller sees the status only.
    fx.control(
        "POST",
        "/_control/outage",
        Some(json!({"endpoint": "services", "status": 503,
                    "body": {"error": "gho-secret-credential-1"}})),
    )
    .await;
    let e = rt.service_token("sess-1", "github").await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (ErrorCode::Services, "services API returned HTTP 503")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_or_unreachable() {
    let fx = Fixture::start().await.unwrap();
    let e = runtime(&fx, "")
        .service_credentials("sess-1", "github")
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (ErrorCode::Services, "services_url is not configured")
    );
    // Nothing listens on port 9 of loopback.
    let e = runtime(&fx, "http://127.0.0.1:9/services")
        .service_credentials("sess-1", "github")
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            ErrorCode::Services,
            "services API request failed: connection failed"
        )
    );
}

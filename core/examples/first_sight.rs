//! A fixed first-sight workload for profiles and instruction counts (`perf`, `valgrind
//! --tool=callgrind`), beside its floor in the same process: N distinct tokens of one algorithm,
//! each checked once by a runtime whose JWKS is already fetched (`check_all`), and the same N
//! signatures verified with the key parsed once (`floor_all`, the floor of DESIGN §7).
//!
//! `cargo build --release -p authsec-core --example first_sight`, then
//! `valgrind --tool=callgrind target/release/examples/first_sight 2000 RS256` and
//! `callgrind_annotate --inclusive=yes` the output: the inclusive counts of `check_all` and
//! `floor_all` divided by N are the per-token cost and its floor (minting is outside both).
//! Algorithms: RS256 (default), PS256, ES256, EdDSA.

use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::{keys, mint, Fixture};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let alg = args.next().unwrap_or_else(|| "RS256".to_string());
    let (kid, verification): (
        &str,
        &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    ) = match alg.as_str() {
        "RS256" => ("rsa-1", &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256),
        "PS256" => ("ps-1", &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256),
        "ES256" => ("ec-256", &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED),
        "EdDSA" => ("ed-1", &aws_lc_rs::signature::ED25519),
        other => panic!("unknown algorithm {other}"),
    };
    // The fixture serves the JWKS from a thread of its own; `tokio` runs the warm-up fetch.
    let fx = Fixture::start_in_background().expect("fixture");
    let base = fx.base_url.clone();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    // One more than N: the first warms the runtime (fetches the JWKS) outside the counts.
    let tokens: Vec<String> = (0..=n)
        .map(|i| {
            mint::mint(
                &json!({"kid": kid, "alg": alg, "header": {"typ": "at+jwt"}, "claims": {
                "iss": base, "sub": "bench-user", "aud": RESOURCE, "client_id": "bench",
                "scope": "issues:read issues:write", "iat": exp - 3600, "exp": exp,
                "jti": format!("jti-{i}")}}),
            )
            .expect("mint")
        })
        .collect();
    let cfg = Config::from_json(
        &json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
            "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}})
        .to_string(),
    )
    .expect("config");
    let rt = Runtime::new(cfg).expect("runtime");
    let auths: Vec<String> = tokens.iter().map(|t| format!("Bearer {t}")).collect();
    let warm = tokio.block_on(
        rt.check(&request(&[("authorization", &auths[0])]))
            .resolve(),
    );
    assert!(matches!(warm, Decision::Allow(_)), "{warm:?}");

    let pem = keys::find(kid).expect("test key").public_pem;
    let spki = STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("pem");
    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(verification, spki).expect("key");
    let parts: Vec<(&str, &str)> = tokens[1..]
        .iter()
        .map(|t| t.rsplit_once('.').expect("compact JWT"))
        .collect();

    let allowed = check_all(&rt, &auths[1..]);
    assert_eq!(allowed, n);
    assert_eq!(floor_all(&parsed, &parts), n);
    println!("first_sight {alg}: {n} first-sight checks allowed, {n} floor verifications");
}

fn request<'a>(headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
    Request {
        method: "POST",
        path: "/mcp",
        headers,
        body: BODY,
    }
}

/// Every token checked once, synchronously (the JWKS is held): the first-sight path.
#[inline(never)]
fn check_all(rt: &Runtime, auths: &[String]) -> usize {
    auths
        .iter()
        .filter(|auth| {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            matches!(
                rt.check(&request(&headers)),
                Check::Ready(Decision::Allow(_))
            )
        })
        .count()
}

/// The floor: the same signatures verified with the key parsed once (the signature decoded
/// from base64url as the core must).
#[inline(never)]
fn floor_all(key: &aws_lc_rs::signature::ParsedPublicKey, parts: &[(&str, &str)]) -> usize {
    parts
        .iter()
        .filter(|(message, signature)| {
            URL_SAFE_NO_PAD
                .decode(signature)
                .is_ok_and(|sig| key.verify_sig(message.as_bytes(), &sig).is_ok())
        })
        .count()
}

//! Benchmarks of `Runtime::check` on a `tools/call` request, each beside its baseline measured in
//! the same run:
//! - first sight of a token, per algorithm, against the floor: the signature verification of the
//!   same tokens with a key parsed once (aws-lc-rs `ParsedPublicKey`, prepared before timing),
//!   and, for reference, `jsonwebtoken::crypto::verify` (which re-parses the key every call);
//! - a repeated token (verified-token cache hit);
//! - filtering a `tools/list` answer of 100 tools.
//!
//! The JWKS is served by the fixture backend on loopback and fetched once before timing.
//! `cargo bench -p authsec-core --bench check` prints the ratios at the end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authsec_core::{Check, Config, Decision, Request, Runtime};
use authsec_fixture::Fixture;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{json, Value};

#[path = "support/tools_list.rs"]
mod tools_list;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"authsec/authsec","state":"open","labels":["bug","security"],"limit":50,"query":"token audience binding"}}}"#;
const POOL: usize = 400;

struct Alg {
    name: &'static str,
    alg: Algorithm,
    kid: &'static str,
    pem: &'static str,
    public_pem: &'static str,
    verification: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
}

const ALGS: [Alg; 4] = [
    Alg {
        name: "RS256",
        alg: Algorithm::RS256,
        kid: "rsa-1",
        pem: include_str!("../../tests/conformance/keys/rsa-1.pem"),
        public_pem: include_str!("../../tests/conformance/keys/rsa-1.pub.pem"),
        verification: &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
    },
    Alg {
        name: "PS256",
        alg: Algorithm::PS256,
        kid: "ps-1",
        pem: include_str!("../../tests/conformance/keys/ps-1.pem"),
        public_pem: include_str!("../../tests/conformance/keys/ps-1.pub.pem"),
        verification: &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
    },
    Alg {
        name: "ES256",
        alg: Algorithm::ES256,
        kid: "ec-256",
        pem: include_str!("../../tests/conformance/keys/ec-256.pem"),
        public_pem: include_str!("../../tests/conformance/keys/ec-256.pub.pem"),
        verification: &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
    },
    Alg {
        name: "EdDSA",
        alg: Algorithm::EdDSA,
        kid: "ed-1",
        pem: include_str!("../../tests/conformance/keys/ed-1.pem"),
        public_pem: include_str!("../../tests/conformance/keys/ed-1.pub.pem"),
        verification: &aws_lc_rs::signature::ED25519,
    },
];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn encoding_key(a: &Alg) -> EncodingKey {
    match a.alg {
        Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(a.pem.as_bytes()),
        Algorithm::ES256 => EncodingKey::from_ec_pem(a.pem.as_bytes()),
        _ => EncodingKey::from_ed_pem(a.pem.as_bytes()),
    }
    .expect("test key")
}

/// Sign `n` distinct tokens (distinct `jti`) with the key of `a`.
fn mint(issuer: &str, a: &Alg, n: usize) -> Vec<String> {
    let key = encoding_key(a);
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": a.name, "typ": "at+jwt", "kid": a.kid}).to_string());
    (0..n)
        .map(|i| {
            let claims = json!({
                "iss": issuer, "sub": "bench-user", "aud": RESOURCE, "client_id": "bench",
                "scope": "issues:read issues:write", "iat": now(), "exp": now() + 3600,
                "jti": format!("jti-{i}-{}", a.name),
            });
            let msg = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, a.alg).unwrap();
            format!("{msg}.{sig}")
        })
        .collect()
}

/// The published public key of `kid`, built the way the core builds it (from JWK components).
fn decoding_key(jwks: &Value, kid: &str) -> DecodingKey {
    let k = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    let s = |f: &str| k[f].as_str().unwrap();
    match s("kty") {
        "RSA" => DecodingKey::from_rsa_components(s("n"), s("e")).unwrap(),
        "EC" => DecodingKey::from_ec_components(s("x"), s("y")).unwrap(),
        _ => DecodingKey::from_ed_components(s("x")).unwrap(),
    }
}

/// The floor's key: the public key parsed once into an aws-lc-rs `ParsedPublicKey`.
fn parsed_key(a: &Alg) -> aws_lc_rs::signature::ParsedPublicKey {
    let b64: String = a
        .public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    aws_lc_rs::signature::ParsedPublicKey::new(a.verification, spki).expect("public key")
}

fn config(base: &str) -> Config {
    Config::from_json(
        &json!({
            "issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": RESOURCE,
            "tool_scopes": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}
        })
        .to_string(),
    )
    .unwrap()
}

fn check_sync(rt: &Runtime, token: &str) -> Decision {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: BODY,
    };
    match rt.check(&req) {
        Check::Ready(d) => d,
        Check::Pending(_) => panic!("expected a decision from memory"),
    }
}

/// A runtime whose JWKS is already fetched (one untimed request through the async path).
fn warm_runtime(tokio: &tokio::runtime::Runtime, base: &str, warm_token: &str) -> Runtime {
    let rt = Runtime::new(config(base)).unwrap();
    let auth = format!("Bearer {warm_token}");
    let headers = [("authorization", auth.as_str())];
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &headers,
        body: BODY,
    };
    let d = tokio.block_on(rt.check(&req).resolve());
    assert!(matches!(d, Decision::Allow(_)), "{d:?}");
    rt
}

type Medians = Arc<Mutex<Vec<(String, f64)>>>;

fn record(medians: &Medians, name: &str, per_iter: f64) {
    medians.lock().unwrap().push((name.to_string(), per_iter));
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fx = tokio.block_on(Fixture::start()).expect("fixture");
    let base = fx.base_url.clone();
    let jwks: Value = tokio.block_on(async {
        reqwest::get(format!("{base}/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let medians: Medians = Arc::default();

    let mut g = c.benchmark_group("first_sight");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for a in &ALGS {
        let tokens = mint(&base, a, POOL + 1);
        let key = decoding_key(&jwks, a.kid);
        let parts: Vec<(String, String)> = tokens
            .iter()
            .map(|t| {
                let (m, s) = t.rsplit_once('.').unwrap();
                (m.to_string(), s.to_string())
            })
            .collect();
        // The floor: the signature check of the same tokens with a key parsed once.
        let parsed = parsed_key(a);
        g.bench_function(format!("{}/floor_verify", a.name), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters as usize {
                    let (m, s) = &parts[i % POOL];
                    let sig = URL_SAFE_NO_PAD.decode(s).unwrap();
                    assert!(parsed.verify_sig(m.as_bytes(), &sig).is_ok());
                }
                let t = start.elapsed();
                record(
                    &medians,
                    &format!("{}/floor_verify", a.name),
                    t.as_secs_f64() / iters as f64,
                );
                t
            })
        });
        // For reference: jsonwebtoken's verify, which parses the key on every call.
        g.bench_function(format!("{}/raw_verify", a.name), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters as usize {
                    let (m, s) = &parts[i % POOL];
                    assert!(jsonwebtoken::crypto::verify(s, m.as_bytes(), &key, a.alg).unwrap());
                }
                let t = start.elapsed();
                record(
                    &medians,
                    &format!("{}/raw_verify", a.name),
                    t.as_secs_f64() / iters as f64,
                );
                t
            })
        });
        // The full decision on a token never seen before: a fresh runtime (JWKS warmed untimed)
        // per pool of distinct tokens.
        g.bench_function(format!("{}/check", a.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0usize;
                while done < iters as usize {
                    let rt = warm_runtime(&tokio, &base, &tokens[POOL]);
                    let n = (iters as usize - done).min(POOL);
                    let start = Instant::now();
                    for t in &tokens[..n] {
                        assert!(matches!(check_sync(&rt, t), Decision::Allow(_)));
                    }
                    total += start.elapsed();
                    done += n;
                }
                record(
                    &medians,
                    &format!("{}/check", a.name),
                    total.as_secs_f64() / iters as f64,
                );
                total
            })
        });
    }
    g.finish();

    let rs = &ALGS[0];
    let token = mint(&base, rs, 1).remove(0);
    let rt = warm_runtime(&tokio, &base, &token);
    c.bench_function("repeated_token/check", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(check_sync(&rt, &token));
            }
            let t = start.elapsed();
            record(
                &medians,
                "repeated_token/check",
                t.as_secs_f64() / iters as f64,
            );
            t
        })
    });

    let list_body = tools_list::body();
    let principal = match check_sync(&rt, &token) {
        Decision::Allow(a) => a.principal,
        d => panic!("{d:?}"),
    };
    c.bench_function("tools_list_100/filter", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(rt.filter_response(
                    &principal,
                    Some("application/json"),
                    &list_body,
                ));
            }
            let t = start.elapsed();
            record(
                &medians,
                "tools_list_100/filter",
                t.as_secs_f64() / iters as f64,
            );
            t
        })
    });
    c.bench_function("tools_list_100/parse_serialize_baseline", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let v: Value = serde_json::from_slice(&list_body).unwrap();
                std::hint::black_box(serde_json::to_vec(&v).unwrap());
            }
            let t = start.elapsed();
            record(
                &medians,
                "tools_list_100/parse_serialize_baseline",
                t.as_secs_f64() / iters as f64,
            );
            t
        })
    });

    print_summary(&medians);
}

/// Median of the per-iteration times of each benchmark's samples, and the ratios.
fn print_summary(medians: &Medians) {
    let m = medians.lock().unwrap();
    let median = |name: &str| {
        let mut v: Vec<f64> = m
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN) * 1e6
    };
    println!("\nsummary (median of samples, microseconds per request):");
    for a in &ALGS {
        let (c, f, r) = (
            median(&format!("{}/check", a.name)),
            median(&format!("{}/floor_verify", a.name)),
            median(&format!("{}/raw_verify", a.name)),
        );
        println!(
            "  first sight {:<6} check {:>8.2}  floor (parsed key) {:>8.2}  ratio {:.3}  (jsonwebtoken verify {:>8.2}, ratio {:.3})",
            a.name,
            c,
            f,
            c / f,
            r,
            c / r
        );
    }
    println!(
        "  repeated token        check {:>8.3}",
        median("repeated_token/check")
    );
    let (f, b) = (
        median("tools_list_100/filter"),
        median("tools_list_100/parse_serialize_baseline"),
    );
    println!(
        "  tools/list 100 tools  filter {f:>7.2}  parse+serialize {b:>7.2}  ratio {:.3}",
        f / b
    );
}

criterion_group!(check, benches);
criterion_main!(check);

//! `authsec doctor`: explain a configuration and, with `--token`, the decision a request with
//! that token gets, in plain words.
//!
//! The configuration is read and validated by the core (its messages, word for word). Each
//! backend is called once (JWKS, introspection with a probe token, `sdk-policy`, the
//! authorization server's metadata) and reported with its status, time and what it returned.
//! A token is decoded (header and claims) and checked step by step against the configuration
//! (issuer, audience, expiry with the configured skew, key and algorithm), each failed step with
//! its fix; then the core decides, as it would for a client: a `tools/list` and a `tools/call`
//! of every tool the policy knows, each refused tool with the scope it lacks. The token itself
//! and every secret are never printed.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authsec_core::{Config, Decision, PolicyView, Request, Runtime, ValidationMode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::config_file;

/// What to check.
pub struct Options {
    /// Configuration file (else the environment).
    pub config: Option<PathBuf>,
    /// Environment prefix.
    pub env_prefix: String,
    /// A token to explain.
    pub token: Option<String>,
    /// Skip the backend calls.
    pub offline: bool,
}

/// The explanation, and whether everything checked out.
pub struct Report {
    /// The text a user reads.
    pub text: String,
    /// No step failed.
    pub ok: bool,
}

#[derive(Default)]
struct Out {
    text: String,
    failed: bool,
}

impl Out {
    fn section(&mut self, s: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(s);
        self.text.push('\n');
    }
    fn ok(&mut self, s: impl AsRef<str>) {
        self.line("ok  ", s.as_ref());
    }
    fn fail(&mut self, s: impl AsRef<str>) {
        self.failed = true;
        self.line("FAIL", s.as_ref());
    }
    /// A refusal that is the policy working (a tool this token may not call): not a failure.
    fn deny(&mut self, s: impl AsRef<str>) {
        self.line("deny", s.as_ref());
    }
    fn warn(&mut self, s: impl AsRef<str>) {
        self.line("warn", s.as_ref());
    }
    fn info(&mut self, s: impl AsRef<str>) {
        self.line("    ", s.as_ref());
    }
    fn fix(&mut self, s: impl AsRef<str>) {
        self.line("fix ", s.as_ref());
    }
    fn line(&mut self, tag: &str, s: &str) {
        for (i, l) in s.lines().enumerate() {
            self.text.push_str(if i == 0 { "  " } else { "        " });
            if i == 0 {
                self.text.push_str(tag);
                self.text.push_str("  ");
            }
            self.text.push_str(l);
            self.text.push('\n');
        }
    }
    fn report(self) -> Report {
        Report {
            text: self.text,
            ok: !self.failed,
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// "in 59 min" / "3 min ago".
fn relative(secs: i64) -> String {
    let a = secs.unsigned_abs();
    if a == 0 {
        return "now".into();
    }
    let s = if a < 120 {
        format!("{a} s")
    } else if a < 7200 {
        format!("{} min", a / 60)
    } else if a < 172_800 {
        format!("{} h", a / 3600)
    } else {
        format!("{} days", a / 86_400)
    };
    if secs >= 0 {
        format!("in {s}")
    } else {
        format!("{s} ago")
    }
}

/// A short, printable rendering of a claim value (no control characters, at most 120 chars).
fn show(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > 120 {
        format!("{}...", clean.chars().take(117).collect::<String>())
    } else {
        clean
    }
}

/// The token's scopes as the core reads them (`scope` string or array, else `scopes`, `scp`).
fn scopes_of(claims: &Value) -> Vec<String> {
    for k in ["scope", "scopes", "scp"] {
        match claims.get(k) {
            Some(Value::String(s)) => return s.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(a)) => {
                return a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            }
            _ => {}
        }
    }
    Vec::new()
}

fn audiences(claims: &Value) -> Option<Vec<String>> {
    match claims.get("aud") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn decode_segment(s: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

struct Backends {
    client: reqwest::Client,
    timeout: Duration,
}

impl Backends {
    async fn get(
        &self,
        url: &str,
        basic: Option<(&str, &str)>,
    ) -> (Duration, Result<(u16, String), String>) {
        let start = Instant::now();
        let mut r = self.client.get(url).timeout(self.timeout);
        if let Some((u, p)) = basic {
            r = r.basic_auth(u, Some(p));
        }
        let res = match r.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                Ok((status, resp.text().await.unwrap_or_default()))
            }
            Err(e) => Err(describe(&e)),
        };
        (start.elapsed(), res)
    }
}

/// What went wrong with a call, without the URL's query (reqwest's message may include it).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer (timed out)".into()
    } else if e.is_connect() {
        "unreachable (connection refused or no route)".into()
    } else if e.is_builder() {
        "not a usable URL".into()
    } else {
        "the request failed".into()
    }
}

/// Check everything `o` asks for.
pub async fn run(o: &Options) -> Report {
    let mut out = Out::default();
    out.section("Configuration");
    let (cfg, source) = match config_file::load(o.config.as_deref(), Some(&o.env_prefix)) {
        Ok(x) => x,
        Err(e) => {
            out.fail(e);
            return out.report();
        }
    };
    out.ok(format!("read from {source}"));
    if let Err(e) = cfg.validate() {
        out.fail(format!("{}: {}", e.code(), e.message()));
        return out.report();
    }
    let rt = match Runtime::new(cfg.clone()) {
        Ok(rt) => rt,
        Err(e) => {
            out.fail(format!("{}: {}", e.code(), e.message()));
            return out.report();
        }
    };
    let cfg = rt.config().clone();
    out.ok(format!(
        "valid: policy mode {}, validation mode {}",
        cfg.effective_policy_mode().as_str(),
        cfg.effective_validation_mode().as_str()
    ));
    out.info(format!("issuer            {}", cfg.issuer));
    out.info(format!(
        "resource_uri      {} (tokens must carry it in aud)",
        cfg.resource_uri
    ));
    if !cfg.jwks_url.is_empty() {
        out.info(format!("jwks_url          {}", cfg.jwks_url));
    }
    if !cfg.introspection_url.is_empty() {
        let secret = if cfg.introspection_client_secret.expose().trim().is_empty() {
            "no secret"
        } else {
            "secret set"
        };
        out.info(format!(
            "introspection_url {} (client {}, {secret})",
            cfg.introspection_url, cfg.introspection_client_id
        ));
    }
    if !cfg.resource_server_id.is_empty() {
        out.info(format!("resource_server_id {}", cfg.resource_server_id));
    }

    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let jwks = match (&http, o.offline) {
        (Ok(client), false) => {
            let b = Backends {
                client: client.clone(),
                timeout: Duration::try_from_secs_f64(cfg.request_timeout_seconds)
                    .unwrap_or(Duration::from_secs(10)),
            };
            out.section("Backends");
            check_backends(&mut out, &b, &cfg).await
        }
        _ => None,
    };

    out.section("Startup");
    match rt.startup().await {
        Ok(w) => {
            out.ok("the runtime started");
            for w in w {
                out.warn(w);
            }
        }
        Err(e) => out.fail(format!("{}: {}", e.code(), e.message())),
    }
    let meta = rt.metadata();
    let doc: Value = serde_json::from_slice(&meta.body).unwrap_or(Value::Null);
    out.ok(format!(
        "metadata document served at {} (authorization_servers {}, scopes_supported {})",
        rt.metadata_path(),
        show(&doc["authorization_servers"]),
        show(&doc["scopes_supported"])
    ));

    if let Some(token) = &o.token {
        explain_token(&mut out, &rt, token, jwks.as_ref()).await;
    }
    out.report()
}

/// Call each configured backend; returns the JWKS document when it could be read.
async fn check_backends(out: &mut Out, b: &Backends, cfg: &Config) -> Option<Value> {
    let mut jwks = None;
    if !cfg.jwks_url.is_empty() {
        let (t, r) = b.get(&cfg.jwks_url, None).await;
        match r {
            Ok((200, body)) => match serde_json::from_str::<Value>(&body) {
                Ok(doc) if doc["keys"].is_array() => {
                    let keys: Vec<String> = doc["keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|k| {
                            let alg = k["alg"]
                                .as_str()
                                .map(|a| format!(" {a}"))
                                .unwrap_or_default();
                            format!(
                                "{} ({}{alg})",
                                k["kid"].as_str().unwrap_or("no kid"),
                                k["kty"].as_str().unwrap_or("?")
                            )
                        })
                        .collect();
                    out.ok(format!(
                        "JWKS {}: HTTP 200 in {}, {} keys: {}",
                        cfg.jwks_url,
                        ms(t),
                        keys.len(),
                        keys.join(", ")
                    ));
                    jwks = Some(doc);
                }
                _ => out.fail(format!(
                    "JWKS {}: HTTP 200 in {} but not a JWK set (no \"keys\" array)",
                    cfg.jwks_url,
                    ms(t)
                )),
            },
            Ok((s, _)) => out.fail(format!("JWKS {}: HTTP {s} in {}", cfg.jwks_url, ms(t))),
            Err(e) => {
                out.fail(format!("JWKS {}: {e} after {}", cfg.jwks_url, ms(t)));
                out.fix("check jwks_url (the issuer's discovery document names it as jwks_uri) and that this machine can reach it");
            }
        }
    }
    if !cfg.introspection_url.is_empty() {
        let start = Instant::now();
        let r = b
            .client
            .post(&cfg.introspection_url)
            .timeout(b.timeout)
            .basic_auth(
                &cfg.introspection_client_id,
                Some(cfg.introspection_client_secret.expose()),
            )
            .form(&[
                ("token", "authsec-doctor-probe"),
                ("token_type_hint", "access_token"),
            ])
            .send()
            .await;
        let t = start.elapsed();
        match r {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                match status {
                    200 if body.get("active").is_some() => out.ok(format!(
                        "introspection {}: HTTP 200 in {}, a probe token is active={} (credentials accepted)",
                        cfg.introspection_url,
                        ms(t),
                        body["active"]
                    )),
                    200 => out.fail(format!("introspection {}: HTTP 200 in {} without \"active\"", cfg.introspection_url, ms(t))),
                    401 | 403 => {
                        out.fail(format!("introspection {}: HTTP {status} in {}: the client credentials were refused", cfg.introspection_url, ms(t)));
                        out.fix("check introspection_client_id and introspection_client_secret");
                    }
                    s => out.fail(format!("introspection {}: HTTP {s} in {}", cfg.introspection_url, ms(t))),
                }
            }
            Err(e) => out.fail(format!(
                "introspection {}: {} after {}",
                cfg.introspection_url,
                describe(&e),
                ms(t)
            )),
        }
    }
    if !cfg.resource_server_id.is_empty() {
        let url = format!(
            "{}/authsec/resource-servers/{}/sdk-policy",
            cfg.authorization_server.trim_end_matches('/'),
            cfg.resource_server_id
        );
        let (t, r) = b
            .get(
                &url,
                Some((
                    &cfg.introspection_client_id,
                    cfg.introspection_client_secret.expose(),
                )),
            )
            .await;
        match r {
            Ok((200, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                out.ok(format!(
                    "sdk-policy {url}: HTTP 200 in {}, state {}, policy_complete {}",
                    ms(t),
                    show(&v["state"]),
                    show(&v["policy_complete"])
                ));
            }
            Ok((s, _)) => out.fail(format!("sdk-policy {url}: HTTP {s} in {}", ms(t))),
            Err(e) => out.fail(format!("sdk-policy {url}: {e} after {}", ms(t))),
        }
    }
    let base = cfg.authorization_server.trim_end_matches('/');
    let mut found = false;
    for doc in ["oauth-authorization-server", "openid-configuration"] {
        let url = format!("{base}/.well-known/{doc}");
        let (t, r) = b.get(&url, None).await;
        if let Ok((200, body)) = r {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let iss = v["issuer"].as_str().unwrap_or("");
            if iss == cfg.issuer {
                out.ok(format!(
                    "authorization server metadata {url}: HTTP 200 in {}, issuer matches",
                    ms(t)
                ));
            } else {
                out.fail(format!("authorization server metadata {url}: issuer {} is not the configured issuer {}", show(&v["issuer"]), show(&json!(cfg.issuer))));
                out.fix(format!("set issuer to {iss:?} if that server is the one you trust (tokens carry its issuer in iss)"));
            }
            if let (Some(j), false) = (v["jwks_uri"].as_str(), cfg.jwks_url.is_empty()) {
                if j != cfg.jwks_url {
                    out.warn(format!(
                        "the server publishes jwks_uri {j}, the configuration uses {}",
                        cfg.jwks_url
                    ));
                }
            }
            found = true;
            break;
        }
    }
    if !found {
        out.warn(format!("no authorization server metadata at {base}/.well-known/ (oauth-authorization-server, openid-configuration): clients will not discover it"));
    }
    jwks
}

async fn explain_token(out: &mut Out, rt: &Runtime, token: &str, jwks: Option<&Value>) {
    let cfg = rt.config();
    out.section("Token (the token itself is never printed)");
    let parts: Vec<&str> = token.split('.').collect();
    let decoded = (parts.len() == 3)
        .then(|| Some((decode_segment(parts[0])?, decode_segment(parts[1])?)))
        .flatten();
    let jwt_modes = !matches!(
        cfg.effective_validation_mode(),
        ValidationMode::IntrospectionOnly
    );
    let can_introspect = !cfg.introspection_url.is_empty();
    match &decoded {
        None => {
            out.info(format!(
                "form: opaque ({} characters, not a JWT)",
                token.len()
            ));
            if !can_introspect {
                out.fail("this token is opaque and the configuration has no introspection_url: only JWTs can be verified locally");
                out.fix("set introspection_url with introspection_client_id and introspection_client_secret (validation_mode jwt_or_introspect or introspection_only), or ask the authorization server for JWT access tokens");
            } else {
                out.ok(format!(
                    "opaque tokens are checked by introspection at {}",
                    cfg.introspection_url
                ));
            }
        }
        Some((header, claims)) => {
            out.info(format!(
                "header: alg {} kid {} typ {}",
                show(&header["alg"]),
                show(&header["kid"]),
                show(&header["typ"])
            ));
            let t = now();
            let mut listed = Vec::new();
            for k in [
                "iss",
                "sub",
                "aud",
                "client_id",
                "azp",
                "scope",
                "scp",
                "exp",
                "nbf",
                "iat",
            ] {
                if let Some(v) = claims.get(k) {
                    let when = match (k, v.as_i64()) {
                        ("exp" | "nbf" | "iat", Some(x)) => format!(" ({})", relative(x - t)),
                        _ => String::new(),
                    };
                    out.info(format!("claim {k:<9} {}{when}", show(v)));
                    listed.push(k);
                }
            }
            let others: Vec<&String> = claims
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| !listed.contains(&k.as_str()))
                .collect();
            if !others.is_empty() {
                out.info(format!(
                    "other claims: {}",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !jwt_modes {
                out.warn("validation_mode introspection_only: the JWT is not verified locally, the introspection answer decides");
            } else {
                explain_jwt(out, cfg, header, claims, jwks, can_introspect);
            }
        }
    }
    decide(out, rt, token, decoded.as_ref().map(|(_, c)| c)).await;
}

fn explain_jwt(
    out: &mut Out,
    cfg: &Config,
    header: &Value,
    claims: &Value,
    jwks: Option<&Value>,
    can_introspect: bool,
) {
    out.section("Step by step");
    // Issuer.
    match claims["iss"].as_str() {
        Some(iss) if iss == cfg.issuer => out.ok(format!(
            "issuer: iss is the configured issuer {}",
            cfg.issuer
        )),
        Some(iss) => {
            out.fail(format!(
                "issuer: iss {iss:?} is not the configured issuer {:?}",
                cfg.issuer
            ));
            if iss.trim_end_matches('/') == cfg.issuer.trim_end_matches('/') {
                out.fix("they differ only by a trailing slash: the comparison is exact; write issuer exactly as the token's iss");
            } else {
                out.fix(format!("get the token from {}, or set issuer (and jwks_url) to {iss:?} if that issuer is the one you trust", cfg.issuer));
            }
        }
        None => out.fail("issuer: the token has no iss claim"),
    }
    // Audience.
    match audiences(claims) {
        Some(auds) if auds.contains(&cfg.resource_uri) => out.ok(format!(
            "audience: aud contains the resource URI {}",
            cfg.resource_uri
        )),
        Some(auds) => {
            out.fail(format!(
                "audience: aud {} does not contain the resource URI {}",
                show(&json!(auds)),
                cfg.resource_uri
            ));
            if auds
                .iter()
                .any(|a| a.trim_end_matches('/') == cfg.resource_uri.trim_end_matches('/'))
            {
                out.fix("they differ only by a trailing slash: the comparison is exact; make resource_uri and the requested resource the same string");
            }
            out.fix(format!("request the token with resource={} (RFC 8707), so the authorization server puts it in aud", cfg.resource_uri));
        }
        None if cfg.allow_missing_audience => {
            out.warn("audience: the token has no aud; allowed because allow_missing_audience is on")
        }
        None => {
            out.fail("audience: the token has no aud claim");
            out.fix(format!("request the token with resource={} (RFC 8707); allow_missing_audience accepts tokens without aud but lets a token for any server in", cfg.resource_uri));
        }
    }
    // Expiry.
    let t = now();
    let skew = cfg.clock_skew_seconds as i64;
    match claims["exp"].as_f64() {
        Some(exp) => {
            let left = exp as i64 - t;
            if left + skew > 0 {
                out.ok(format!(
                    "expiry: valid for {} more (clock skew allowed: {skew} s)",
                    relative(left).trim_start_matches("in ")
                ));
            } else {
                out.fail(format!(
                    "expiry: expired {} (exp {}, clock skew allowed: {skew} s)",
                    relative(left),
                    exp as i64
                ));
                out.fix("get a fresh token; if this machine's clock is wrong, fix it (clock_skew_seconds allows a small leeway)");
            }
        }
        None if cfg.require_exp => {
            out.fail("expiry: the token has no exp claim and require_exp is on");
            out.fix("ask the authorization server for expiring access tokens");
        }
        None => out.warn("expiry: the token has no exp (allowed: require_exp is off)"),
    }
    if let Some(nbf) = claims["nbf"].as_f64() {
        if nbf as i64 - skew > t {
            out.fail(format!(
                "not before: the token is valid only {}",
                relative(nbf as i64 - t)
            ));
            out.fix("check this machine's clock, or set clock_skew_seconds");
        }
    }
    // Key and algorithm.
    let alg = header["alg"].as_str().unwrap_or("");
    if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") {
        out.fail(format!("signature: alg {alg} is never accepted (only asymmetric signatures: RS*, PS*, ES256/384, EdDSA)"));
    } else if let Some(doc) = jwks {
        let kid = header["kid"].as_str();
        let keys = doc["keys"].as_array().cloned().unwrap_or_default();
        let found = keys
            .iter()
            .find(|k| kid.is_none() || k["kid"].as_str() == kid);
        match (kid, found) {
            (Some(k), Some(jwk)) => out.ok(format!(
                "signature key: the JWKS publishes kid {k} ({}), alg {alg}",
                jwk["kty"].as_str().unwrap_or("?")
            )),
            (None, Some(_)) => out.info(format!(
                "signature key: the token names no kid; the JWKS keys are tried (alg {alg})"
            )),
            (Some(k), None) => {
                out.fail(format!("signature key: the JWKS has no key with kid {k}"));
                out.fix("the token was signed by a key this JWKS does not publish: check jwks_url and issuer (another tenant or environment?)");
            }
            (None, None) => out.fail("signature key: the JWKS has no keys"),
        }
    } else if can_introspect {
        out.info("signature key: JWKS not checked (offline or not configured)");
    } else {
        out.info(
            "signature key: JWKS not fetched (--offline); the core's decision below fetches it",
        );
    }
}

/// The core's decisions for this token: a tools/list, then a tools/call of each known tool.
async fn decide(out: &mut Out, rt: &Runtime, token: &str, claims: Option<&Value>) {
    let cfg = rt.config();
    let path = url::Url::parse(&cfg.resource_uri)
        .map_or_else(|_| "/".to_string(), |u| u.path().to_string());
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // A body without "jsonrpc": the core answers with plain HTTP statuses, not in-band errors.
    let ask = |body: Vec<u8>| {
        let path = path.clone();
        async move {
            let req = Request {
                method: "POST",
                path: &path,
                headers: &headers,
                body: &body,
            };
            rt.check(&req).resolve().await
        }
    };
    out.section("The core's decision (what a client gets)");
    let listed = ask(br#"{"method":"tools/list"}"#.to_vec()).await;
    let principal = match listed {
        Decision::Allow(a) => {
            out.ok(format!(
                "accepted: subject {}, client {}, scopes {}",
                show(&json!(a.principal.subject)),
                show(&json!(a.principal.client_id())),
                show(&json!(a.principal.scopes))
            ));
            a.principal
        }
        Decision::Respond(r) => {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let reason = body["reason"]
                .as_str()
                .map(|x| format!(" (reason {x})"))
                .unwrap_or_default();
            out.fail(format!(
                "refused: HTTP {} {}: {}{reason}",
                r.status,
                body["error"].as_str().unwrap_or(""),
                show(&body["error_description"])
            ));
            if let Some(w) = r.header("www-authenticate") {
                out.info(format!("WWW-Authenticate: {w}"));
            }
            return;
        }
        _ => {
            out.fail("the core gave a decision this build does not know");
            return;
        }
    };
    let granted = claims
        .map(scopes_of)
        .unwrap_or_else(|| principal.scopes.clone());
    out.section("Tools");
    let map = match rt.policy_view() {
        PolicyView::Open => {
            out.ok("policy mode open: every tool is allowed to any valid token, tools/list is not filtered");
            return;
        }
        PolicyView::Unavailable(d) => {
            out.fail(format!(
                "policy unavailable: {d} (every tool call gets 503)"
            ));
            return;
        }
        PolicyView::Map(m) => m,
        _ => {
            out.fail("a policy this build does not know");
            return;
        }
    };
    if map.is_empty() {
        out.fail("the policy maps no tool: every tool call is refused (deny by default)");
        return;
    }
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    let mut lacking: Vec<String> = Vec::new();
    for name in names {
        let body = serde_json::to_vec(&json!({"method": "tools/call", "params": {"name": name}}))
            .unwrap_or_default();
        let needs = &map[name];
        let needs_text = if needs.is_empty() {
            "public".to_string()
        } else {
            format!("needs any of {}", needs.join(", "))
        };
        match ask(body).await {
            Decision::Allow(_) => out.ok(format!("{name}: allowed ({needs_text})")),
            Decision::Respond(r) => {
                let b: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                if r.status == 403 {
                    let req: Vec<String> = b["required_scopes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect();
                    out.deny(format!(
                        "{name}: refused (403 insufficient_scope): lacks {} (the token has {})",
                        if req.len() == 1 {
                            req[0].clone()
                        } else {
                            format!("one of {}", req.join(", "))
                        },
                        if granted.is_empty() {
                            "no scopes".to_string()
                        } else {
                            granted.join(" ")
                        }
                    ));
                    if let Some(first) = req.first() {
                        if !lacking.contains(first) {
                            lacking.push(first.clone());
                        }
                    }
                } else {
                    out.fail(format!(
                        "{name}: refused (HTTP {}): {}",
                        r.status,
                        show(&b["error_description"])
                    ));
                }
            }
            _ => out.fail(format!("{name}: a decision this build does not know")),
        }
    }
    out.info("tools absent from the policy are refused and hidden from tools/list");
    if !lacking.is_empty() {
        let mut all = granted.clone();
        all.extend(lacking.iter().cloned());
        out.fix(format!(
            "to call the refused tools, request the token with scope=\"{}\"",
            all.join(" ")
        ));
    }
}

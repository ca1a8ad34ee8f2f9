//! `authsec token`: development tokens from the embedded dev issuer, the one `scripts/demo.sh`
//! uses (the conformance fixture, `authsec-fixture`: JWKS at `/jwks`, tokens signed with the
//! repository's committed test keys). `serve` runs it on loopback and prints a token and a
//! configuration that trusts it; `mint` signs one more token for a running one.
//!
//! Development only: the signing keys are public in this repository, so anyone can mint tokens
//! such an issuer's JWKS verifies. The issuer listens on 127.0.0.1 only, and every command says so.

use authsec_fixture::Fixture;
use clap::Args;
use serde_json::{json, Value};

/// The warning printed by every token command.
pub const WARNING: &str = "DEVELOPMENT ONLY: the dev issuer signs with test keys that are public in the authsec repository; never trust its JWKS outside your machine.";

/// What a token says.
#[derive(Args, Clone, Debug)]
pub struct TokenSpec {
    /// Scopes (repeat or space-separate), e.g. --scope issues:read.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Audience: the protected server's resource URI.
    #[arg(long, value_name = "URI", default_value = "http://127.0.0.1:8080/mcp")]
    pub audience: String,
    /// Lifetime in seconds (negative: already expired, to see the refusal).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600,
        allow_hyphen_values = true
    )]
    pub ttl: i64,
    /// `sub` claim.
    #[arg(long, default_value = "dev-user")]
    pub subject: String,
    /// `client_id` claim.
    #[arg(long, default_value = "dev-client")]
    pub client_id: String,
    /// Signing key of the dev issuer: rsa-1 (RS256), ps-1 (PS256), ec-256 (ES256), ec-384
    /// (ES384), ed-1 (EdDSA).
    #[arg(long, default_value = "rsa-1")]
    pub kid: String,
}

/// `authsec token serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// The token's claims and key.
    #[command(flatten)]
    pub token: TokenSpec,
}

/// `authsec token mint`.
#[derive(Args, Clone, Debug)]
pub struct MintArgs {
    /// The dev issuer's URL (what `authsec token serve` printed).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub issuer: String,
    /// The token's claims and key.
    #[command(flatten)]
    pub token: TokenSpec,
}

/// The scopes as one space-separated `scope` claim.
fn scope_claim(scopes: &[String]) -> String {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fixture's mint spec for these claims (an access token: `typ` `at+jwt`).
pub fn spec(issuer: &str, t: &TokenSpec) -> Value {
    json!({"kid": t.kid, "header": {"typ": "at+jwt"}, "claims": {
        "iss": issuer.trim_end_matches('/'), "sub": t.subject, "client_id": t.client_id,
        "aud": t.audience, "scope": scope_claim(&t.scopes),
        "iat": {"$now": 0}, "exp": {"$now": t.ttl}}})
}

/// Sign a token with the dev issuer's key (no network).
pub fn mint(a: MintArgs) -> Result<String, String> {
    eprintln!("{WARNING}");
    authsec_fixture::mint::mint(&spec(&a.issuer, &a.token))
}

/// A configuration that trusts the dev issuer at `base` for the resource `audience`.
pub fn config_for(base: &str, audience: &str) -> Value {
    json!({"issuer": base, "jwks_url": format!("{base}/jwks"), "resource_uri": audience})
}

/// Run the dev issuer until SIGINT or SIGTERM.
pub async fn serve(a: ServeArgs) -> Result<(), String> {
    let issuer = Fixture::start_on(a.port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", a.port))?;
    let base = issuer.base_url.clone();
    let token = authsec_fixture::mint::mint(&spec(&base, &a.token))?;
    eprintln!("{WARNING}");
    eprintln!("authsec dev issuer: {base} (JWKS {base}/jwks)");
    eprintln!(
        "a configuration trusting it (add tool_scopes for per-tool policy):\n  {}",
        config_for(&base, &a.token.audience)
    );
    eprintln!(
        "a token (sub {}, scope \"{}\", audience {}, valid {} s); more with: authsec token mint --issuer {base} --scope ...",
        a.token.subject,
        scope_claim(&a.token.scopes),
        a.token.audience,
        a.token.ttl
    );
    println!("{token}");
    println!("READY {base}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::shutdown_signal().await;
    drop(issuer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_states_every_claim() {
        let t = TokenSpec {
            scopes: vec!["a:read b".into(), "c".into()],
            audience: "http://127.0.0.1:8080/mcp".into(),
            ttl: 60,
            subject: "u".into(),
            client_id: "cl".into(),
            kid: "ec-256".into(),
        };
        let s = spec("http://127.0.0.1:9000/", &t);
        assert_eq!(s["claims"]["iss"], "http://127.0.0.1:9000");
        assert_eq!(s["claims"]["scope"], "a:read b c");
        assert_eq!(s["claims"]["exp"], json!({"$now": 60}));
        assert_eq!(s["header"]["typ"], "at+jwt");
        let tok = authsec_fixture::mint::mint(&s).unwrap();
        assert_eq!(tok.split('.').count(), 3);
    }
}

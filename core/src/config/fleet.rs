//! The fleet fields (issue 19, `docs/fleet.md`): the Redis store shared by the replicas of one
//! server (`redis_url`, the sealing key, key prefix, timeout, the introspection lease wait) and
//! the AuthSec services API (`services_url`), with their environment variables and rules.

use base64::Engine;

use crate::config::{is_http_url, python_repr, Config, Secret};
use crate::error::{Error, Result};

/// Default `redis_prefix`.
pub const DEFAULT_REDIS_PREFIX: &str = "authsec:";
/// Default `redis_timeout_seconds`.
pub const DEFAULT_REDIS_TIMEOUT_SECONDS: f64 = 0.25;
/// Default `redis_lease_wait_seconds`.
pub const DEFAULT_REDIS_LEASE_WAIT_SECONDS: f64 = 1.0;

/// The fleet fields from the environment (the rest of the config at its defaults):
/// `REDIS_URL`, `REDIS_KEY` (secrets), `REDIS_PREFIX`, `REDIS_TIMEOUT_SECONDS`,
/// `REDIS_LEASE_WAIT_SECONDS`, `SERVICES_URL`. A number that cannot be read is `config_invalid`
/// naming the variable.
pub(crate) fn from_env(
    prefix: &str,
    get: &dyn Fn(&str) -> String,
    into: &mut Config,
) -> Result<()> {
    into.redis_url = Secret::new(get("REDIS_URL").trim());
    into.redis_key = Secret::new(get("REDIS_KEY").trim());
    let p = get("REDIS_PREFIX");
    if !p.is_empty() {
        into.redis_prefix = p;
    }
    for (name, field) in [
        ("REDIS_TIMEOUT_SECONDS", &mut into.redis_timeout_seconds),
        (
            "REDIS_LEASE_WAIT_SECONDS",
            &mut into.redis_lease_wait_seconds,
        ),
    ] {
        let v = get(name);
        if !v.trim().is_empty() {
            *field = v
                .trim()
                .parse()
                .map_err(|_| Error::config(format!("{prefix}{name} must be a number")))?;
        }
    }
    into.services_url = get("SERVICES_URL").trim().to_string();
    Ok(())
}

/// The 32 key bytes of a valid `redis_key` (standard base64, padding optional).
pub(crate) fn redis_key_bytes(key: &Secret) -> Option<[u8; 32]> {
    let text = key.expose().trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .ok()?;
    bytes.try_into().ok()
}

/// Whether `url` is a usable `redis://` URL (host given; no TLS scheme, which this build lacks).
/// The `redis` client's own URL reading must accept it too (a path that is not a database number,
/// such as `/cache`, passes a generic URL parser and is refused by the client), since a
/// validated configuration must build a runtime (found by the `config` fuzz target).
fn is_redis_url(url: &str) -> bool {
    matches!(url::Url::parse(url), Ok(u) if u.scheme() == "redis" && u.has_host())
        && redis::IntoConnectionInfo::into_connection_info(url).is_ok()
}

/// The rules of the fleet fields. Messages never quote `redis_url` (it may hold a password) or
/// the key.
pub(crate) fn validate(cfg: &Config) -> Result<()> {
    let fail = |m: String| Err(Error::config(m));
    let url = cfg.redis_url.expose().trim();
    if url.is_empty() {
        if !cfg.redis_key.expose().trim().is_empty() {
            return fail("redis_key requires redis_url".into());
        }
    } else {
        if !is_redis_url(url) {
            return fail("redis_url must be a redis:// URL with a host".into());
        }
        if cfg.redis_key.expose().trim().is_empty() {
            return fail("redis_url requires redis_key (32 random bytes, base64)".into());
        }
        if redis_key_bytes(&cfg.redis_key).is_none() {
            return fail("redis_key must be 32 bytes in base64".into());
        }
    }
    if cfg.redis_prefix.is_empty()
        || cfg
            .redis_prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return fail("redis_prefix must be non-empty, without spaces or control characters".into());
    }
    for (name, v) in [
        ("redis_timeout_seconds", cfg.redis_timeout_seconds),
        ("redis_lease_wait_seconds", cfg.redis_lease_wait_seconds),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 60.0) {
            return fail(format!(
                "{name} must be a positive number of seconds, at most 60"
            ));
        }
    }
    if !cfg.services_url.trim().is_empty() && !is_http_url(&cfg.services_url) {
        return fail(format!(
            "services_url must be an http(s) URL (got {})",
            python_repr(&cfg.services_url)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn base() -> Config {
        Config {
            issuer: "https://auth.example.com".into(),
            resource_uri: "https://mcp.example.com/mcp".into(),
            jwks_url: "https://auth.example.com/jwks".into(),
            ..Config::default()
        }
    }

    fn message(cfg: &Config) -> String {
        cfg.validate().unwrap_err().message().to_string()
    }

    #[test]
    fn the_rules_and_their_messages() {
        let ok = Config {
            redis_url: Secret::new("redis://:pw@127.0.0.1:6379/0"),
            redis_key: Secret::new(KEY),
            services_url: "http://127.0.0.1:9/services".into(),
            ..base()
        };
        ok.validate().unwrap();
        assert_eq!(redis_key_bytes(&ok.redis_key).unwrap()[31], 31);
        for (cfg, want) in [
            (
                Config {
                    redis_key: Secret::new(KEY),
                    ..base()
                },
                "redis_key requires redis_url",
            ),
            (
                Config {
                    redis_url: Secret::new("redis://127.0.0.1:6379"),
                    ..base()
                },
                "redis_url requires redis_key (32 random bytes, base64)",
            ),
            (
                Config {
                    redis_url: Secret::new("http://:secretpw@127.0.0.1:6379"),
                    ..ok.clone()
                },
                "redis_url must be a redis:// URL with a host",
            ),
            (
                // A generic URL, but its path is not a database number: the client refuses it.
                Config {
                    redis_url: Secret::new("redis://:secretpw@127.0.0.1:6379/cache"),
                    ..ok.clone()
                },
                "redis_url must be a redis:// URL with a host",
            ),
            (
                Config {
                    redis_key: Secret::new("AAEC"),
                    ..ok.clone()
                },
                "redis_key must be 32 bytes in base64",
            ),
            (
                Config {
                    redis_prefix: "a b".into(),
                    ..ok.clone()
                },
                "redis_prefix must be non-empty, without spaces or control characters",
            ),
            (
                Config {
                    redis_timeout_seconds: 0.0,
                    ..ok.clone()
                },
                "redis_timeout_seconds must be a positive number of seconds, at most 60",
            ),
            (
                Config {
                    redis_lease_wait_seconds: f64::NAN,
                    ..ok.clone()
                },
                "redis_lease_wait_seconds must be a positive number of seconds, at most 60",
            ),
            (
                Config {
                    services_url: "ftp://x".into(),
                    ..ok.clone()
                },
                "services_url must be an http(s) URL (got 'ftp://x')",
            ),
        ] {
            assert_eq!(message(&cfg), want);
            assert!(!want.contains("secretpw"));
        }
    }

    #[test]
    fn the_environment() {
        let env = |k: &str| match k {
            "AUTHSEC_REDIS_URL" => Some("redis://127.0.0.1:6379".to_string()),
            "AUTHSEC_REDIS_KEY" => Some(KEY.to_string()),
            "AUTHSEC_REDIS_PREFIX" => Some("fleet-a:".to_string()),
            "AUTHSEC_REDIS_TIMEOUT_SECONDS" => Some("0.5".to_string()),
            "AUTHSEC_SERVICES_URL" => Some("http://127.0.0.1:9/s".to_string()),
            _ => None,
        };
        let cfg = Config::from_env_with("AUTHSEC_", env).unwrap();
        assert_eq!(cfg.redis_url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(cfg.redis_key.expose(), KEY);
        assert_eq!(cfg.redis_prefix, "fleet-a:");
        assert_eq!(cfg.redis_timeout_seconds, 0.5);
        assert_eq!(
            cfg.redis_lease_wait_seconds,
            DEFAULT_REDIS_LEASE_WAIT_SECONDS
        );
        assert_eq!(cfg.services_url, "http://127.0.0.1:9/s");
        assert!(!format!("{cfg:?}").contains(KEY));
        let bad = Config::from_env_with("AUTHSEC_", |k: &str| {
            (k == "AUTHSEC_REDIS_LEASE_WAIT_SECONDS").then(|| "soon".to_string())
        });
        assert_eq!(
            bad.unwrap_err().message(),
            "AUTHSEC_REDIS_LEASE_WAIT_SECONDS must be a number"
        );
    }
}

//! Configuration from JSON and from the environment.
//!
//! Input: byte 0 picks the source. Even: the rest is config JSON (`Config::from_json`). Odd: the
//! rest is an environment, one `NAME=value` per line, read through `Config::from_env_with`
//! with the `AUTHSEC_` prefix.
//!
//! Invariants:
//! - reading, validating, normalizing and building never panic;
//! - serializing round-trips as the API documents: reading the serialized form back gives the
//!   same configuration, except that a non-empty secret reads back as the literal
//!   `<redacted>` (serializing is one-way for secrets), so a second serialization is identical
//!   to the first;
//! - the configuration read back validates exactly as the original (same error code and
//!   message);
//! - a configuration that validates, also once normalized, builds a `Runtime` (unless it names
//!   an audit log or a tenant catalogue: nothing is written at a fuzzed path).

#![no_main]

use std::collections::HashMap;

use authsec_core::{Config, Runtime};
use libfuzzer_sys::fuzz_target;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio")
    })
}

/// A runtime is built only for configurations that write nothing on the machine: an audit log
/// or a tenant catalogue database (a SQLite file, a PostgreSQL server) would be opened at a
/// fuzzed path or address. Inline catalogues are built.
fn builds_without_side_effects(cfg: &Config) -> bool {
    let catalogue_db = cfg
        .rbac_catalogue
        .as_ref()
        .is_some_and(|r| !r.sqlite.is_empty() || r.postgres != authsec_core::Secret::default());
    cfg.audit_log.is_empty() && !catalogue_db
}

fn check(cfg: Config) {
    let text = serde_json::to_string(&cfg).expect("a Config serializes");
    let back = Config::from_json(&text).expect("a serialized Config reads back");
    let again = serde_json::to_string(&back).expect("serializes");
    assert_eq!(text, again, "serializing is not idempotent");
    if back != cfg {
        assert!(
            text.contains("<redacted>"),
            "round trip changed a config without secrets"
        );
    }
    let verdict = cfg.validate().map_err(|e| (e.code(), e.to_string()));
    let verdict_back = back.validate().map_err(|e| (e.code(), e.to_string()));
    if back == cfg {
        assert_eq!(verdict, verdict_back);
    }
    if verdict.is_ok() {
        assert!(
            cfg.normalized().validate().is_ok(),
            "normalizing broke a valid config"
        );
        if !builds_without_side_effects(&cfg) {
            return;
        }
        let _guard = rt().enter();
        if let Err(e) = Runtime::new(cfg) {
            panic!("a validated config does not build: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let read = if mode & 1 == 0 {
        Config::from_json(text)
    } else {
        let env: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env_with("AUTHSEC_", |k| env.get(k).cloned())
    };
    match read {
        Ok(cfg) => check(cfg),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});

//! Drift check of `include/authsec_codes.json`, the export of the core's code registry
//! (`authsec_core::CODES`) that each binding's constants are generated from or checked against
//! (C: `authsec_status` in `include/authsec.h`; Node: `bindings/node/codes.js`).
//! `AUTHSEC_WRITE_CODES=1 cargo test -p authsec-core --test codes` rewrites the file.

use std::path::PathBuf;

use authsec_core::{CodeScope, CODES};
use serde_json::{json, Value};

fn export() -> String {
    let rows: Vec<Value> = CODES
        .iter()
        .map(|c| {
            let scope = match c.scope {
                CodeScope::Ok => "ok",
                CodeScope::Core => "core",
                _ => "binding",
            };
            json!({"number": c.number, "name": c.name(), "scope": scope, "summary": c.summary})
        })
        .collect();
    let doc = json!({
        "description": "The stable codes of authsec (generated from authsec_core::CODES; do not edit). Numbers are grouped by hundreds and never renumbered.",
        "codes": rows,
    });
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

#[test]
fn codes_json_matches_the_registry() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/authsec_codes.json");
    let want = export();
    if std::env::var_os("AUTHSEC_WRITE_CODES").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "include/authsec_codes.json is out of date with authsec_core::CODES: run \
         AUTHSEC_WRITE_CODES=1 cargo test -p authsec-core --test codes and commit it"
    );
}

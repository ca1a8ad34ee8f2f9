//! The JSON-RPC envelope reader as a differential against `serde_json`'s parser.
//!
//! The oracle reads the document with `serde_json` into a [`Tree`] (members in order, repeats
//! kept), not into `serde_json::Value`: with serde_json's `raw_value` feature (which the
//! core enables), `Value` refuses an object whose first member is named
//! `$serde_json::private::RawValue`, its internal RawValue marker, although the document is valid
//! JSON (found by this target; vector `parse-rawvalue-marker-member-is-plain-json`). The parser's
//! strictness (syntax, nesting limit, number range, UTF-8, surrogates) is the same either way.
//!
//! Invariants, for any bytes:
//! - whitespace only: ours reads `Empty`;
//! - `serde_json` refuses the document: ours refuses it too (no body a strict parser would
//!   reject reaches the decision);
//! - `serde_json` reads it: ours refuses exactly when the top level is not an object or array,
//!   or an envelope (or its `params` object) has a repeated key (`serde_json` would take the
//!   last) or a key equal to a member we read under simple case folding; otherwise ours reads the
//!   same `jsonrpc`, id, method, `params.name` and `params.uri` as `serde_json`, element by
//!   element for a batch.

#![no_main]

use authsec_core::fuzzing::{parse_jsonrpc, Body, Envelope, Id, Item};
use authsec_fuzz::Tree;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `c` matches the ASCII letter `m` case-insensitively under Unicode (full upper- or lower-case
/// mappings, plus U+0130 whose simple lower-case mapping is `i`). Written independently of the
/// core's table.
fn folds_to(c: char, m: char) -> bool {
    c == m
        || c.to_uppercase().eq(m.to_uppercase())
        || c.to_lowercase().eq(m.to_lowercase())
        || (c == '\u{0130}' && m == 'i')
}

/// The keys of one object that a strict reader of `members` must refuse: a repeat, or a key
/// that is a member only under case folding.
fn refused_keys(members: &[(String, Tree)], known: &[&str]) -> bool {
    for (i, (k, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(p, _)| p == k) {
            return true;
        }
        let folded = known.iter().any(|m| {
            k.as_str() != *m
                && k.chars().count() == m.len()
                && k.chars().zip(m.chars()).all(|(c, m)| folds_to(c, m))
        });
        if folded {
            return true;
        }
    }
    false
}

/// True when a strict reader must refuse this envelope object.
fn envelope_refused(members: &[(String, Tree)]) -> bool {
    if refused_keys(members, &["jsonrpc", "id", "method", "params"]) {
        return true;
    }
    members.iter().any(|(k, v)| match (k.as_str(), v) {
        ("params", Tree::Object(p)) => refused_keys(p, &["name", "uri"]),
        _ => false,
    })
}

/// The value of the member `key` (the envelope and `params` have no repeated key once
/// [`envelope_refused`] is false, so the first is the only one).
fn member<'a>(members: &'a [(String, Tree)], key: &'a str) -> Option<&'a Tree> {
    Tree::members(members, key).next()
}

fn str_member(members: &[(String, Tree)], key: &str) -> Option<String> {
    match member(members, key) {
        Some(Tree::Leaf(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

/// What `serde_json` says the envelope carries.
fn expected(members: &[(String, Tree)]) -> Envelope {
    let params = match member(members, "params") {
        Some(Tree::Object(p)) => Some(p.as_slice()),
        _ => None,
    };
    Envelope {
        jsonrpc: str_member(members, "jsonrpc").as_deref() == Some("2.0"),
        id: match member(members, "id") {
            None => Id::Absent,
            Some(Tree::Leaf(Value::Number(n))) => Id::Number(n.clone()),
            Some(Tree::Leaf(Value::String(s))) => Id::String(s.clone()),
            Some(_) => Id::Null,
        },
        method: str_member(members, "method"),
        name: params.and_then(|p| str_member(p, "name")),
        uri: params.and_then(|p| str_member(p, "uri")),
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = parse_jsonrpc(data);
    if data.iter().all(u8::is_ascii_whitespace) {
        assert_eq!(ours, Ok(Body::Empty));
        return;
    }
    let tree: Tree = match serde_json::from_slice(data) {
        Ok(t) => t,
        Err(e) => {
            assert!(
                ours.is_err(),
                "serde_json refuses ({e}) but ours read {ours:?}"
            );
            return;
        }
    };
    let must_refuse = match &tree {
        Tree::Object(m) => envelope_refused(m),
        Tree::Array(items) => items
            .iter()
            .any(|t| matches!(t, Tree::Object(m) if envelope_refused(m))),
        Tree::Leaf(_) => true,
    };
    if must_refuse {
        assert!(ours.is_err(), "ours read a body it must refuse: {ours:?}");
        return;
    }
    let ours = match ours {
        Ok(b) => b,
        Err(e) => panic!("ours refused a body serde_json reads without ambiguity: {e}"),
    };
    match (&tree, ours) {
        (Tree::Object(m), Body::Single(env)) => assert_eq!(env, expected(m)),
        (Tree::Array(items), Body::Batch(ours)) => {
            assert_eq!(items.len(), ours.len());
            for (t, item) in items.iter().zip(ours) {
                match (t, item) {
                    (Tree::Object(m), Item::Object(env)) => assert_eq!(env, expected(m)),
                    (Tree::Object(_), other) => panic!("object read as {other:?}"),
                    (_, Item::Other) => {}
                    (_, other) => panic!("non-object read as {other:?}"),
                }
            }
        }
        (t, b) => panic!("shape differs: serde_json {t:?}, ours {b:?}"),
    }
});

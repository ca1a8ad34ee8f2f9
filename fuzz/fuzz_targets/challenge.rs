//! The `WWW-Authenticate` challenge builder and the header-text sanitizer.
//!
//! Input: up to five fields separated by the byte 0xFF (never in UTF-8; each field read
//! lossily): realm, metadata URL, error, error_description, scope.
//!
//! Invariants:
//! - the challenge is a valid RFC 9110 field-value: visible ASCII and spaces only (no control
//!   character, no CR/LF, no obs-text), neither starting nor ending with whitespace;
//! - it reads back as `Bearer` followed by `name="value"` auth-params joined by `, `, in the
//!   order realm, resource_metadata, error, error_description, scope, an optional one present
//!   exactly when its input is non-empty, an empty realm replaced by the default;
//! - each value is its input sanitized by the documented rules, computed independently here:
//!   characters outside 0x20..=0x7E become one space each, `"` and `\` become `'`, at most
//!   `MAX_ATTRIBUTE_CHARS` characters; so no value can close its quotes or escape.

#![no_main]

use authsec_core::fuzzing::{sanitize, ChallengeBuilder, MAX_ATTRIBUTE_CHARS};
use libfuzzer_sys::fuzz_target;

fn expected_value(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(MAX_ATTRIBUTE_CHARS) {
        out.push(match c {
            '"' | '\\' => '\'',
            c if (' '..='~').contains(&c) => c,
            _ => ' ',
        });
    }
    out
}

/// Split `Bearer a="..", b=".."` into its params; `None` when it is not of that shape.
fn params(challenge: &str) -> Option<Vec<(&str, &str)>> {
    let mut rest = challenge.strip_prefix("Bearer ")?;
    let mut out = Vec::new();
    loop {
        let eq = rest.find("=\"")?;
        let name = &rest[..eq];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return None;
        }
        let after = &rest[eq + 2..];
        let close = after.find('"')?;
        let value = &after[..close];
        if value.contains('\\') {
            return None;
        }
        out.push((name, value));
        rest = &after[close + 1..];
        if rest.is_empty() {
            return Some(out);
        }
        rest = rest.strip_prefix(", ")?;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|b| *b == 0xFF).map(String::from_utf8_lossy);
    let mut next = || fields.next().unwrap_or_default().into_owned();
    let (realm, metadata, error, description, scope) = (next(), next(), next(), next(), next());

    for s in [&realm, &metadata, &error, &description, &scope] {
        assert_eq!(sanitize(s), expected_value(s));
    }

    let challenge = ChallengeBuilder::new(&realm, &metadata).build(&error, &description, &scope);
    assert!(
        challenge.bytes().all(|b| (0x20..=0x7E).contains(&b)),
        "a byte outside visible ASCII and space"
    );
    assert!(!challenge.starts_with(' ') && !challenge.ends_with(' '));

    let realm_in = if realm.is_empty() {
        "AuthSec Protected Resource"
    } else {
        &realm
    };
    let mut want = vec![("realm", expected_value(realm_in))];
    want.push(("resource_metadata", expected_value(&metadata)));
    for (name, value) in [
        ("error", &error),
        ("error_description", &description),
        ("scope", &scope),
    ] {
        if !value.is_empty() {
            want.push((name, expected_value(value)));
        }
    }
    let got = params(&challenge).expect("the challenge reads back as auth-params");
    let got: Vec<(&str, String)> = got.into_iter().map(|(n, v)| (n, v.to_string())).collect();
    assert_eq!(got, want);
    for (_, v) in &got {
        assert!(v.chars().count() <= MAX_ATTRIBUTE_CHARS);
    }
    let cap = "Bearer ".len() + 5 * (MAX_ATTRIBUTE_CHARS + "error_description=\"\", ".len());
    assert!(
        challenge.len() <= cap,
        "challenge longer than the cap: {}",
        challenge.len()
    );
});

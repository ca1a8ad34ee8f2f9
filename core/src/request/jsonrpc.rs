//! Strict reading of a JSON-RPC request body: single envelope or batch, with the fields the
//! decision needs (`jsonrpc`, `id`, `method`, `params.name`, `params.uri`).
//!
//! Parser-differential defence: a duplicate key in an envelope or in its `params` object is an
//! error (a downstream parser might keep the other copy), escapes are decoded before comparing
//! (`"tools\u002fcall"` is `tools/call`), keys are case-sensitive, a key that equals a member we
//! read only under Unicode simple case folding (`Method`, `PARAMS`, `paramſ`, `Name`) is an error
//! too (Go's `encoding/json` and other case-insensitive decoders would take it as that member),
//! and the rest of the document is validated but not materialized. Validated as strictly as a
//! full parse: members we do not read are read by `Skip`, never by serde's `IgnoredAny` (whose
//! fast path in serde_json skips nesting depth, number range, UTF-8 and surrogate checks), so a
//! body passes exactly when `serde_json::Value` would read it (the differential that `fuzz/`'s
//! `jsonrpc_envelope` target asserts).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

/// A JSON-RPC id as far as echoing it matters.
#[derive(Debug, Clone, PartialEq)]
pub enum Id {
    /// No `id` member (a notification).
    Absent,
    /// `null`, or a type that is not echoed (object, array, boolean).
    Null,
    /// A number, echoed as a number.
    Number(Number),
    /// A string, echoed as a string.
    String(String),
}

impl Id {
    /// The value echoed in an in-band answer.
    pub fn to_value(&self) -> Value {
        match self {
            Id::Absent | Id::Null => Value::Null,
            Id::Number(n) => Value::Number(n.clone()),
            Id::String(s) => Value::String(s.clone()),
        }
    }
}

/// One request object.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `"jsonrpc": "2.0"` is present.
    pub jsonrpc: bool,
    /// The id.
    pub id: Id,
    /// `method` when it is a string.
    pub method: Option<String>,
    /// `params.name` when `params` is an object and `name` a string.
    pub name: Option<String>,
    /// `params.uri` when `params` is an object and `uri` a string.
    pub uri: Option<String>,
}

impl Envelope {
    /// True when `method` equals `m`.
    pub fn is(&self, m: &str) -> bool {
        self.method.as_deref() == Some(m)
    }
}

/// One element of a request body: an object, or anything else (kept to count batch items).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A JSON object.
    Object(Envelope),
    /// A non-object element of a batch.
    Other,
}

/// A parsed POST body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Not a POST, or an empty (whitespace-only) body: nothing to authorize.
    Empty,
    /// One envelope.
    Single(Envelope),
    /// A batch (JSON array).
    Batch(Vec<Item>),
}

impl Body {
    /// The objects of the body, in order.
    pub fn envelopes(&self) -> impl Iterator<Item = &Envelope> {
        let (single, batch): (Option<&Envelope>, &[Item]) = match self {
            Body::Empty => (None, &[]),
            Body::Single(e) => (Some(e), &[]),
            Body::Batch(items) => (None, items.as_slice()),
        };
        single
            .into_iter()
            .chain(batch.iter().filter_map(|i| match i {
                Item::Object(e) => Some(e),
                Item::Other => None,
            }))
    }

    /// At least one envelope carries `"jsonrpc": "2.0"`.
    pub fn is_json_rpc(&self) -> bool {
        self.envelopes().any(|e| e.jsonrpc)
    }

    /// Any envelope has method `m`.
    pub fn any_method(&self, m: &str) -> bool {
        self.envelopes().any(|e| e.is(m))
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parse a request body. A whitespace-only body is [`Body::Empty`]; the top level must be an
/// object or an array.
pub fn parse(body: &[u8]) -> Result<Body, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::Empty);
    }
    // One UTF-8 check for the whole body, not one per string (see `crate::json`).
    let parsed = crate::json::read(body, Top);
    match parsed {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(ParseError(
            "invalid JSON-RPC request: body is not a JSON object or array".into(),
        )),
        Err(e) => {
            let what = if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                "batch"
            } else {
                "request"
            };
            Err(ParseError(format!("invalid JSON-RPC {what}: {e}")))
        }
    }
}

/// The whole document: one object or batch, then nothing but whitespace.
/// The top-level reading of a body, for [`crate::json::read`].
struct Top;

impl<'de> crate::json::JsonRead<'de> for Top {
    type Output = Option<Body>;

    fn read<R: serde_json::de::Read<'de>>(
        self,
        de: serde_json::Deserializer<R>,
    ) -> serde_json::Result<Option<Body>> {
        read_top(de)
    }
}

fn read_top<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> serde_json::Result<Option<Body>> {
    de.deserialize_any(TopVisitor)
        .and_then(|b| de.end().map(|_| b))
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Option<Body>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC object or batch")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Some(Body::Single(EnvelopeVisitor.visit_map(map)?)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            items.push(item);
        }
        Ok(Some(Body::Batch(items)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

struct ItemSeed;

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Item;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a batch element")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item, A::Error> {
        Ok(Item::Object(EnvelopeVisitor.visit_map(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Item::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_unit<E>(self) -> Result<Item, E> {
        Ok(Item::Other)
    }
}

/// The envelope members the decision reads.
const ENVELOPE_MEMBERS: [&str; 4] = ["jsonrpc", "id", "method", "params"];

/// The `params` members the decision reads.
const PARAMS_MEMBERS: [&str; 2] = ["name", "uri"];

/// Case-insensitive matching of one character, as far as it can reach an ASCII letter: ASCII
/// `A`-`Z` fold to `a`-`z`, U+017F LATIN SMALL LETTER LONG S to `s`, U+212A KELVIN SIGN to `k`
/// (Unicode simple case folding, CaseFolding.txt statuses C and S), and U+0130 `İ` / U+0131 `ı`
/// to `i`; every other character is returned unchanged.
///
/// Complete for comparing against ASCII names: in CaseFolding.txt the only C/S mappings that
/// reach an ASCII letter are `A`-`Z`, U+017F and U+212A, which is what Go's `encoding/json`
/// (`strings.EqualFold` orbits `k K K`, `s S ſ`) matches. U+0130 and U+0131 have no simple
/// folding, but their simple lower/upper-case mappings in UnicodeData.txt are `i` and `I`, which
/// per-character comparisons such as Java's `equalsIgnoreCase` use; they are refused too (deny on
/// doubt). No other character has a simple lower- or upper-case mapping to an ASCII letter (the
/// unit test checks every code point), so a character left unchanged here cannot make a key match.
fn fold_to_ascii(c: char) -> char {
    match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        '\u{017F}' => 's',
        '\u{212A}' => 'k',
        '\u{0130}' | '\u{0131}' => 'i',
        _ => c,
    }
}

/// The known member `key` equals under simple case folding, when it is not that member itself.
fn case_folded_member(key: &str, members: &[&'static str]) -> Option<&'static str> {
    if key.is_ascii() {
        // The common case, without decoding characters: ASCII folds only by ASCII case.
        return members
            .iter()
            .copied()
            .find(|m| key.len() == m.len() && key != *m && key.eq_ignore_ascii_case(m));
    }
    members.iter().copied().find(|m| {
        key != *m && key.chars().count() == m.len() && key.chars().map(fold_to_ascii).eq(m.chars())
    })
}

/// Any JSON value, read through `deserialize_any` at every level and dropped: the checks of a
/// full parse (the nesting limit of 128, numbers within `f64`, UTF-8 and surrogate pairs in
/// strings) apply to the members the decision does not read too.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(SkipVisitor)
    }
}

/// An object key as the parser reads it: borrowed from the body unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A member value read without building a `serde_json::Value`: strings are kept (borrowed when
/// they had no escapes), numbers kept for the id, anything else consumed and dropped. It accepts
/// every JSON value, so only syntax errors fail the parse, exactly as before.
enum Scalar<'de> {
    Str(Cow<'de, str>),
    Number(Number),
    Other,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Number::from_f64(v).map_or(Scalar::Other, Scalar::Number))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

impl Scalar<'_> {
    fn into_string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }
}

/// Remembers the keys of one object and fails on a repeat, or on a key that is a known member
/// only under case folding. Envelopes and `params` have a handful of keys: the first eight are
/// held inline, so the common request allocates nothing here.
struct SeenKeys<'de> {
    inline: [Option<Cow<'de, str>>; 8],
    spill: Vec<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    fn new() -> Self {
        SeenKeys {
            inline: Default::default(),
            spill: Vec::new(),
        }
    }

    /// Record `key` (handed back for the caller's match).
    fn insert<E: de::Error>(
        &mut self,
        key: Cow<'de, str>,
        what: &str,
        members: &[&'static str],
    ) -> Result<Cow<'de, str>, E> {
        let seen = self
            .inline
            .iter()
            .map_while(Option::as_ref)
            .chain(self.spill.iter())
            .any(|k| *k == key);
        if seen {
            return Err(E::custom(format_args!("duplicate key `{key}` in {what}")));
        }
        if let Some(m) = case_folded_member(&key, members) {
            // `key` folds to an ASCII member name: it holds only ASCII letters, U+017F and
            // U+212A, so echoing it is safe.
            return Err(E::custom(format_args!(
                "key `{key}` in {what} is `{m}` under case folding"
            )));
        }
        match self.inline.iter_mut().find(|k| k.is_none()) {
            Some(slot) => *slot = Some(key.clone()),
            None => self.spill.push(key.clone()),
        }
        Ok(key)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut seen = SeenKeys::new();
        let mut env = Envelope {
            jsonrpc: false,
            id: Id::Absent,
            method: None,
            name: None,
            uri: None,
        };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let key = seen.insert(key, "JSON-RPC envelope", &ENVELOPE_MEMBERS)?;
            match key.as_ref() {
                "jsonrpc" => {
                    env.jsonrpc =
                        matches!(map.next_value::<Scalar>()?, Scalar::Str(s) if s == "2.0")
                }
                "method" => env.method = map.next_value::<Scalar>()?.into_string(),
                "id" => {
                    env.id = match map.next_value::<Scalar>()? {
                        Scalar::Number(n) => Id::Number(n),
                        Scalar::Str(s) => Id::String(s.into_owned()),
                        Scalar::Other => Id::Null,
                    }
                }
                "params" => {
                    let p = map.next_value_seed(ParamsSeed)?;
                    env.name = p.0;
                    env.uri = p.1;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(env)
    }
}

struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = (Option<String>, Option<String>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = (Option<String>, Option<String>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("params")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = SeenKeys::new();
        let (mut name, mut uri) = (None, None);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let key = seen.insert(key, "params", &PARAMS_MEMBERS)?;
            match key.as_ref() {
                "name" => name = map.next_value::<Scalar>()?.into_string(),
                "uri" => uri = map.next_value::<Scalar>()?.into_string(),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok((name, uri))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok((None, None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(s: &str) -> Envelope {
        match parse(s.as_bytes()).unwrap() {
            Body::Single(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_fields_and_decodes_escapes() {
        let e = single(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools\u002fcall","params":{"name":"x","arguments":{"a":[1,{"b":2}]}}}"#,
        );
        assert!(e.jsonrpc);
        assert_eq!(e.id, Id::Number(7.into()));
        assert!(e.is("tools/call"));
        assert_eq!(e.name.as_deref(), Some("x"));
    }

    #[test]
    fn duplicate_keys_rejected_at_envelope_and_params() {
        assert!(parse(br#"{"method":"ping","method":"tools/call"}"#).is_err());
        assert!(parse(br#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#).is_err());
        assert!(parse(br#"[{"id":1},{"id":2,"id":3}]"#).is_err());
        // Deeper objects are the handler's business.
        assert!(parse(br#"{"params":{"arguments":{"k":1,"k":2}}}"#).is_ok());
    }

    #[test]
    fn case_folded_member_keys_rejected() {
        for body in [
            r#"{"method":"initialize","Method":"tools/call"}"#,
            r#"{"PARAMS":{}}"#,
            r#"{"param\u017f":{}}"#,
            "{\"param\u{017F}\":{}}",
            r#"{"ID":1}"#,
            r#"{"JSONRPC":"2.0"}"#,
            r#"{"j\u017fonrpc":"2.0"}"#,
            r#"{"method":"tools/call","params":{"name":"a","Name":"b"}}"#,
            r#"{"params":{"URI":"x"}}"#,
            r#"{"\u0130d":1}"#,
            r#"{"\u0131d":1}"#,
            r#"[{"method":"ping"},{"Method":"tools/call"}]"#,
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert!(e.0.contains("under case folding"), "{body}: {e}");
        }
        // Unrelated keys, deeper objects and non-folding look-alikes are the handler's business.
        for body in [
            r#"{"method":"x","Arguments":1,"params":{"Arguments":{"Name":1}}}"#,
            r#"{"methods":1,"nam":2,"\u212Aid":3}"#,
        ] {
            assert!(parse(body.as_bytes()).is_ok(), "{body}");
        }
    }

    #[test]
    fn simple_case_folding_table() {
        assert_eq!(fold_to_ascii('\u{212A}'), 'k');
        assert_eq!(fold_to_ascii('\u{017F}'), 's');
        assert_eq!(fold_to_ascii('Q'), 'q');
        assert_eq!(fold_to_ascii('\u{0130}'), 'i');
        assert_eq!(fold_to_ascii('\u{0131}'), 'i');
        assert_eq!(fold_to_ascii('\u{00E9}'), '\u{00E9}');
        // Every non-ASCII character whose lower- or upper-case mapping is one ASCII letter is in
        // the table (U+0130's lower case is `i` plus a combining dot in Rust's full mapping; its
        // simple mapping is `i`, covered above): the table misses nothing.
        for c in (0x80u32..0x11_0000).filter_map(char::from_u32) {
            for mapped in [
                c.to_lowercase().collect::<Vec<char>>(),
                c.to_uppercase().collect(),
            ] {
                if mapped.len() == 1 && mapped[0].is_ascii_alphabetic() {
                    assert_eq!(
                        fold_to_ascii(c),
                        mapped[0].to_ascii_lowercase(),
                        "U+{:04X}",
                        c as u32
                    );
                }
            }
        }
        assert_eq!(case_folded_member("na\u{212A}e", &["nake"]), Some("nake"));
        assert_eq!(case_folded_member("name", &["name"]), None);
    }

    #[test]
    fn unread_members_are_validated_like_a_full_parse() {
        let call = |args: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a","arguments":{args}}}}}"#
            )
        };
        let deep = call(&format!("{}{}", "[".repeat(130), "]".repeat(130)));
        let refused: [&[u8]; 7] = [
            deep.as_bytes(),
            br#"{"method":"x","extra":1e400}"#,
            b"{\"method\":\"x\",\"extra\":\"\xff\"}",
            br#"{"method":"x","extra":"\udc00"}"#,
            br#"{"method":"x","extra":{"k":"\ud800"}}"#,
            br#"[{"method":"x"},[1e400]]"#,
            br#"{"method":"x","params":[-1e999]}"#,
        ];
        for body in refused {
            assert!(serde_json::from_slice::<Value>(body).is_err());
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        let err = parse(deep.as_bytes()).unwrap_err().0;
        assert_eq!(
            err,
            "invalid JSON-RPC request: recursion limit exceeded at line 1 column 205"
        );
        // Within the limits, unread members still pass.
        let ok = call(&format!(
            r#"{{"n":1e300,"s":"\ud83d\ude00","d":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        ));
        assert!(
            matches!(parse(ok.as_bytes()), Ok(Body::Single(e)) if e.name.as_deref() == Some("a"))
        );
    }

    /// The str reader (valid UTF-8) and the byte reader give the same answer, errors and their
    /// positions included, on bodies that are valid UTF-8 whether they parse or not.
    #[test]
    fn the_str_reader_answers_like_the_byte_reader() {
        let by_bytes = |b: &[u8]| read_top(serde_json::Deserializer::from_slice(b));
        let bodies: [&str; 12] = [
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t\u00e9","x":[1,2]}}"#,
            r#"{"method":"x","method":"y"}"#,
            r#"{"method":"x","params":{"name":"a","Name":"b"}}"#,
            r#"{"method":"x","extra":"\udc00"}"#,
            "{\"method\":\"x\",\"extra\":\"a\u{1}b\"}",
            r#"{"method":"x","extra":1e400}"#,
            r#"{"method":"caf\u00e9 \u00fc"}"#,
            "{\"method\":\"\u{e9}\u{1F600}\"}",
            r#"[{"method":"x"}, 5, "s", {"id":"\ud83d\ude00"}]"#,
            r#"{"a":1} trailing"#,
            r#"{"a":"unterminated}"#,
            "{\"param\u{17f}\":{}}",
        ];
        for body in bodies {
            let expected = by_bytes(body.as_bytes()).map_err(|e| e.to_string());
            let got = read_top(serde_json::Deserializer::from_str(body)).map_err(|e| e.to_string());
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn empty_invalid_and_scalar_bodies() {
        assert_eq!(parse(b"  \n").unwrap(), Body::Empty);
        assert!(parse(b"not json").is_err());
        assert!(parse(b"{\"a\":1} trailing").is_err());
        assert!(parse(b"42").is_err());
        assert!(parse(&[b'{', 0xff, b'}']).is_err());
    }

    #[test]
    fn ids_and_batches() {
        assert_eq!(single(r#"{"id":"a"}"#).id, Id::String("a".into()));
        assert_eq!(single(r#"{"id":{"x":1}}"#).id, Id::Null);
        assert_eq!(single(r#"{"id":true}"#).id, Id::Null);
        assert_eq!(single(r#"{}"#).id, Id::Absent);
        let b =
            parse(br#"[{"jsonrpc":"2.0","method":"ping"}, 5, {"method":"initialize"}]"#).unwrap();
        assert!(b.is_json_rpc());
        assert_eq!(b.envelopes().count(), 2);
    }
}

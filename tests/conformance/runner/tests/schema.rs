//! `tests/conformance/vector.schema.json` documents the vector format; the serde types of
//! `src/vector.rs` are the source of truth. This test keeps the two in step: every schema
//! definition names exactly the keys its serde type accepts, every vector validates against the
//! schema, and a vector with a typo does not.
//!
//! The validator below implements the JSON Schema keywords the file uses and refuses any other
//! keyword, so a constraint added to the schema is either checked here or fails this test.

use authsec_conformance::vector::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

fn schema() -> Value {
    let path = authsec_conformance::vectors_dir().join("../vector.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("schema JSON")
}

/// The keys serde accepts for `T`, read from its unknown-field error.
fn serde_fields<T: DeserializeOwned>() -> Vec<String> {
    let e = match serde_json::from_value::<T>(json!({"\u{1}probe": 0})) {
        Ok(_) => panic!("a probe key must be refused"),
        Err(e) => e.to_string(),
    };
    let Some((_, rest)) = e.split_once("unknown field `\u{1}probe`, ") else {
        panic!("unexpected serde error {e:?}");
    };
    if rest == "there are no fields" {
        return Vec::new();
    }
    let mut fields: Vec<String> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    fields.sort();
    fields
}

#[test]
fn every_schema_definition_names_exactly_the_serde_keys() {
    let s = schema();
    let defs = s["$defs"].as_object().expect("$defs");
    let types: Vec<(&str, Vec<String>)> = vec![
        ("Vector", serde_fields::<Vector>()),
        ("Backend", serde_fields::<Backend>()),
        ("Credentials", serde_fields::<Credentials>()),
        ("PolicyAnswer", serde_fields::<PolicyAnswer>()),
        ("TokenSpec", serde_fields::<TokenSpec>()),
        ("ErrorExpect", serde_fields::<ErrorExpect>()),
        ("Step", serde_fields::<Step>()),
        ("Empty", serde_fields::<Empty>()),
        ("Control", serde_fields::<Control>()),
        ("Request", serde_fields::<Request>()),
        ("Repeat", serde_fields::<Repeat>()),
        ("FilterInput", serde_fields::<FilterInput>()),
        ("Expect", serde_fields::<Expect>()),
        ("PrincipalExpect", serde_fields::<PrincipalExpect>()),
    ];
    assert_eq!(
        types.len(),
        defs.len(),
        "one serde type per schema definition"
    );
    for (name, fields) in types {
        let def = &defs[name];
        assert_eq!(
            def["additionalProperties"], false,
            "{name} refuses unknown keys"
        );
        let mut props: Vec<String> = def["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        props.sort();
        assert_eq!(props, fields, "{name}: schema properties vs serde fields");
    }
}

struct Validator<'a> {
    root: &'a Value,
}

const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "properties",
    "additionalProperties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "oneOf",
    "anyOf",
];

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        other => panic!("unknown type {other}"),
    }
}

impl Validator<'_> {
    fn check(&self, s: &Value, v: &Value, at: &str) -> Result<(), String> {
        let s = s.as_object().expect("a schema is an object");
        for k in s.keys() {
            assert!(
                KEYWORDS.contains(&k.as_str()),
                "schema keyword {k} is not checked by this test"
            );
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/$defs/").expect("local $ref");
            self.check(&self.root["$defs"][name], v, at)?;
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => type_ok(t, v),
                Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
                _ => panic!("type"),
            };
            if !ok {
                return Err(format!("{at}: {v} is not of type {t}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                return Err(format!("{at}: {v} != const {c}"));
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                return Err(format!("{at}: {v} not in {e:?}"));
            }
        }
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        if let Some(x) = v.as_f64() {
            if num("minimum").is_some_and(|m| x < m) || num("maximum").is_some_and(|m| x > m) {
                return Err(format!("{at}: {x} out of range"));
            }
            if num("exclusiveMinimum").is_some_and(|m| x <= m) {
                return Err(format!("{at}: {x} not above the minimum"));
            }
        }
        if let Some(o) = v.as_object() {
            self.object(s, o, at)?;
        }
        if let Some(a) = v.as_array() {
            if num("minItems").is_some_and(|m| (a.len() as f64) < m)
                || num("maxItems").is_some_and(|m| (a.len() as f64) > m)
            {
                return Err(format!("{at}: {} items", a.len()));
            }
            if let Some(items) = s.get("items") {
                for (i, x) in a.iter().enumerate() {
                    self.check(items, x, &format!("{at}[{i}]"))?;
                }
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            if !any.iter().any(|x| self.check(x, v, at).is_ok()) {
                return Err(format!("{at}: matches none of anyOf"));
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let n = one.iter().filter(|x| self.check(x, v, at).is_ok()).count();
            if n != 1 {
                return Err(format!("{at}: matches {n} of oneOf"));
            }
        }
        Ok(())
    }

    fn object(
        &self,
        s: &Map<String, Value>,
        o: &Map<String, Value>,
        at: &str,
    ) -> Result<(), String> {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                return Err(format!("{at}: missing {r}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            let at = format!("{at}.{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(p), _) => self.check(p, x, &at)?,
                (None, Some(Value::Bool(false))) => return Err(format!("{at}: unknown key")),
                (None, Some(extra @ Value::Object(_))) => self.check(extra, x, &at)?,
                (None, _) => {}
            }
        }
        Ok(())
    }
}

#[test]
fn every_vector_validates_against_the_schema_and_a_typo_does_not() {
    let s = schema();
    let v = Validator { root: &s };
    let mut n = 0;
    let mut first = None;
    for entry in std::fs::read_dir(authsec_conformance::vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let raw: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            v.check(&s, &raw, "$")
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            first.get_or_insert(raw);
            n += 1;
        }
    }
    assert!(n > 150, "only {n} vectors");

    let mut typo = first.unwrap();
    typo["steps"][0]["expect"]["stauts"] = json!(200);
    let e = v
        .check(&s, &typo, "$")
        .expect_err("a typo fails the schema");
    assert!(e.ends_with(".stauts: unknown key"), "{e}");
    let mut two_kinds = json!({"format": 1, "id": "x", "description": "", "spec": [], "config": {},
        "steps": [{"metadata": {}, "counters": {}}]});
    assert!(v
        .check(&s, &two_kinds, "$")
        .unwrap_err()
        .contains("matches 2 of oneOf"));
    two_kinds["format"] = json!(2);
    assert!(v.check(&s, &two_kinds, "$").unwrap_err().contains("const"));
}

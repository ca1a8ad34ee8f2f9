//! The streaming tools/list filter (JSON and SSE) under arbitrary chunking.
//!
//! Input: byte 0 picks the framing (bit 0: SSE, else JSON) and byte 1 seeds the chunk sizes; the
//! rest is the handler's answer. The policy maps `read_a` to scope `a`, `write_b` to `b` and
//! `open_c` to no scope; the caller holds `a`, so only `read_a` and `open_c` may be listed.
//!
//! Invariants:
//! - chunking never changes the outcome: the bytes forwarded are the same fed in one chunk, in
//!   the fuzzer's chunks, and through the one-shot `Runtime::filter_response`; a refusal is the
//!   same refusal under every chunking (the chunk it arrives in is withheld, so smaller chunks
//!   may have forwarded more of the complete events before it: one chunk's bytes are a prefix
//!   of the fuzzer's chunks' bytes);
//! - a refusal is a 502 or 503 from the core, and nothing is forwarded after it;
//! - the output never lists a tool the policy denies: in every `result` of every message (every
//!   SSE event's data), every entry of every `tools` member is an object whose every `name`
//!   member is an allowed tool;
//! - the other bytes are the input's: with the `cacheScope` values the filter writes taken out,
//!   the output is a subsequence of the input (entries are only cut, never rewritten); for SSE,
//!   event by event: the same events, each with the same non-data lines in the same order (a
//!   line inside a cut entry is moved out of it, never dropped), its data only cut;
//! - for JSON, the output reads (`serde_json`) as the input with the denied entries removed and
//!   `cacheScope: "private"` set on each result whose tools array was filtered.

#![no_main]

use std::sync::{Arc, OnceLock};

use authsec_core::{Config, FilterOutcome, Principal, Runtime};
use authsec_fuzz::Tree;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ALLOWED: [&str; 2] = ["read_a", "open_c"];

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let cfg = Config::from_json(
            r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
                "resource_uri": "https://mcp.example.com/mcp",
                "tool_scopes": {"read_a": ["a"], "write_b": ["b"], "open_c": []}}"#,
        )
        .expect("config");
        Runtime::new(cfg).expect("runtime")
    })
}

fn principal() -> Arc<Principal> {
    Arc::new(Principal {
        subject: "user-1".into(),
        issuer: "https://as.example.com".into(),
        audience: vec!["https://mcp.example.com/mcp".into()],
        scopes: vec!["a".into()],
        claims: Default::default(),
        active: true,
        spiffe_id: None,
        hierarchy: None,
    })
}

/// Every tool every `result` lists in one message (or batch) is allowed, whichever copy of a
/// repeated member a client reads.
fn assert_lists_only_allowed(doc: &Tree) {
    let messages: Vec<&Tree> = match doc {
        Tree::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for m in messages {
        let Tree::Object(m) = m else { continue };
        for result in Tree::members(m, "result") {
            let Tree::Object(result) = result else {
                continue;
            };
            for tools in Tree::members(result, "tools") {
                let Tree::Array(tools) = tools else { continue };
                for tool in tools {
                    let Tree::Object(tool) = tool else {
                        panic!("a non-object tools entry was forwarded")
                    };
                    let mut names = Tree::members(tool, "name").peekable();
                    assert!(
                        names.peek().is_some(),
                        "a tool without a name was forwarded"
                    );
                    for name in names {
                        match name {
                            Tree::Leaf(Value::String(n)) if ALLOWED.contains(&n.as_str()) => {}
                            other => panic!("a denied tool was forwarded: {:?}", leaf(other)),
                        }
                    }
                }
            }
        }
    }
}

fn leaf(t: &Tree) -> Option<&Value> {
    match t {
        Tree::Leaf(v) => Some(v),
        _ => None,
    }
}

/// What the filtered JSON body must read as.
fn expected(mut v: Value) -> Value {
    let filter = |msg: &mut Value| {
        let Some(result) = msg.get_mut("result").and_then(Value::as_object_mut) else {
            return;
        };
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        tools.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| ALLOWED.contains(&n))
        });
        result.insert("cacheScope".into(), "private".into());
    };
    match &mut v {
        Value::Array(items) => items.iter_mut().filter(|m| m.is_object()).for_each(filter),
        other => filter(other),
    }
    v
}

fn is_subsequence(needle: &[u8], hay: &[u8]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|b| it.any(|h| h == b))
}

fn remove_all(bytes: &[u8], pat: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(pat) {
            i += pat.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// One SSE event: its data (the `data` lines joined by LF; `None` without one) and its other
/// lines in order.
type SseEvent = (Option<Vec<u8>>, Vec<Vec<u8>>);

/// The events of an SSE stream (LF, CR and CRLF line ends; an unterminated last event counts),
/// written independently of the core's framer.
fn sse_events(stream: &[u8]) -> Vec<SseEvent> {
    // A UTF-8 BOM at the start of the stream is not part of its first line (WHATWG SSE
    // "interpreting an event stream"; the core's framer ignores it too).
    let stream = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let mut lines = Vec::new();
    let mut i = 0;
    while i < stream.len() {
        let start = i;
        while i < stream.len() && stream[i] != b'\n' && stream[i] != b'\r' {
            i += 1;
        }
        lines.push(&stream[start..i]);
        if i < stream.len() {
            if stream[i] == b'\r' && stream.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            i += 1;
        }
    }
    let mut events = Vec::new();
    let mut current: Option<SseEvent> = None;
    for line in lines {
        if line.is_empty() {
            events.extend(current.take());
            continue;
        }
        let ev = current.get_or_insert_with(|| (None, Vec::new()));
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(p) => (&line[..p], &line[p + 1..]),
            None => (line, &b""[..]),
        };
        if field == b"data" {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            match &mut ev.0 {
                None => ev.0 = Some(value.to_vec()),
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(value);
                }
            }
        } else {
            ev.1.push(line.to_vec());
        }
    }
    events.extend(current);
    events
}

/// With the `cacheScope` values the filter writes taken out, `out` is a subsequence of `input`.
fn only_cut(out: &[u8], input: &[u8]) -> bool {
    let stripped = remove_all(
        &remove_all(out, br#","cacheScope":"private""#),
        br#""private""#,
    );
    is_subsequence(&stripped, input)
}

/// Forwarded bytes and the refusal status, if any.
type Outcome = (Vec<u8>, Option<u16>);

fn stream(body: &[u8], sse: bool, chunks: &mut dyn Iterator<Item = usize>) -> Outcome {
    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut f = runtime().response_filter(principal(), true, Some(ct), None);
    assert!(!f.passthrough());
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = chunks.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        match f.feed(chunk) {
            Ok(b) => out.extend(b),
            Err(r) => return (out, Some(r.status)),
        }
    }
    match f.finish() {
        Ok(b) => out.extend(b),
        Err(r) => return (out, Some(r.status)),
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let (Some(&mode), Some(&seed)) = (data.first(), data.get(1)) else {
        return;
    };
    let body = &data[2..];
    let sse = mode & 1 == 1;

    let whole = stream(body, sse, &mut std::iter::empty());
    let mut state = u32::from(seed) | 1;
    let mut sizes = std::iter::from_fn(|| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        Some(1 + (state >> 16) as usize % 48)
    });
    let chunked = stream(body, sse, &mut sizes);
    match (&whole.1, &chunked.1) {
        (None, None) => assert_eq!(whole.0, chunked.0, "chunking changed the output"),
        // A refusal withholds the chunk it arrives in: smaller chunks may have forwarded more of
        // the events before it, never other bytes.
        (Some(a), Some(b)) => {
            assert_eq!(a, b, "chunking changed the refusal");
            assert!(
                chunked.0.starts_with(&whole.0),
                "chunking changed the forwarded prefix"
            );
        }
        _ => panic!(
            "chunking changed the outcome: {:?} vs {:?}",
            whole.1, chunked.1
        ),
    }

    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    let one_shot = match runtime().filter_response(&principal(), Some(ct), body) {
        FilterOutcome::Unchanged => (body.to_vec(), None),
        FilterOutcome::Rewritten(b) => (b, None),
        FilterOutcome::Respond(r) => (Vec::new(), Some(r.status)),
        _ => panic!("an outcome this target does not know"),
    };
    match (&whole.1, &one_shot.1) {
        // The one-shot form forwards nothing on a refusal; the stream may have sent events.
        (Some(a), Some(b)) => assert_eq!(a, b),
        (None, None) => assert_eq!(whole.0, one_shot.0, "one-shot and streamed differ"),
        _ => panic!(
            "one-shot {:?} and streamed {:?} disagree",
            one_shot.1, whole.1
        ),
    }

    let (out, refused) = whole;
    if let Some(status) = refused {
        assert!(status == 502 || status == 503, "refused with {status}");
    }
    if sse {
        // Event by event: the same non-data lines in the same order (the filter may move one out
        // of a cut entry, never drop it), data only cut; complete events only are forwarded.
        let (ins, outs) = (sse_events(body), sse_events(&out));
        if refused.is_none() {
            assert_eq!(ins.len(), outs.len(), "events added or lost");
        }
        assert!(outs.len() <= ins.len());
        for ((in_data, in_other), (out_data, out_other)) in ins.iter().zip(&outs) {
            assert_eq!(in_other, out_other, "an event's other lines changed");
            let (i, o) = (
                in_data.as_deref().unwrap_or_default(),
                out_data.as_deref().unwrap_or_default(),
            );
            assert!(
                only_cut(o, i),
                "an event's data has bytes the input's does not"
            );
        }
        for ev in outs.iter().filter_map(|e| e.0.as_ref()) {
            if ev.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // An event serde_json cannot read in full (a number past f64, say) was read by the
            // filter's structural pass; only the byte check above applies to it.
            if let Ok(doc) = serde_json::from_slice::<Tree>(&ev) {
                assert_lists_only_allowed(&doc);
            }
        }
    } else {
        assert!(
            only_cut(&out, body),
            "the output has bytes the input does not"
        );
    }
    if !sse && refused.is_none() && !out.iter().all(u8::is_ascii_whitespace) {
        // As for SSE: an answer serde_json cannot read in full gets the byte check only.
        if let Ok(doc) = serde_json::from_slice::<Tree>(&out) {
            assert_lists_only_allowed(&doc);
            let output: Value = serde_json::from_slice(&out).expect("the output reads as JSON");
            // (A dropped entry may have held what made the input unreadable in full.)
            if let Ok(input) = serde_json::from_slice::<Value>(body) {
                assert_eq!(output, expected(input));
            }
        }
    }
});

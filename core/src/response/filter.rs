//! Filtering a handler's answer to the tools the caller may call: byte-faithful, streaming and
//! fail-closed.
//!
//! - **Byte-faithful.** A JSON-RPC message (or batch) is read with serde_json's `RawValue` to
//!   find the spans of the `result.tools` array elements; the name of each element is read with
//!   serde, and a denied element is cut out together with the comma and whitespace that
//!   separated it from its neighbour. Every other byte stays as the handler wrote it (numbers
//!   beyond 64 bits, escapes, whitespace, key order).
//! - **Streaming.** [`ResponseFilter`] takes the answer in chunks. An SSE stream goes through the
//!   core's one framer ([`crate::request::sse`]) and each event is forwarded as soon as its blank line
//!   arrives: events without a tools/list result byte for byte, list results with the denied
//!   entries removed from their `data` lines. A JSON answer to a `tools/list` request is held
//!   until the end (its Content-Length changes); other JSON answers pass through untouched.
//! - **Fail-closed.** An answer that must be read and cannot be (not JSON, not UTF-8, a
//!   duplicated `result`/`tools` member, a Content-Encoding that cannot be decoded, larger than
//!   `max_body_bytes`) is replaced by a 502 `bad_gateway` answer from the core; a policy outage
//!   by the 503 `policy_unavailable` answer. An SSE event with non-empty data that is not JSON is
//!   refused the same way (in MCP every event carries a JSON-RPC message, so it could be a list).
//!   An unterminated event at the end of a stream is treated as a complete one (a conforming
//!   client drops it, but a lenient one may not).
//! - **Encodings.** `gzip` (`x-gzip`), `deflate` (zlib, or raw deflate as some servers send) and
//!   `br`, also chained (`gzip, br`), are decoded and the decoded bytes forwarded: the host drops
//!   Content-Encoding ([`ResponseFilter::drops_content_encoding`]). At most `max_body_bytes` are
//!   decoded per chunk fed, held for a JSON answer, or held for one SSE event (zip bombs).
//!   Tools that are not objects with a non-empty string `name` are dropped.

use std::io::Write;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::policy::resources::{ItemRules, ListKind};
use crate::policy::{decide, Action, PolicySource, PolicyView, Refusal as PolicyRefusal};
use crate::request::sse::{Event, Field, Frame, Framer};
use crate::response::denial::{Denial, Responder};
use crate::response::Response;
use crate::token::principal::Principal;

/// The fixed description of a 502 for an answer that cannot be read.
pub(crate) const UNREADABLE: &str =
    "the MCP server's answer could not be read to filter its tool list";
/// The fixed description of a 502 for an answer larger than `max_body_bytes`.
pub(crate) const TOO_LARGE: &str =
    "the MCP server's answer exceeds max_body_bytes and cannot be filtered";
/// The fixed description of a 502 for a Content-Encoding the filter does not decode.
pub(crate) const UNSUPPORTED_ENCODING: &str =
    "the MCP server's answer has a Content-Encoding the filter cannot decode";
/// The fixed description of a 502 for a compressed answer that does not decode.
pub(crate) const CORRUPT_ENCODING: &str =
    "the MCP server's answer could not be decoded (Content-Encoding)";

/// Why a body could not be filtered.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// 502 with this description.
    BadGateway(&'static str),
    /// The policy is unavailable (503).
    Policy(Box<Denial>),
}

// ---------------------------------------------------------------------------------------------
// The span scanner

/// What the filter replaces a `cacheScope` value with, and inserts when there is none: a list
/// filtered per caller must not be served from a cache shared across authorization contexts
/// (MCP 2026-07-28 caching utility, `CacheableResult.cacheScope`).
const PRIVATE: &str = "\"private\"";
/// Inserted after the first filtered array when `result` has no `cacheScope` member.
const INSERT_PRIVATE: &str = ",\"cacheScope\":\"private\"";

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    result: Option<ListResult<'a>>,
}

/// A message's `result`, read in the same pass as the message: the raw list arrays it holds
/// and its raw `cacheScope` value. A duplicated list member or `cacheScope` is an error (a
/// last-wins client would read the second one).
#[derive(Default)]
struct ListResult<'a> {
    lists: Vec<(ListKind, &'a RawValue)>,
    cache_scope: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ListResult<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ListResult<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = ListResult::default();
                let mut seen: Vec<ListKind> = Vec::new();
                while let Some(key) = map.next_key::<ResultKey>()? {
                    match key {
                        ResultKey::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        ResultKey::List(kind) => {
                            if seen.contains(&kind) {
                                return Err(serde::de::Error::duplicate_field(kind.member()));
                            }
                            seen.push(kind);
                            let raw = map.next_value::<&'de RawValue>()?;
                            if first_byte(raw) == b'[' {
                                out.lists.push((kind, raw));
                            }
                        }
                        ResultKey::CacheScope => {
                            if out.cache_scope.is_some() {
                                return Err(serde::de::Error::duplicate_field("cacheScope"));
                            }
                            out.cache_scope = Some(map.next_value::<&'de RawValue>()?);
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(ListResult::default())
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(ListResult::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A key of `result` (escapes decoded, as a client reads it).
enum ResultKey {
    List(ListKind),
    CacheScope,
    Other,
}

impl<'de> Deserialize<'de> for ResultKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ResultKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<ResultKey, E> {
                if v == "cacheScope" {
                    return Ok(ResultKey::CacheScope);
                }
                Ok(ListKind::ALL
                    .into_iter()
                    .find(|k| k.member() == v)
                    .map_or(ResultKey::Other, ResultKey::List))
            }
        }
        d.deserialize_str(V)
    }
}

/// The entry field a tool or prompt is decided on (a non-string or duplicated one fails the
/// read, and the entry is dropped).
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

/// The entry field a resource is decided on.
#[derive(Deserialize)]
struct Located<'a> {
    #[serde(borrow)]
    uri: Option<std::borrow::Cow<'a, str>>,
}

/// The entry field a resource template is decided on.
#[derive(Deserialize)]
struct Templated<'a> {
    #[serde(borrow, rename = "uriTemplate")]
    uri_template: Option<std::borrow::Cow<'a, str>>,
}

/// Offset of `inner` (a slice borrowed from `outer`) within `outer`.
fn offset(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(0)
}

/// The decided field of one list entry, when the entry is an object with a non-empty string
/// there.
fn entry_key(kind: ListKind, el: &str) -> Option<std::borrow::Cow<'_, str>> {
    if el.as_bytes().first() != Some(&b'{') {
        return None;
    }
    let key = match kind {
        ListKind::Tools | ListKind::Prompts => serde_json::from_str::<Named>(el).ok()?.name,
        ListKind::Resources => serde_json::from_str::<Located>(el).ok()?.uri,
        ListKind::ResourceTemplates => serde_json::from_str::<Templated>(el).ok()?.uri_template,
    }?;
    (!key.is_empty()).then_some(key)
}

/// Whether a list entry is kept: it reads as an entry of its kind and the caller may use it.
/// Entries that do not read as such are dropped (deny).
fn keep_entry(
    kind: ListKind,
    el: &str,
    view: &PolicyView,
    items: &ItemRules,
    p: &Principal,
) -> std::result::Result<bool, Refusal> {
    let Some(key) = entry_key(kind, el) else {
        return Ok(false);
    };
    let action = match kind {
        ListKind::Tools => Action::CallTool(&key),
        ListKind::Prompts => Action::GetPrompt(&key),
        ListKind::Resources | ListKind::ResourceTemplates => Action::ReadResource(&key),
    };
    let verdict = match action {
        Action::CallTool(_) => decide(view, p, action),
        _ => items.decide(view, p, action),
    };
    match verdict {
        Ok(()) => Ok(true),
        Err(r @ PolicyRefusal::Unavailable(_)) => {
            Err(Refusal::Policy(Box::new(Denial::from_refusal(r, p))))
        }
        Err(_) => Ok(false),
    }
}

/// The spans of the elements of a JSON array (`array` starts with `[`), relative to `array`.
/// The array was validated by the message's parse, so a string-aware depth count finds the
/// element boundaries exactly, in one pass (a second serde pass would cost as much as the
/// first). String contents, most of a tool list's bytes, are skipped with `memchr2` to the
/// next quote or backslash instead of byte by byte.
fn element_spans(array: &str) -> Vec<(usize, usize)> {
    let bytes = array.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    // The last byte of the current element seen so far (its end is `last + 1`).
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b',' if depth == 1 => {
                if let Some(s) = start.take() {
                    out.push((s, last + 1));
                }
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push((s, last + 1));
                    }
                    break;
                }
                last = i;
            }
            _ => {
                if depth == 1 && start.is_none() {
                    start = Some(i);
                }
                match c {
                    b'[' | b'{' => depth += 1,
                    b'"' => i = string_end(bytes, i + 1),
                    _ => {}
                }
                last = i;
            }
        }
        i += 1;
    }
    out
}

/// The index of the quote that closes the string whose contents start at `from` (an escape
/// skips the byte after its backslash; `\u` digits are never quotes), or the last index when
/// the string is unterminated (not reached for a validated document).
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(k) = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        if bytes[from + k] == b'"' {
            return from + k;
        }
        from += k + 2;
    }
    bytes.len().saturating_sub(1)
}

/// One change to the handler's bytes: `start..end` replaced by `insert` (a removal when
/// `insert` is empty, an insertion when the range is empty).
pub(crate) type Edit = (usize, usize, &'static str);

/// The edits of `text` (one JSON-RPC message or a batch) so that every list array the policy
/// gates keeps only the entries the caller may use, in order, and every result holding such a
/// list says `"cacheScope": "private"` (the value replaced, or the member inserted after the
/// first filtered array), whether or not an entry was removed.
pub(crate) fn edits(
    text: &str,
    view: &PolicyView,
    items: &ItemRules,
    p: &Principal,
) -> std::result::Result<Vec<Edit>, Refusal> {
    let mut out = Vec::new();
    if matches!(view, PolicyView::Open) {
        // Validate only: an unreadable answer is still refused.
        return serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(|_| out)
            .map_err(|_| Refusal::BadGateway(UNREADABLE));
    }
    let bad = |_| Refusal::BadGateway(UNREADABLE);
    let messages: Vec<Message> = match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let raw: Vec<&RawValue> = serde_json::from_str(text).map_err(bad)?;
            let mut out = Vec::with_capacity(raw.len());
            for m in raw.into_iter().filter(|m| first_byte(m) == b'{') {
                out.push(serde_json::from_str(m.get()).map_err(bad)?);
            }
            out
        }
        Some(b'{') => vec![serde_json::from_str(text).map_err(bad)?],
        _ => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(bad)?;
            Vec::new()
        }
    };
    for msg in messages {
        let Some(result) = msg.result else {
            continue;
        };
        let mut first_end = None;
        for (kind, array) in result.lists {
            if !crate::policy::resources::gates_list(view, items, kind) {
                continue;
            }
            let start = offset(text, array.get());
            first_end.get_or_insert(start + array.get().len());
            let spans: Vec<(usize, usize)> = element_spans(array.get())
                .into_iter()
                .map(|(s, e)| (start + s, start + e))
                .collect();
            let mut kept = Vec::with_capacity(spans.len());
            for (i, &(s, e)) in spans.iter().enumerate() {
                if keep_entry(kind, &text[s..e], view, items, p)? {
                    kept.push(i);
                }
            }
            if kept.len() != spans.len() {
                out.extend(
                    array_removals(&spans, &kept)
                        .into_iter()
                        .map(|(s, e)| (s, e, "")),
                );
            }
        }
        let Some(end) = first_end else {
            continue;
        };
        match result.cache_scope {
            Some(raw) if serde_json::from_str::<&str>(raw.get()).ok() == Some("private") => {}
            // A value with escapes reads as an owned string: still "private" to a client.
            Some(raw)
                if serde_json::from_str::<String>(raw.get()).ok().as_deref() == Some("private") => {
            }
            Some(raw) => {
                let s = offset(text, raw.get());
                out.push((s, s + raw.get().len(), PRIVATE));
            }
            None => out.push((end, end, INSERT_PRIVATE)),
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Removal ranges for one array whose elements have `spans`, keeping the elements `kept` (in
/// order). Kept elements stay joined by the separator that followed the earlier one; the text
/// before the first element and after the last stays.
fn array_removals(spans: &[(usize, usize)], kept: &[usize]) -> Vec<(usize, usize)> {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut at = first.0;
    for (j, &k) in kept.iter().enumerate() {
        let (s, e) = spans[k];
        if s > at {
            out.push((at, s));
        }
        // Keep element k and, unless it is the last kept, the separator after it.
        at = if j + 1 < kept.len() {
            spans[k + 1].0
        } else {
            e
        };
    }
    if last.1 > at {
        out.push((at, last.1));
    }
    out
}

/// `bytes` with `edits` (sorted, disjoint) applied.
pub(crate) fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 32);
    let mut at = 0;
    for &(s, e, insert) in edits {
        out.extend_from_slice(&bytes[at..s]);
        out.extend_from_slice(insert.as_bytes());
        at = e;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

/// Filter one JSON body (a message or a batch). Whitespace-only bodies pass.
pub(crate) fn filter_json(
    body: &[u8],
    view: &PolicyView,
    items: &ItemRules,
    p: &Principal,
) -> std::result::Result<Option<Vec<u8>>, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(body).map_err(|_| Refusal::BadGateway(UNREADABLE))?;
    let r = edits(text, view, items, p)?;
    Ok((!r.is_empty()).then(|| apply(body, &r)))
}

// ---------------------------------------------------------------------------------------------
// SSE events

/// Filter one event: `None` when it is forwarded as it is.
fn filter_event(
    ev: &Event,
    view: &PolicyView,
    items: &ItemRules,
    p: &Principal,
) -> std::result::Result<Option<Vec<u8>>, Refusal> {
    let Some(data) = ev.data() else {
        return Ok(None);
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(&data).map_err(|_| Refusal::BadGateway(UNREADABLE))?;
    let r = edits(text, view, items, p)?;
    if r.is_empty() {
        return Ok(None);
    }
    Ok(Some(rewrite_event(ev, &r)))
}

/// Filter a whole SSE body (the one-shot form): `None` when every byte stays.
pub(crate) fn filter_sse(
    body: &[u8],
    view: &PolicyView,
    items: &ItemRules,
    p: &Principal,
    limit: usize,
) -> std::result::Result<Option<Vec<u8>>, Refusal> {
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    for ev in crate::request::sse::events(body) {
        if ev.raw.len() > limit {
            return Err(Refusal::BadGateway(TOO_LARGE));
        }
        match filter_event(&ev, view, items, p)? {
            Some(b) => {
                changed = true;
                out.extend_from_slice(&b);
            }
            None => out.extend_from_slice(&ev.raw),
        }
    }
    Ok(changed.then_some(out))
}

/// Apply edits expressed in the event's data (its `data` values joined with LF) to its raw
/// bytes (inserted text holds no line end, so it stays within its line). A removal that spans several `data` lines joins the first line's head with the last
/// line's tail; non-data lines caught inside it are kept, moved before the joined line (fields
/// other than `data` do not depend on their position among data lines).
fn rewrite_event(ev: &Event, data_edits: &[Edit]) -> Vec<u8> {
    let spans = ev.data_spans();
    // Offset in the data where each data line's value starts.
    let mut starts = Vec::with_capacity(spans.len());
    let mut d = 0;
    for (s, e) in &spans {
        starts.push(d);
        d += e - s + 1;
    }
    let raw_pos = |pos: usize| -> (usize, usize) {
        let k = starts.partition_point(|&s| s <= pos).saturating_sub(1);
        (k, spans[k].0 + (pos - starts[k]))
    };
    let mut cuts = Vec::new();
    let mut inserts: Vec<(usize, &[u8])> = Vec::new();
    let (mut prev_end, mut prev_insert) = (0, 0);
    for &(a, b, insert) in data_edits {
        let (ka, ra) = raw_pos(a);
        let (_, rb) = raw_pos(b);
        cuts.push((ra, rb, insert));
        // Non-data lines inside the cut move to the start of the line the cut begins in (or,
        // when that line start is itself inside the previous cut, to where that cut's moved
        // lines go).
        let line_start = ev
            .lines
            .iter()
            .map(|l| l.start)
            .filter(|&s| s <= spans[ka].0)
            .max()
            .unwrap_or(0);
        let at = if line_start < prev_end {
            prev_insert
        } else {
            line_start
        };
        for l in &ev.lines {
            if ra < rb && l.start >= ra && l.end <= rb && !matches!(ev.field(l), Field::Data { .. })
            {
                inserts.push((at, &ev.raw[l.start..l.end]));
            }
        }
        prev_end = rb;
        prev_insert = at;
    }
    inserts.sort_by_key(|(pos, _)| *pos);
    let mut out = Vec::with_capacity(ev.raw.len() + 32);
    let mut pending = inserts.into_iter().peekable();
    let mut copy = |out: &mut Vec<u8>, mut from: usize, to: usize| {
        while let Some(&(pos, bytes)) = pending.peek() {
            if pos >= to {
                break;
            }
            let pos = pos.max(from);
            out.extend_from_slice(&ev.raw[from..pos]);
            out.extend_from_slice(bytes);
            from = pos;
            pending.next();
        }
        out.extend_from_slice(&ev.raw[from..to]);
    };
    let mut at = 0;
    for (s, e, insert) in cuts {
        copy(&mut out, at, s);
        out.extend_from_slice(insert.as_bytes());
        at = e;
    }
    copy(&mut out, at, ev.raw.len());
    out
}

// ---------------------------------------------------------------------------------------------
// Content encodings

/// A writer that refuses to grow past `cap` bytes (zip bombs stop inside the decoder).
#[derive(Debug, Default)]
struct Sink {
    buf: Vec<u8>,
    cap: usize,
    over: bool,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("decoded size limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Stage {
    Gzip(Box<flate2::write::GzDecoder<Sink>>),
    /// `deflate` before its first two bytes: zlib-wrapped (RFC 9110) or raw.
    DeflateStart(Vec<u8>),
    Deflate(Box<flate2::write::ZlibDecoder<Sink>>, bool),
    RawDeflate(Box<flate2::write::DeflateDecoder<Sink>>, bool),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Sink>>),
}

/// The codings of a Content-Encoding header, to undo from last to first; `Err` when one is not
/// supported.
fn stages(header: Option<&str>) -> std::result::Result<Vec<Stage>, Refusal> {
    let mut out = Vec::new();
    let Some(h) = header else {
        return Ok(out);
    };
    for coding in h.split(',').map(str::trim).rev() {
        let stage = match coding.to_ascii_lowercase().as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => {
                Stage::Gzip(Box::new(flate2::write::GzDecoder::new(Sink::default())))
            }
            "deflate" => Stage::DeflateStart(Vec::new()),
            "br" => Stage::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                Sink::default(),
                4096,
            ))),
            _ => return Err(Refusal::BadGateway(UNSUPPORTED_ENCODING)),
        };
        out.push(stage);
    }
    Ok(out)
}

fn io_fail(over: bool) -> Refusal {
    Refusal::BadGateway(if over { TOO_LARGE } else { CORRUPT_ENCODING })
}

/// A zlib stream starts with CMF/FLG: deflate method, and a multiple of 31.
fn looks_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0F == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

impl Stage {
    fn sink(&mut self) -> Option<&mut Sink> {
        match self {
            Stage::Gzip(d) => Some(d.get_mut()),
            Stage::Deflate(d, _) => Some(d.get_mut()),
            Stage::RawDeflate(d, _) => Some(d.get_mut()),
            Stage::Brotli(d) => Some(d.get_mut()),
            Stage::DeflateStart(_) => None,
        }
    }

    /// Decode `input`, at most `cap` bytes out.
    fn feed(&mut self, input: &[u8], cap: usize) -> std::result::Result<Vec<u8>, Refusal> {
        if let Stage::DeflateStart(pending) = self {
            pending.extend_from_slice(input);
            if pending.len() < 2 {
                return Ok(Vec::new());
            }
            let first = std::mem::take(pending);
            *self = if looks_zlib(&first) {
                Stage::Deflate(
                    Box::new(flate2::write::ZlibDecoder::new(Sink::default())),
                    false,
                )
            } else {
                Stage::RawDeflate(
                    Box::new(flate2::write::DeflateDecoder::new(Sink::default())),
                    false,
                )
            };
            return self.feed(&first, cap);
        }
        if let Some(s) = self.sink() {
            s.cap = cap;
        }
        let r = match self {
            Stage::Gzip(d) => d.write_all(input),
            Stage::Deflate(d, seen) => {
                *seen |= !input.is_empty();
                d.write_all(input)
            }
            Stage::RawDeflate(d, seen) => {
                *seen |= !input.is_empty();
                d.write_all(input)
            }
            Stage::Brotli(d) => d.write_all(input),
            Stage::DeflateStart(_) => Ok(()),
        };
        let sink = self.sink().map(|s| (s.over, std::mem::take(&mut s.buf)));
        let (over, out) = sink.unwrap_or_default();
        r.map_err(|_| io_fail(over))?;
        Ok(out)
    }

    /// End of input: the rest of the output; a truncated stream is refused.
    fn finish(&mut self, cap: usize) -> std::result::Result<Vec<u8>, Refusal> {
        if let Stage::DeflateStart(pending) = self {
            if pending.is_empty() {
                return Ok(Vec::new());
            }
            return Err(Refusal::BadGateway(CORRUPT_ENCODING));
        }
        if let Some(s) = self.sink() {
            s.cap = cap;
        }
        let r = match self {
            Stage::Gzip(d) => d.try_finish(),
            Stage::Deflate(d, seen) => finish_flate(d.as_mut(), *seen),
            Stage::RawDeflate(d, seen) => finish_flate(d.as_mut(), *seen),
            Stage::Brotli(d) => d.close(),
            Stage::DeflateStart(_) => Ok(()),
        };
        let sink = self.sink().map(|s| (s.over, std::mem::take(&mut s.buf)));
        let (over, out) = sink.unwrap_or_default();
        r.map_err(|_| io_fail(over))?;
        Ok(out)
    }
}

/// The flate2 write decoders that can tell whether their stream ended.
trait FlateEnd: Write {
    fn finish_stream(&mut self) -> std::io::Result<()>;
}

impl FlateEnd for flate2::write::ZlibDecoder<Sink> {
    fn finish_stream(&mut self) -> std::io::Result<()> {
        self.try_finish()
    }
}

impl FlateEnd for flate2::write::DeflateDecoder<Sink> {
    fn finish_stream(&mut self) -> std::io::Result<()> {
        self.try_finish()
    }
}

/// Finish a zlib/raw deflate stream; it must have reached its end: a zero-length write after
/// the end reports it (flate2 returns `Ok(0)` only once the stream is complete).
fn finish_flate(d: &mut dyn FlateEnd, seen: bool) -> std::io::Result<()> {
    d.finish_stream()?;
    if !seen {
        return Ok(());
    }
    // A finished stream accepts no more input: writing one byte is refused or ignored (0).
    match d.write(&[0]) {
        Ok(0) => Ok(()),
        _ => Err(std::io::Error::other("truncated deflate stream")),
    }
}

fn decode(stages: &mut [Stage], chunk: &[u8], cap: usize) -> std::result::Result<Vec<u8>, Refusal> {
    let mut data = chunk.to_vec();
    for s in stages.iter_mut() {
        data = s.feed(&data, cap)?;
    }
    Ok(data)
}

fn decode_finish(stages: &mut [Stage], cap: usize) -> std::result::Result<Vec<u8>, Refusal> {
    let mut data = Vec::new();
    for s in stages.iter_mut() {
        let mut out = s.feed(&data, cap)?;
        out.extend(s.finish(cap)?);
        data = out;
    }
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// The streaming filter

enum Mode {
    /// Nothing to filter: bytes pass as they are.
    Pass,
    /// A JSON answer to a tools/list request: held (decoded) until the end.
    Json(Vec<u8>),
    /// An SSE stream, filtered event by event.
    Sse(Framer),
}

/// A handler's answer on its way to the client, filtered as it streams (see the module docs).
///
/// Feed each chunk the handler writes with [`feed`](Self::feed) and forward what it returns;
/// call [`finish`](Self::finish) at the end and forward what it returns. On `Err(response)`
/// forward nothing more of the handler's answer: write `response` instead when nothing was sent
/// yet, otherwise close the stream. Header rules for the host: when
/// [`passthrough`](Self::passthrough) is false, drop the handler's Content-Length (for a JSON
/// answer, set it to the length of what `finish` returned; that is the whole body); when
/// [`drops_content_encoding`](Self::drops_content_encoding) is true, drop Content-Encoding.
pub struct ResponseFilter {
    policy: Arc<dyn PolicySource>,
    items: Arc<ItemRules>,
    responder: Responder,
    principal: Arc<Principal>,
    limit: usize,
    mode: Mode,
    stages: Vec<Stage>,
    failed: Option<Response>,
    finished: bool,
}

impl std::fmt::Debug for ResponseFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFilter")
            .field("passthrough", &self.passthrough())
            .field("failed", &self.failed.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether `content_type` is `text/event-stream`.
pub(crate) fn is_sse(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.trim_start()
            .get(..17)
            .is_some_and(|p| p.eq_ignore_ascii_case("text/event-stream"))
    })
}

impl ResponseFilter {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        policy: Arc<dyn PolicySource>,
        items: Arc<ItemRules>,
        responder: Responder,
        principal: Arc<Principal>,
        limit: u64,
        tools_list_request: bool,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> ResponseFilter {
        let open = matches!(policy.current(), PolicyView::Open);
        let mode = if open || !ResponseFilter::reads(tools_list_request, content_type) {
            Mode::Pass
        } else if is_sse(content_type) {
            Mode::Sse(Framer::new())
        } else {
            Mode::Json(Vec::new())
        };
        let mut f = ResponseFilter {
            policy,
            items,
            responder,
            principal,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            mode,
            stages: Vec::new(),
            failed: None,
            finished: false,
        };
        if !f.passthrough() {
            match stages(content_encoding) {
                Ok(s) => f.stages = s,
                Err(r) => f.fail(r),
            }
        }
        f
    }

    /// Whether an answer with this Content-Type to a request with (or without) `tools/list` is
    /// read by the filter under a policy: an SSE answer always (any event may carry a list), a
    /// JSON one only when the request listed tools. A host may skip creating a filter (and
    /// intercepting the answer) when this is false: the answer would pass through untouched.
    pub fn reads(tools_list_request: bool, content_type: Option<&str>) -> bool {
        is_sse(content_type) || tools_list_request
    }

    /// True when the answer is not filtered at all (open policy, or a non-SSE answer to a request
    /// without `tools/list`): the host may forward the handler's bytes and headers itself.
    pub fn passthrough(&self) -> bool {
        matches!(self.mode, Mode::Pass)
    }

    /// True when the filter decodes the answer's Content-Encoding: the forwarded bytes are the
    /// decoded ones and the host must drop the Content-Encoding header.
    pub fn drops_content_encoding(&self) -> bool {
        !self.passthrough() && !self.stages.is_empty()
    }

    /// True when nothing is forwarded before [`finish`](Self::finish) (a JSON answer to a
    /// `tools/list` request, whose Content-Length the host sets from the final body).
    pub fn holds_body(&self) -> bool {
        matches!(self.mode, Mode::Json(_))
    }

    fn fail(&mut self, r: Refusal) {
        let resp = match r {
            Refusal::BadGateway(m) => self.responder.bad_gateway(m),
            Refusal::Policy(d) => self.responder.tool_error(&d),
        };
        self.failed = Some(resp);
    }

    fn check(&mut self, r: std::result::Result<Vec<u8>, Refusal>) -> Result<Vec<u8>, Response> {
        match r {
            Ok(b) => Ok(b),
            Err(e) => {
                self.fail(e);
                Err(self.failed.clone().unwrap_or_else(Response::internal_error))
            }
        }
    }

    /// Feed the next chunk of the handler's body; returns the bytes to forward now.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Response> {
        if let Some(r) = &self.failed {
            return Err(r.clone());
        }
        if self.finished {
            return Err(Response::internal_error());
        }
        let r = self.feed_inner(chunk);
        self.check(r)
    }

    /// The end of the handler's body; returns the last bytes to forward (for a held JSON answer,
    /// the whole filtered body).
    pub fn finish(&mut self) -> Result<Vec<u8>, Response> {
        if let Some(r) = &self.failed {
            return Err(r.clone());
        }
        if self.finished {
            return Err(Response::internal_error());
        }
        self.finished = true;
        let r = self.finish_inner();
        self.check(r)
    }

    fn feed_inner(&mut self, chunk: &[u8]) -> std::result::Result<Vec<u8>, Refusal> {
        let limit = self.limit;
        match &mut self.mode {
            Mode::Pass => Ok(chunk.to_vec()),
            Mode::Json(held) => {
                let cap = limit.saturating_sub(held.len());
                let data = if self.stages.is_empty() {
                    chunk.to_vec()
                } else {
                    decode(&mut self.stages, chunk, cap)?
                };
                if held.len() + data.len() > limit {
                    return Err(Refusal::BadGateway(TOO_LARGE));
                }
                held.extend_from_slice(&data);
                Ok(Vec::new())
            }
            Mode::Sse(_) => {
                let data = if self.stages.is_empty() {
                    chunk.to_vec()
                } else {
                    decode(&mut self.stages, chunk, limit)?
                };
                self.sse_push(&data)
            }
        }
    }

    fn finish_inner(&mut self) -> std::result::Result<Vec<u8>, Refusal> {
        let limit = self.limit;
        match &mut self.mode {
            Mode::Pass => Ok(Vec::new()),
            Mode::Json(held) => {
                let cap = limit.saturating_sub(held.len());
                let rest = decode_finish(&mut self.stages, cap)?;
                if held.len() + rest.len() > limit {
                    return Err(Refusal::BadGateway(TOO_LARGE));
                }
                let mut body = std::mem::take(held);
                body.extend_from_slice(&rest);
                let view = self.policy.current();
                Ok(filter_json(&body, &view, &self.items, &self.principal)?.unwrap_or(body))
            }
            Mode::Sse(_) => {
                let rest = decode_finish(&mut self.stages, limit)?;
                let mut out = self.sse_push(&rest)?;
                let tail = match &mut self.mode {
                    Mode::Sse(f) => f.finish(),
                    _ => None,
                };
                if let Some(ev) = tail {
                    out.extend(self.sse_event(ev)?);
                }
                Ok(out)
            }
        }
    }

    fn sse_push(&mut self, data: &[u8]) -> std::result::Result<Vec<u8>, Refusal> {
        let Mode::Sse(framer) = &mut self.mode else {
            return Ok(Vec::new());
        };
        let mut frames = Vec::new();
        framer.push(data, &mut frames);
        let over = framer.held() > self.limit;
        let mut out = Vec::new();
        for fr in frames {
            match fr {
                Frame::Stray(b) => out.push(b),
                Frame::Event(ev) => out.extend(self.sse_event(ev)?),
            }
        }
        if over {
            return Err(Refusal::BadGateway(TOO_LARGE));
        }
        Ok(out)
    }

    fn sse_event(&self, ev: Event) -> std::result::Result<Vec<u8>, Refusal> {
        if ev.raw.len() > self.limit {
            return Err(Refusal::BadGateway(TOO_LARGE));
        }
        let view = self.policy.current();
        Ok(filter_event(&ev, &view, &self.items, &self.principal)?.unwrap_or(ev.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{LocalPolicy, ToolMap};
    use crate::response::challenge::ChallengeBuilder;
    use serde_json::json;

    struct Fixed(PolicyView);
    impl PolicySource for Fixed {
        fn current(&self) -> PolicyView {
            self.0.clone()
        }
    }

    fn map() -> PolicyView {
        let map: ToolMap = [
            ("list_issues".to_string(), vec!["issues:read".to_string()]),
            ("create_issue".to_string(), vec!["issues:write".to_string()]),
        ]
        .into();
        PolicyView::Map(Arc::new(map))
    }

    fn principal() -> Arc<Principal> {
        Arc::new(Principal::from_claims(
            json!({"scope": "issues:read"}).as_object().unwrap().clone(),
            false,
        ))
    }

    fn filter(view: PolicyView, list: bool, ct: &str, ce: Option<&str>) -> ResponseFilter {
        let _ = LocalPolicy::new(&Default::default());
        ResponseFilter::new(
            Arc::new(Fixed(view)),
            Arc::default(),
            Responder {
                challenge: ChallengeBuilder::new(
                    "r",
                    "https://x/.well-known/oauth-protected-resource",
                ),
            },
            principal(),
            1 << 20,
            list,
            Some(ct),
            ce,
        )
    }

    fn run(f: &mut ResponseFilter, body: &[u8], every: usize) -> Result<Vec<u8>, Response> {
        let mut out = Vec::new();
        for c in body.chunks(every.max(1)) {
            out.extend(f.feed(c)?);
        }
        out.extend(f.finish()?);
        Ok(out)
    }

    fn one(body: &str) -> String {
        let mut f = filter(map(), true, "application/json", None);
        String::from_utf8(run(&mut f, body.as_bytes(), 1 << 20).unwrap()).unwrap()
    }

    #[test]
    fn json_removes_denied_entries_and_keeps_every_other_byte() {
        let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"list_issues","inputSchema":{"maximum":123456789012345678901234567890,"x":"\u00e9\/"}},{"name":"create_issue"},5,{"x":1}],"nextCursor":"c"}}"#;
        assert_eq!(
            one(body),
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"list_issues","inputSchema":{"maximum":123456789012345678901234567890,"x":"\u00e9\/"}}],"cacheScope":"private","nextCursor":"c"}}"#
        );
        let pretty = "{\"result\": {\"tools\": [\n  {\"name\": \"create_issue\"} ,\n  {\"name\": \"list_issues\"},\n  {\"name\": \"create_issue\"}\n ]}}";
        assert_eq!(
            one(pretty),
            "{\"result\": {\"tools\": [\n  {\"name\": \"list_issues\"}\n ],\"cacheScope\":\"private\"}}"
        );
        assert_eq!(
            one(
                r#"[{"result":{"tools":[{"name":"create_issue"}]}},{"result":{"tools":[{"name":"list_issues"},{"name":"create_issue"},{"name":"list_issues"}]}}]"#
            ),
            r#"[{"result":{"tools":[],"cacheScope":"private"}},{"result":{"tools":[{"name":"list_issues"},{"name":"list_issues"}],"cacheScope":"private"}}]"#
        );
        // Nothing denied: every byte stays, and the list is marked private all the same.
        let same =
            "{ \"result\" : { \"tools\" : [ {\"name\":\"list_issues\"} ] } , \"id\" : 1e400 }";
        assert_eq!(
            one(same),
            "{ \"result\" : { \"tools\" : [ {\"name\":\"list_issues\"} ],\"cacheScope\":\"private\" } , \"id\" : 1e400 }"
        );
        // A cacheScope the handler wrote is replaced in place; "private" (escaped or not) stays.
        assert_eq!(
            one(
                r#"{"result":{"cacheScope" : "public","tools":[{"name":"create_issue"}],"ttlMs":5}}"#
            ),
            r#"{"result":{"cacheScope" : "private","tools":[],"ttlMs":5}}"#
        );
        assert_eq!(
            one(r#"{"result":{"cacheScope":7,"tools":[]}}"#),
            r#"{"result":{"cacheScope":"private","tools":[]}}"#
        );
        for kept in [
            r#"{"result":{"tools":[{"name":"list_issues"}],"cacheScope":"private"}}"#,
            r#"{"result":{"tools":[],"cacheScope":"priv\u0061te"}}"#,
            r#"{"result":{"content":[],"cacheScope":"public"}}"#,
            r#"{"result":{"tools":{"name":"create_issue"}}}"#,
        ] {
            assert_eq!(one(kept), kept);
        }
    }

    #[test]
    fn element_spans_match_serde() {
        for a in [
            "[]",
            "[ ]",
            r#"[1]"#,
            r#"[ {"a":"],}\"{["} , [1,[2]], "x\\", 3.5e2 ,null,true,{}]"#,
            "[\n  {\"name\": \"a\"} ,\n  {\"name\": \"b\"}\n ]",
            // Escapes where the string skip lands (memchr2 over quotes and backslashes),
            // before and after a 32-byte stretch without either.
            r#"["\\", "\\\"", "a\"b\\\\\"c", "\u0022\u005c", {"k\"":"v\\"}]"#,
            r#"[{"description":"a long description without any quote or backslash \" then one","name":"x"},"tail\\"]"#,
        ] {
            let serde: Vec<&RawValue> = serde_json::from_str(a).unwrap();
            let want: Vec<&str> = serde.iter().map(|r| r.get()).collect();
            let got: Vec<&str> = element_spans(a).iter().map(|&(s, e)| &a[s..e]).collect();
            assert_eq!(got, want, "{a}");
        }
    }

    #[test]
    fn unreadable_json_is_refused() {
        for body in [
            "nope",
            r#"{"result":{"tools":[{"name":"create_issue"}]}"#,
            r#"{"result":{"tools":[]},"result":{"tools":[{"name":"create_issue"}]}}"#,
            r#"{"result":{"tools":[],"tools":[{"name":"create_issue"}]}}"#,
            r#"{"result":{"tools":[],"cacheScope":"private","cacheScope":"public"}}"#,
            "\u{feff}{}",
        ] {
            let mut f = filter(map(), true, "application/json", None);
            let e = run(&mut f, body.as_bytes(), 3).unwrap_err();
            assert_eq!(e.status, 502, "{body}");
            assert_eq!(
                String::from_utf8(e.body).unwrap(),
                format!(r#"{{"error":"bad_gateway","error_description":"{UNREADABLE}"}}"#)
            );
        }
        // Deep nesting inside a tool is read without recursion; the denied tool goes.
        let deep = format!(
            r#"{{"result":{{"tools":[{{"name":"create_issue","inputSchema":{}{}}},{{"name":"list_issues"}}]}}}}"#,
            "[".repeat(2000),
            "]".repeat(2000)
        );
        assert_eq!(
            one(&deep),
            r#"{"result":{"tools":[{"name":"list_issues"}],"cacheScope":"private"}}"#
        );
        let mut f = filter(map(), true, "application/json", None);
        assert_eq!(run(&mut f, b"  \n", 1).unwrap(), b"  \n");
    }

    #[test]
    fn sse_events_stream_and_keep_their_bytes() {
        let ev1 = "event: message\r\nid: 1\r\ndata: {\"id\":1,\"result\":{\"tools\":[{\"name\":\"list_issues\"},{\"name\":\"create_issue\"}]}}\r\n\r\n";
        let ev2 = ": ping\r\r";
        let ev3 = "data: {\"id\":2,\"result\":{\"content\":[]}}\n\n";
        let mut f = filter(map(), false, "text/event-stream", None);
        let out1 = f.feed(ev1.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out1).unwrap(),
            "event: message\r\nid: 1\r\ndata: {\"id\":1,\"result\":{\"tools\":[{\"name\":\"list_issues\"}],\"cacheScope\":\"private\"}}\r\n\r\n"
        );
        assert_eq!(f.feed(ev2.as_bytes()).unwrap(), ev2.as_bytes());
        assert_eq!(f.feed(&ev3.as_bytes()[..5]).unwrap(), b"");
        assert_eq!(f.feed(&ev3.as_bytes()[5..]).unwrap(), ev3.as_bytes());
        assert_eq!(f.finish().unwrap(), b"");
    }

    #[test]
    fn sse_multi_line_data_is_cut_across_lines() {
        let body = "data: {\"result\":{\"tools\":[{\"name\":\"list_issues\"},\ndata: {\"name\":\"create_issue\"}\nid: 9\ndata: ]}}\n\n";
        let mut f = filter(map(), false, "text/event-stream", None);
        let out = String::from_utf8(run(&mut f, body.as_bytes(), 1).unwrap()).unwrap();
        assert_eq!(
            out,
            "data: {\"result\":{\"tools\":[{\"name\":\"list_issues\"}\nid: 9\ndata: ],\"cacheScope\":\"private\"}}\n\n"
        );
        let ev = crate::request::sse::events(out.as_bytes());
        let data = String::from_utf8(ev[0].data().unwrap()).unwrap();
        assert_eq!(
            data,
            "{\"result\":{\"tools\":[{\"name\":\"list_issues\"}\n],\"cacheScope\":\"private\"}}"
        );
    }

    #[test]
    fn sse_unreadable_list_event_fails_closed_and_stays_failed() {
        let mut f = filter(map(), false, "text/event-stream", None);
        assert_eq!(f.feed(b"data:\n\n").unwrap(), b"data:\n\n");
        let e = f
            .feed(b"data: {\"result\":{\"tools\":[{\"name\":\"create_issue\"}]\n\n")
            .unwrap_err();
        assert_eq!(e.status, 502);
        assert_eq!(f.feed(b"data: 1\n\n").unwrap_err().status, 502);
        assert_eq!(f.finish().unwrap_err().status, 502);
        // The unterminated tail of a stream is filtered like an event.
        let mut f = filter(map(), false, "text/event-stream", None);
        let out = run(
            &mut f,
            b"data: {\"result\":{\"tools\":[{\"name\":\"create_issue\"}]}}",
            4,
        );
        assert_eq!(
            out.unwrap(),
            b"data: {\"result\":{\"tools\":[],\"cacheScope\":\"private\"}}"
        );
    }

    #[test]
    fn passthrough_and_open() {
        let mut f = filter(map(), false, "application/json", Some("gzip"));
        assert!(f.passthrough() && !f.drops_content_encoding());
        assert_eq!(
            run(&mut f, b"\x1f\x8b whatever", 2).unwrap(),
            b"\x1f\x8b whatever"
        );
        let mut f = filter(PolicyView::Open, true, "text/event-stream", None);
        assert!(f.passthrough());
        let mut f2 = filter(map(), true, "application/json", Some("compress"));
        assert_eq!(f2.feed(b"x").unwrap_err().status, 502);
        assert_eq!(run(&mut f, b"x", 1).unwrap(), b"x");
    }

    #[test]
    fn policy_outage_is_503() {
        let mut f = filter(
            PolicyView::Unavailable("down".into()),
            true,
            "application/json",
            None,
        );
        let e = run(&mut f, br#"{"result":{"tools":[{"name":"a"}]}}"#, 7).unwrap_err();
        assert_eq!(e.status, 503);
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn encodings_are_decoded_bounded_and_truncation_refused() {
        let body = br#"{"result":{"tools":[{"name":"list_issues"},{"name":"create_issue"}]}}"#;
        let want = br#"{"result":{"tools":[{"name":"list_issues"}],"cacheScope":"private"}}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(body).unwrap();
        let raw = r.finish().unwrap();
        for (ce, enc) in [
            ("gzip", gzip(body)),
            ("deflate", zlib),
            ("deflate", raw),
            ("x-gzip, identity", gzip(body)),
        ] {
            for every in [1, 3, 1000] {
                let mut f = filter(map(), true, "application/json", Some(ce));
                assert!(f.drops_content_encoding());
                assert_eq!(run(&mut f, &enc, every).unwrap(), want, "{ce} {every}");
                let mut f = filter(map(), true, "application/json", Some(ce));
                let e = run(&mut f, &enc[..enc.len() - 3], every).unwrap_err();
                assert_eq!(e.status, 502, "{ce} truncated");
            }
        }
        // Brotli: decoded, and refused when cut short.
        let br: &[u8] = &[
            0x1b, 0x44, 0x00, 0xc0, 0x8c, 0xd3, 0x15, 0xf3, 0x23, 0x84, 0x75, 0xaf, 0x45, 0xf6,
            0xbe, 0xb6, 0xb6, 0x4e, 0x5f, 0x17, 0x4b, 0x0f, 0xb8, 0xe8, 0x15, 0x52, 0x2a, 0x23,
            0x1c, 0xd8, 0x18, 0x3b, 0x41, 0xe3, 0x0b, 0x96, 0x43, 0x46, 0x84, 0xb3, 0x2c, 0x06,
            0xb7, 0xba, 0x57, 0x0d, 0xf2, 0x80, 0x45, 0xf2, 0x02,
        ];
        for every in [1, 5, 100] {
            let mut f = filter(map(), true, "application/json", Some("br"));
            assert_eq!(run(&mut f, br, every).unwrap(), want);
            let mut f = filter(map(), true, "application/json", Some("br"));
            let e = run(&mut f, &br[..br.len() - 4], every).unwrap_err();
            assert_eq!(e.status, 502, "a truncated brotli stream is refused");
        }
        // A bomb: 4 MiB of spaces in a few KiB stops at the limit inside the decoder.
        let bomb = gzip(&vec![b' '; 4 << 20]);
        let mut f = filter(map(), true, "application/json", Some("gzip"));
        let e = run(&mut f, &bomb, 1 << 20).unwrap_err();
        assert!(String::from_utf8(e.body).unwrap().contains(TOO_LARGE));
        // gzip of gzip, chained.
        let mut f = filter(map(), false, "text/event-stream", Some("gzip, gzip"));
        let sse = b"data: {\"result\":{\"tools\":[{\"name\":\"create_issue\"}]}}\n\n";
        assert_eq!(
            run(&mut f, &gzip(&gzip(sse)), 2).unwrap(),
            b"data: {\"result\":{\"tools\":[],\"cacheScope\":\"private\"}}\n\n"
        );
    }
}

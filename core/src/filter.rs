//! Filtering a handler's `tools/list` answer to the tools the caller may call: JSON bodies and
//! SSE streams (`data:` lines of each event joined, filtered, rewritten as one `data:` line, the
//! other lines kept). Tools that are not objects with a non-empty string `name` are dropped.

use serde_json::Value;

use crate::denial::{Denial, DenialKind};
use crate::policy::{authorize, PolicyView};
use crate::principal::Principal;

/// Filter a parsed JSON-RPC response (object or batch array) in place. Returns whether anything
/// was removed; a policy outage is an error.
fn filter_value(v: &mut Value, view: &PolicyView, p: &Principal) -> Result<bool, Denial> {
    match v {
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= filter_value(item, view, p)?;
            }
            Ok(changed)
        }
        Value::Object(obj) => {
            let Some(Value::Array(tools)) = obj
                .get_mut("result")
                .and_then(Value::as_object_mut)
                .and_then(|r| r.get_mut("tools"))
            else {
                return Ok(false);
            };
            let before = tools.len();
            let mut kept = Vec::with_capacity(before);
            for tool in tools.drain(..) {
                let name = match tool.get("name") {
                    Some(Value::String(n)) if !n.is_empty() => n.clone(),
                    _ => continue,
                };
                match authorize(view, p, &name) {
                    Ok(()) => kept.push(tool),
                    Err(d) if d.kind == DenialKind::PolicyUnavailable => return Err(d),
                    Err(_) => {}
                }
            }
            let changed = kept.len() != before;
            *tools = kept;
            Ok(changed)
        }
        _ => Ok(false),
    }
}

/// What filtering did to a body.
pub(crate) enum Filtered {
    /// Nothing to filter, or the body is not a tools/list answer we can read.
    Unchanged,
    /// The new body.
    Rewritten(Vec<u8>),
}

/// Filter a JSON body.
pub(crate) fn filter_json(
    body: &[u8],
    view: &PolicyView,
    p: &Principal,
) -> Result<Filtered, Denial> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Ok(Filtered::Unchanged);
    };
    filter_value(&mut v, view, p)?;
    Ok(Filtered::Rewritten(
        serde_json::to_vec(&v).unwrap_or_default(),
    ))
}

/// Filter an SSE body event by event.
pub(crate) fn filter_sse(
    body: &[u8],
    view: &PolicyView,
    p: &Principal,
) -> Result<Filtered, Denial> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Ok(Filtered::Unchanged);
    };
    let mut out = String::with_capacity(text.len());
    let mut event: Vec<&str> = Vec::new();
    let pieces: Vec<&str> = text.split('\n').collect();
    for (i, raw) in pieces.iter().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let last = i + 1 == pieces.len();
        if last && line.is_empty() {
            // The text ended with a newline: flush an unterminated event, add nothing.
            if !event.is_empty() {
                rewrite_event(&event, view, p, &mut out)?;
            }
            break;
        }
        if line.is_empty() {
            if !event.is_empty() {
                rewrite_event(&event, view, p, &mut out)?;
                event.clear();
            }
            out.push('\n');
            continue;
        }
        event.push(line);
        if last {
            // The stream ended without a final newline: keep it that way.
            rewrite_event(&event, view, p, &mut out)?;
            out.pop();
        }
    }
    Ok(Filtered::Rewritten(out.into_bytes()))
}

/// Write one event (each line followed by `\n`), with its data filtered when it is JSON.
fn rewrite_event(
    lines: &[&str],
    view: &PolicyView,
    p: &Principal,
    out: &mut String,
) -> Result<(), Denial> {
    let data: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    let parsed = if data.is_empty() {
        None
    } else {
        serde_json::from_str::<Value>(&data.join("\n")).ok()
    };
    let Some(mut v) = parsed else {
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        return Ok(());
    };
    filter_value(&mut v, view, p)?;
    let mut wrote_data = false;
    for l in lines {
        if l.starts_with("data:") {
            if !wrote_data {
                out.push_str("data: ");
                out.push_str(&serde_json::to_string(&v).unwrap_or_default());
                out.push('\n');
                wrote_data = true;
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ToolMap;
    use serde_json::json;
    use std::sync::Arc;

    fn setup() -> (PolicyView, Principal) {
        let map: ToolMap = [
            ("list_issues".to_string(), vec!["issues:read".to_string()]),
            ("create_issue".to_string(), vec!["issues:write".to_string()]),
        ]
        .into();
        let p = Principal::from_claims(
            json!({"scope": "issues:read"}).as_object().unwrap().clone(),
            false,
        );
        (PolicyView::Map(Arc::new(map)), p)
    }

    fn text(f: Filtered) -> String {
        match f {
            Filtered::Rewritten(b) => String::from_utf8(b).unwrap(),
            Filtered::Unchanged => "<unchanged>".into(),
        }
    }

    #[test]
    fn json_filtering_keeps_other_fields() {
        let (v, p) = setup();
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"list_issues"},{"name":"create_issue"},5,{"x":1}],"nextCursor":"c"}}"#;
        assert_eq!(
            text(filter_json(body, &v, &p).unwrap()),
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"list_issues"}],"nextCursor":"c"}}"#
        );
        assert!(matches!(
            filter_json(b"nope", &v, &p).unwrap(),
            Filtered::Unchanged
        ));
    }

    #[test]
    fn sse_filtering_keeps_framing() {
        let (v, p) = setup();
        let body = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"list_issues\"},{\"name\":\"create_issue\"}]}}\n\n: comment\n\n";
        assert_eq!(
            text(filter_sse(body.as_bytes(), &v, &p).unwrap()),
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"list_issues\"}]}}\n\n: comment\n\n"
        );
        let split = "data: {\"result\":{\"tools\":\ndata: [{\"name\":\"create_issue\"}]}}\n\n";
        assert_eq!(
            text(filter_sse(split.as_bytes(), &v, &p).unwrap()),
            "data: {\"result\":{\"tools\":[]}}\n\n"
        );
        for (input, output) in [
            ("event: a\n", "event: a\n"),
            ("event: a", "event: a"),
            ("\n\nevent: a\r\n\r\n", "\n\nevent: a\n\n"),
        ] {
            assert_eq!(text(filter_sse(input.as_bytes(), &v, &p).unwrap()), output);
        }
    }

    #[test]
    fn outage_is_an_error() {
        let (_, p) = setup();
        let v = PolicyView::Unavailable("down".into());
        let body = br#"{"result":{"tools":[{"name":"a"}]}}"#;
        assert!(filter_json(body, &v, &p).is_err());
    }
}

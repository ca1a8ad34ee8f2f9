//! Every byte of the sign-in answers: the five `oauth_*` tool definitions (the reference's
//! fallback input schemas, §9), their `tools/call` results, the signed-out `tools/list`, the
//! callback page (HTML-escaped, never a token or a session id in it) and the `GET /` info
//! document.

use serde_json::{json, Map, Value};

use crate::request::jsonrpc::Id;
use crate::request::revision::Era;
use crate::response::Response;

/// The names of the sign-in tools, in the reference's order.
pub(crate) const TOOL_NAMES: [&str; 5] = [
    "oauth_start",
    "oauth_authenticate",
    "oauth_status",
    "oauth_logout",
    "oauth_user_info",
];

/// Whether `name` is one of the sign-in tools.
pub(crate) fn is_sign_in_tool(name: &str) -> bool {
    TOOL_NAMES.contains(&name)
}

/// The five tool definitions (reference §9 fallback list: names, descriptions, schemas).
pub(crate) fn tools() -> Value {
    let session_only = json!({
        "type": "object",
        "properties": {"session_id": {"type": "string"}},
        "required": ["session_id"]
    });
    json!([
        {
            "name": "oauth_start",
            "description": "Start OAuth authentication flow",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "open_browser": {"type": "boolean"},
                    "return_url": {"type": "string"}
                },
                "required": []
            }
        },
        {
            "name": "oauth_authenticate",
            "description": "Authenticate with JWT token",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "jwt_token": {"type": "string"},
                    "session_id": {"type": "string"},
                    "expires_in": {"type": "number"}
                },
                "required": ["jwt_token", "session_id"]
            }
        },
        {
            "name": "oauth_status",
            "description": "Check authentication status",
            "inputSchema": session_only.clone()
        },
        {
            "name": "oauth_logout",
            "description": "Logout and invalidate session",
            "inputSchema": session_only.clone()
        },
        {
            "name": "oauth_user_info",
            "description": "Get user information for authenticated session",
            "inputSchema": session_only
        }
    ])
}

fn json_200(body: &Value) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// The signed-out `tools/list` answer: only the sign-in tools.
pub(crate) fn signed_out_list(id: &Id, era: Era) -> Response {
    let mut result = Map::new();
    if era == Era::Modern {
        result.insert("resultType".into(), "complete".into());
    }
    result.insert("tools".into(), tools());
    json_200(&json!({"jsonrpc": "2.0", "id": id.to_value(), "result": Value::Object(result)}))
}

/// A sign-in tool's result: one text content item holding `doc` as JSON; `isError` when the
/// document reports an error.
pub(crate) fn tool_result(id: &Id, era: Era, doc: &Value) -> Response {
    let mut result = Map::new();
    if era == Era::Modern {
        result.insert("resultType".into(), "complete".into());
    }
    let text = serde_json::to_string(doc).unwrap_or_default();
    result.insert("content".into(), json!([{"type": "text", "text": text}]));
    if doc.get("error").is_some() {
        result.insert("isError".into(), true.into());
    }
    json_200(&json!({"jsonrpc": "2.0", "id": id.to_value(), "result": Value::Object(result)}))
}

/// The error document of a sign-in tool (`{"error", "message"}`).
pub(crate) fn error_doc(error: &str, message: &str) -> Value {
    json!({"error": error, "message": message})
}

/// The reference's list-argument coercion: a list becomes its one element, or its elements
/// joined by spaces; every other value is kept.
pub(crate) fn coerce_arguments(args: &Map<String, Value>) -> Map<String, Value> {
    args.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Array(items) if items.len() == 1 => Value::String(plain(&items[0])),
                Value::Array(items) => {
                    Value::String(items.iter().map(plain).collect::<Vec<_>>().join(" "))
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Python's `str()` of a JSON value, as far as the coercion needs it: a string as itself,
/// anything else as its JSON text.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// At most `n` characters of `s` (for text that reaches a page or a message).
pub(crate) fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// HTML text escaping (`&`, `<`, `>`, `"`, `'`).
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The callback page: `200` on success, `400` on failure. It tells an opener window
/// (`authsec_oauth_complete`, as the reference's page does) and names no token or session id.
pub(crate) fn page(app_name: &str, failure: Option<&str>) -> Response {
    let app = escape_html(if app_name.is_empty() {
        "the MCP server"
    } else {
        app_name
    });
    let (status, title, text, outcome) = match failure {
        None => (
            200,
            "Signed in",
            format!("You are signed in to {app}. You can close this window and return to your MCP client."),
            "authenticated",
        ),
        Some(m) => (400, "Sign-in failed", escape_html(m), "failed"),
    };
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
<body><h1>{title}</h1><p>{text}</p>\
<script>try{{if(window.opener){{window.opener.postMessage({{type:\"authsec_oauth_complete\",status:\"{outcome}\"}},\"*\");}}}}catch(e){{}}</script>\
</body></html>\n"
    );
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("referrer-policy".into(), "no-referrer".into()),
            (
                "content-security-policy".into(),
                "default-src 'none'; script-src 'unsafe-inline'".into(),
            ),
        ],
        body: body.into_bytes(),
    }
}

/// The `GET /` info document of the reference (§9), with this runtime's sign-in server in
/// place of the hosted service.
pub(crate) fn info(app_name: &str, issuer: &str, store: &str) -> Response {
    json_200(&json!({
        "name": app_name,
        "version": "1.0.0",
        "protocol": "mcp-with-oauth",
        "status": "running",
        "auth_service": issuer,
        "services_url": "",
        "session_store": store
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_coerced_as_the_reference_does() {
        let args = json!({"a": ["x"], "b": ["x", "y", 3], "c": "z", "d": [], "e": 1});
        let out = coerce_arguments(args.as_object().unwrap());
        assert_eq!(
            Value::Object(out),
            json!({"a": "x", "b": "x y 3", "c": "z", "d": "", "e": 1})
        );
    }

    #[test]
    fn the_page_escapes_and_names_no_secret() {
        let r = page("<b>app</b>", Some("bad <script>alert(1)</script> & 'x'"));
        let body = String::from_utf8(r.body).unwrap();
        assert_eq!(r.status, 400);
        assert!(body.contains("bad &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#x27;x&#x27;"));
        assert!(!body.contains("<script>alert"));
        let ok = String::from_utf8(page("<b>app</b>", None).body).unwrap();
        assert!(ok.contains("signed in to &lt;b&gt;app&lt;/b&gt;"));
    }
}

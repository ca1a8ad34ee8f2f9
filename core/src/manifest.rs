//! Publishing the server's tool manifest to the AuthSec backend (reference §6):
//! `PUT {authorization_server}/authsec/resource-servers/{id}/sdk-manifest` with Basic auth and a
//! 30 s timeout. Tools come from a given inventory or from the host's MCP handler through a
//! callback, answered in JSON or SSE, paginated `tools/list` following `nextCursor` up to 100
//! pages. The handler is asked `server/discover` first: a server that lists `2026-07-28` in its
//! `supportedVersions` is enumerated the stateless way (every request with `MCP-Protocol-Version`,
//! `Mcp-Method` and the `_meta` protocol version, never a session); any other answer means a
//! legacy server, enumerated through the synthetic handshake (initialize,
//! notifications/initialized, `Mcp-Session-Id` carried). Publishing never blocks or fails
//! startup: the host gets a report or an error to log.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::audit::metrics::Endpoint;
use crate::backend::http::{Basic, HttpClient};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::request::revision::MODERN_REVISION;

/// Timeout of the manifest PUT.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// Safety cap on `tools/list` pages during the synthetic handshake.
pub const MAX_PAGES: usize = 100;

/// One JSON-RPC request the runtime asks the host's MCP handler to answer.
#[derive(Debug, Clone)]
pub struct RpcCall {
    /// Request headers (`content-type`, `accept`, and `mcp-session-id` once known).
    pub headers: Vec<(String, String)>,
    /// The JSON-RPC request body.
    pub body: Vec<u8>,
}

/// The handler's HTTP answer to an [`RpcCall`].
#[derive(Debug, Clone)]
pub struct RpcAnswer {
    /// HTTP status.
    pub status: u16,
    /// Response headers (`content-type`, `mcp-session-id`).
    pub headers: Vec<(String, String)>,
    /// Response body (JSON, or an SSE stream).
    pub body: Vec<u8>,
}

/// A host callback that answers JSON-RPC requests as its MCP endpoint would.
pub type RpcHandler = Arc<
    dyn Fn(RpcCall) -> BoxFuture<'static, std::result::Result<RpcAnswer, String>> + Send + Sync,
>;

/// Where the tool inventory comes from.
#[derive(Clone)]
pub enum ManifestSource {
    /// A list of MCP tool objects (`name`, `title`, `description`, `inputSchema`, `annotations`,
    /// `suggested_scopes`).
    Tools(Vec<Value>),
    /// Enumerate the tools through the host's handler.
    Handshake(RpcHandler),
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ManifestReport {
    /// Tools sent.
    pub tools_sent: usize,
    /// Tools the backend says it saw.
    pub tools_seen: Option<u64>,
    /// The backend's policy generation after the publish.
    pub generation: Option<i64>,
}

/// Build the `sdk-manifest` body: optional keys omitted when empty, `inputSchema` renamed to
/// `input_schema`, a tool's own `suggested_scopes` winning over `tool_scope_suggestions`.
pub fn build_payload(cfg: &Config, tools: &[Value]) -> Result<Value> {
    let mut out = Vec::with_capacity(tools.len());
    for t in tools {
        let obj = t
            .as_object()
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, "a tool must be a JSON object"))?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let name = text("name")
            .or_else(|| text("tool_id"))
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, "a tool has no name"))?;
        let mut m = Map::new();
        m.insert("name".into(), name.into());
        for k in ["title", "description"] {
            if let Some(v) = text(k) {
                m.insert(k.into(), v.into());
            }
        }
        let non_empty = |v: &&Value| !(v.is_null() || v.as_object().is_some_and(Map::is_empty));
        if let Some(s) = obj
            .get("inputSchema")
            .or_else(|| obj.get("input_schema"))
            .filter(non_empty)
        {
            m.insert("input_schema".into(), s.clone());
        }
        if let Some(a) = obj.get("annotations").filter(non_empty) {
            m.insert("annotations".into(), a.clone());
        }
        let own: Vec<String> = obj
            .get("suggested_scopes")
            .or_else(|| obj.get("scopes_required"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let scopes = if own.is_empty() {
            cfg.tool_scope_suggestions
                .get(name)
                .cloned()
                .unwrap_or_default()
        } else {
            own
        };
        if !scopes.is_empty() {
            m.insert("suggested_scopes".into(), json!(scopes));
        }
        out.push(Value::Object(m));
    }
    Ok(json!({ "tools": out }))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Read a JSON-RPC answer from a JSON body or from the `data:` events of an SSE stream, framed
/// by the core's one SSE framer (the event answering `id`, else the first JSON-RPC response).
fn read_answer(a: &RpcAnswer, id: i64) -> Option<Value> {
    if !crate::response::filter::is_sse(header(&a.headers, "content-type")) {
        return serde_json::from_slice(&a.body).ok();
    }
    let mut first = None;
    for event in crate::request::sse::events(&a.body) {
        let Some(data) = event.data() else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&data) else {
            continue;
        };
        if v.get("id").and_then(Value::as_i64) == Some(id) {
            return Some(v);
        }
        if first.is_none() && (v.get("result").is_some() || v.get("error").is_some()) {
            first = Some(v);
        }
    }
    first
}

/// The `_meta` every 2026-07-28 request carries.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN_REVISION,
        "io.modelcontextprotocol/clientInfo": {"name": "authsec-manifest-publisher", "version": "1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// Whether a `server/discover` answer comes from a server that speaks 2026-07-28.
fn speaks_modern(answer: &std::result::Result<RpcAnswer, String>) -> bool {
    let Ok(a) = answer else {
        return false;
    };
    if !(200..300).contains(&a.status) {
        return false;
    }
    read_answer(a, 0)
        .and_then(|v| {
            v.get("result")?
                .get("supportedVersions")?
                .as_array()
                .cloned()
        })
        .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(MODERN_REVISION)))
}

/// Enumerate tools through the host's handler: stateless when `server/discover` says the server
/// speaks 2026-07-28, otherwise through the legacy handshake.
pub async fn enumerate(handler: &RpcHandler) -> Result<Vec<Value>> {
    let base_headers = || {
        vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
        ]
    };
    let modern_call = |method: &str, mut body: Value| {
        let mut headers = base_headers();
        headers.push(("mcp-protocol-version".into(), MODERN_REVISION.into()));
        headers.push(("mcp-method".into(), method.to_string()));
        body["params"]["_meta"] = modern_meta();
        handler(RpcCall {
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        })
    };
    let discover = json!({"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}});
    if speaks_modern(&modern_call("server/discover", discover).await) {
        return list_pages(|params: Value, page: i64| {
            modern_call(
                "tools/list",
                json!({"jsonrpc": "2.0", "id": page, "method": "tools/list", "params": params}),
            )
        })
        .await;
    }
    let call = |body: Value, session: Option<String>| {
        let mut headers = base_headers();
        if let Some(s) = session {
            headers.push(("mcp-session-id".into(), s));
        }
        handler(RpcCall {
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        })
    };
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "authsec-manifest-publisher", "version": "1.0"}}});
    let session = match call(init, None).await {
        Ok(a) => header(&a.headers, "mcp-session-id").map(str::to_string),
        Err(_) => None,
    };
    let _ = call(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized", "params": {}}),
        session.clone(),
    )
    .await;
    list_pages(|params: Value, page: i64| {
        call(
            json!({"jsonrpc": "2.0", "id": page, "method": "tools/list", "params": params}),
            session.clone(),
        )
    })
    .await
}

/// Follow `nextCursor` through up to [`MAX_PAGES`] `tools/list` pages; `call(params, id)` sends
/// one page request.
async fn list_pages<F>(call: F) -> Result<Vec<Value>>
where
    F: Fn(Value, i64) -> BoxFuture<'static, std::result::Result<RpcAnswer, String>>,
{
    let fail = |m: String| Error::new(ErrorCode::InvalidInput, m);
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 1..=MAX_PAGES as i64 {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let answer = call(params, page)
            .await
            .map_err(|e| fail(format!("tools/list call failed: {e}")))?;
        if !(200..300).contains(&answer.status) {
            return Err(fail(format!("tools/list returned HTTP {}", answer.status)));
        }
        let v = read_answer(&answer, page)
            .ok_or_else(|| fail("parse tools/list response: no JSON-RPC answer".into()))?;
        if let Some(e) = v.get("error") {
            return Err(fail(format!(
                "tools/list returned JSON-RPC error {}: {}",
                e.get("code").cloned().unwrap_or(Value::Null),
                e.get("message").and_then(Value::as_str).unwrap_or("")
            )));
        }
        let result = v.get("result").cloned().unwrap_or(Value::Null);
        if let Some(list) = result.get("tools").and_then(Value::as_array) {
            tools.extend(list.iter().cloned());
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    Ok(tools)
}

/// Publish the manifest.
pub(crate) async fn publish(
    cfg: &Config,
    http: &HttpClient,
    source: ManifestSource,
) -> Result<ManifestReport> {
    if cfg.resource_server_id.trim().is_empty() {
        return Err(Error::config(
            "publish_manifest requires resource_server_id",
        ));
    }
    if cfg.introspection_client_id.trim().is_empty()
        || cfg.introspection_client_secret.expose().trim().is_empty()
    {
        return Err(Error::config(
            "publish_manifest requires introspection credentials (introspection_client_id + introspection_client_secret)",
        ));
    }
    let tools = match source {
        ManifestSource::Tools(t) => t,
        ManifestSource::Handshake(h) => enumerate(&h).await?,
    };
    if tools.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "manifest not sent: the tool list is empty (the backend rejects an empty manifest)",
        ));
    }
    let payload = build_payload(cfg, &tools)?;
    let base = if cfg.authorization_server.is_empty() {
        &cfg.issuer
    } else {
        &cfg.authorization_server
    };
    let url = format!(
        "{}/authsec/resource-servers/{}/sdk-manifest",
        base.trim_end_matches('/'),
        cfg.resource_server_id.trim()
    );
    let auth = Basic {
        user: &cfg.introspection_client_id,
        password: cfg.introspection_client_secret.expose(),
    };
    let (status, body) = http
        .put_json(
            Endpoint::Manifest,
            &url,
            serde_json::to_vec(&payload).unwrap_or_default(),
            auth,
            PUBLISH_TIMEOUT,
        )
        .await
        .map_err(|e| Error::new(ErrorCode::Backend, format!("manifest publish failed: {e}")))?;
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let snippet: String = text.chars().take(512).collect();
        return Err(Error::new(
            ErrorCode::Backend,
            format!("manifest publish returned HTTP {status}: {snippet}"),
        ));
    }
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(ManifestReport {
        tools_sent: tools.len(),
        tools_seen: answer.get("tools_seen").and_then(Value::as_u64),
        generation: answer.get("generation").and_then(Value::as_i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_shape_and_suggestion_precedence() {
        let mut cfg = Config::default();
        cfg.tool_scope_suggestions
            .insert("a".into(), vec!["cfg:a".into()]);
        cfg.tool_scope_suggestions
            .insert("b".into(), vec!["cfg:b".into()]);
        let p = build_payload(
            &cfg,
            &[
                json!({"name": "a", "description": "", "inputSchema": {"type": "object"}, "suggested_scopes": ["own:a"]}),
                json!({"name": "b", "title": "B", "annotations": {}, "input_schema": null}),
            ],
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            r#"{"tools":[{"name":"a","input_schema":{"type":"object"},"suggested_scopes":["own:a"]},{"name":"b","title":"B","suggested_scopes":["cfg:b"]}]}"#
        );
        assert!(build_payload(&cfg, &[json!({"title": "x"})]).is_err());
    }

    #[test]
    fn sse_answers_are_read() {
        let a = RpcAnswer {
            status: 200,
            headers: vec![("Content-Type".into(), "text/event-stream".into())],
            body: b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[]}}\n\n".to_vec(),
        };
        assert_eq!(read_answer(&a, 3).unwrap()["id"], 3);
        // The core's one framer: lone CR line ends and data split over lines are read too
        // (the former framer split on LF only and missed both).
        let a = RpcAnswer {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: b": ping\r\rdata: {\"jsonrpc\":\"2.0\",\rdata: \"id\":4,\"result\":{\"tools\":[]}}\r\r".to_vec(),
        };
        assert_eq!(read_answer(&a, 4).unwrap()["id"], 4);
    }
}

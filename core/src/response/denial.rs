//! Denials and every answer the runtime writes itself: the standard 401/403/503 JSON bodies with
//! their challenge, the in-band MCP answers (tool-result error, JSON-RPC error) with id echo and
//! friendly messages, and the 400/413 answers for malformed requests (reference §3.4-§3.8).

use serde_json::{json, Map, Value};

use crate::policy::resources::ItemKind;
use crate::policy::Refusal;
use crate::request::jsonrpc::{Body, Envelope, Id};
use crate::request::revision::Era;
use crate::response::challenge::ChallengeBuilder;
use crate::token::error::{AuthError, AuthErrorKind};
use crate::token::principal::Principal;
use crate::Response;

/// The four denial codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DenialKind {
    InvalidToken,
    InvalidAudience,
    InsufficientScope,
    PolicyUnavailable,
    /// A tool's RBAC requirement is not met: 403 `insufficient_scope`, no `scope` parameter.
    RbacDenied,
}

/// What a scope denial is about: the word in its texts and the body key naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Noun {
    Tool,
    Resource,
    Prompt,
}

impl Noun {
    fn key(self) -> &'static str {
        match self {
            Noun::Tool => "tool",
            Noun::Resource => "resource",
            Noun::Prompt => "prompt",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Noun::Tool => "Tool",
            Noun::Resource => "Resource",
            Noun::Prompt => "Prompt",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Noun::Tool => "called",
            Noun::Resource => "read",
            Noun::Prompt => "used",
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Denial {
    pub kind: DenialKind,
    pub description: String,
    pub required: Vec<String>,
    pub granted: Vec<String>,
    /// The denied tool (or resource URI, or prompt name: see `noun`).
    pub tool: String,
    pub noun: Noun,
    /// `tool` lists several denied calls of one batch (joined with `, `).
    pub many: bool,
    pub reason: Option<&'static str>,
    /// The SPIFFE ID of a workload caller refused by `tool_workloads`.
    pub workload: Option<String>,
}

impl Denial {
    pub(crate) fn from_auth(e: AuthError) -> Denial {
        let (kind, reason) = match e.kind {
            AuthErrorKind::InvalidToken => (DenialKind::InvalidToken, Some(e.reason.as_str())),
            AuthErrorKind::InvalidAudience => (DenialKind::InvalidAudience, None),
        };
        Denial {
            kind,
            description: e.description,
            required: Vec::new(),
            granted: Vec::new(),
            tool: String::new(),
            noun: Noun::Tool,
            many: false,
            reason,
            workload: None,
        }
    }

    /// The denial a policy refusal becomes (reference §3.5-§3.6 bodies and challenges).
    pub(crate) fn from_refusal(r: Refusal, principal: &Principal) -> Denial {
        match r {
            Refusal::Unmapped { tool } if principal.spiffe_id.is_some() => {
                let id = principal.spiffe_id.clone().unwrap_or_default();
                Denial {
                    kind: DenialKind::InsufficientScope,
                    description: format!(
                        "Tool '{tool}' may not be called by workload {id}: tool_workloads does not list it for this tool."
                    ),
                    required: Vec::new(),
                    granted: Vec::new(),
                    tool,
                    noun: Noun::Tool,
                    many: false,
                    reason: None,
                    workload: Some(id),
                }
            }
            Refusal::Unmapped { tool } => {
                let required = vec![format!("<no scope mapping for tool '{tool}'>")];
                Denial::insufficient_scope(&tool, required, principal.scopes.clone())
            }
            Refusal::MissingScope {
                tool,
                required,
                granted,
            } => Denial::insufficient_scope(&tool, required, granted),
            Refusal::Unavailable(d) => Denial::policy_unavailable(d),
            Refusal::Rbac { tool, reason } => Denial {
                kind: DenialKind::RbacDenied,
                description: format!("RBAC denied: {reason}"),
                required: Vec::new(),
                granted: Vec::new(),
                tool,
                noun: Noun::Tool,
                many: false,
                reason: None,
                workload: None,
            },
            Refusal::Item(i) => {
                let noun = match i.kind {
                    ItemKind::Resource => Noun::Resource,
                    ItemKind::Prompt => Noun::Prompt,
                };
                let required = i.required.unwrap_or_else(|| {
                    vec![format!(
                        "<no scope mapping for {} '{}'>",
                        noun.key(),
                        i.name
                    )]
                });
                let mut d = Denial::insufficient_scope(&i.name, required, i.granted);
                d.noun = noun;
                d.description = scope_message_for(noun, &i.name, &d.required, &d.granted);
                d
            }
        }
    }

    /// The one denial for every refused call of a request (SEP-835: one challenge names all
    /// the scopes the denied operation needs; for a batch, those of every denied call, in
    /// order, each once). Scopes the caller already holds are not repeated (SEP-2350: the
    /// client accumulates them). One refusal gives exactly [`Denial::from_refusal`]'s denial.
    pub(crate) fn from_refusals(refusals: Vec<Refusal>, principal: &Principal) -> Denial {
        let mut refusals = refusals.into_iter();
        let Some(first) = refusals.next() else {
            return Denial::policy_unavailable("no refusal".into());
        };
        let mut d = Denial::from_refusal(first, principal);
        let mut tools = vec![d.tool.clone()];
        for r in refusals {
            let more = Denial::from_refusal(r, principal);
            if more.kind != DenialKind::InsufficientScope {
                return more;
            }
            if !tools.contains(&more.tool) {
                tools.push(more.tool);
            }
            for s in more.required {
                if !d.required.contains(&s) {
                    d.required.push(s);
                }
            }
        }
        d.required.retain(|s| !principal.has_scope(s));
        if tools.len() > 1 {
            d.description = scope_message_many(&tools, &d.required, &d.granted);
            d.tool = tools.join(", ");
            d.many = true;
        }
        d
    }

    pub(crate) fn insufficient_scope(
        tool: &str,
        required: Vec<String>,
        granted: Vec<String>,
    ) -> Denial {
        Denial {
            kind: DenialKind::InsufficientScope,
            description: scope_message(tool, &required, &granted),
            required,
            granted,
            tool: tool.to_string(),
            noun: Noun::Tool,
            many: false,
            reason: None,
            workload: None,
        }
    }

    pub(crate) fn policy_unavailable(description: String) -> Denial {
        Denial {
            kind: DenialKind::PolicyUnavailable,
            description,
            required: Vec::new(),
            granted: Vec::new(),
            tool: String::new(),
            noun: Noun::Tool,
            many: false,
            reason: None,
            workload: None,
        }
    }

    pub(crate) fn status(&self) -> u16 {
        match self.kind {
            DenialKind::InvalidToken | DenialKind::InvalidAudience => 401,
            DenialKind::InsufficientScope | DenialKind::RbacDenied => 403,
            DenialKind::PolicyUnavailable => 503,
        }
    }

    pub(crate) fn error(&self) -> &'static str {
        match self.kind {
            DenialKind::InvalidToken => "invalid_token",
            DenialKind::InvalidAudience => "invalid_audience",
            DenialKind::InsufficientScope | DenialKind::RbacDenied => "insufficient_scope",
            DenialKind::PolicyUnavailable => "policy_unavailable",
        }
    }

    fn challenge(&self, c: &ChallengeBuilder) -> String {
        // `offline_access` asks for a refresh token; it is never a scope an operation needs
        // (MCP authorization: SHOULD NOT appear in a challenge's scope).
        let scope = if self.kind == DenialKind::InsufficientScope {
            self.required
                .iter()
                .filter(|s| s.as_str() != OFFLINE_ACCESS)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            String::new()
        };
        c.build(self.error(), &self.description, &scope)
    }
}

/// The OIDC scope asking for a refresh token, never advertised or challenged for.
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

/// The 403 description of a resource or prompt denial (the tool text of reference §3.4 with
/// its noun).
fn scope_message_for(noun: Noun, name: &str, required: &[String], granted: &[String]) -> String {
    if noun == Noun::Tool {
        return scope_message(name, required, granted);
    }
    let (title, key) = (noun.title(), noun.key());
    let req = required.join(", ");
    if granted.is_empty() {
        format!("{title} '{name}' requires scope: {req}. Your token does not include this scope. Ask an AuthSec admin to grant it, or use a {key} that fits your current scopes.")
    } else {
        format!("{title} '{name}' requires scope: {req}. Your token has: {}. Ask an AuthSec admin to grant the missing scope, or use a {key} that fits your current scopes.", granted.join(", "))
    }
}

/// The 403 description of reference §3.4.
fn scope_message(tool: &str, required: &[String], granted: &[String]) -> String {
    let req = if required.is_empty() {
        "(none discoverable)".to_string()
    } else {
        required.join(", ")
    };
    if granted.is_empty() {
        format!("Tool '{tool}' requires scope: {req}. Your token does not include this scope. Ask an AuthSec admin to grant it, or use a tool that fits your current scopes.")
    } else {
        format!("Tool '{tool}' requires scope: {req}. Your token has: {}. Ask an AuthSec admin to grant the missing scope, or use a tool that fits your current scopes.", granted.join(", "))
    }
}

/// The 403 description for several denied tools of one batch (same shape as
/// [`scope_message`], naming every tool).
fn scope_message_many(tools: &[String], required: &[String], granted: &[String]) -> String {
    let names: Vec<String> = tools.iter().map(|t| format!("'{t}'")).collect();
    let names = names.join(", ");
    let req = required.join(", ");
    if granted.is_empty() {
        format!("Tools {names} require scope: {req}. Your token does not include these scopes. Ask an AuthSec admin to grant them, or use tools that fit your current scopes.")
    } else {
        format!("Tools {names} require scope: {req}. Your token has: {}. Ask an AuthSec admin to grant the missing scopes, or use tools that fit your current scopes.", granted.join(", "))
    }
}

/// The human-readable text of an in-band answer (reference §3.6).
fn friendly_message(d: &Denial) -> String {
    if let Some(id) = &d.workload {
        return format!(
            "Tool '{}' cannot be called by workload {id}. Ask an admin to allow this workload for the tool (tool_workloads), or use a different tool.",
            d.tool
        );
    }
    if d.kind == DenialKind::RbacDenied {
        return format!(
            "Tool '{}' cannot be called by this user ({}). Ask an admin to grant the required role, group, resource, scope or permission, or use a different tool.",
            d.tool, d.description
        );
    }
    if d.status() == 403 {
        let mut parts = Vec::with_capacity(4);
        parts.push(if d.tool.is_empty() {
            "This action cannot be performed with this token.".to_string()
        } else if d.many {
            let names: Vec<String> = d.tool.split(", ").map(|t| format!("'{t}'")).collect();
            format!(
                "Tools {} cannot be called with this token.",
                names.join(", ")
            )
        } else {
            format!(
                "{} '{}' cannot be {} with this token.",
                d.noun.title(),
                d.tool,
                d.noun.verb()
            )
        });
        if !d.required.is_empty() {
            parts.push(format!("Required scope: {}.", d.required.join(", ")));
        }
        parts.push(if d.granted.is_empty() {
            "Your token does not include the required scope.".to_string()
        } else {
            format!("Your token has: {}.", d.granted.join(", "))
        });
        parts.push(format!(
            "Ask an admin to grant the required scope to your role, or use a different {}.",
            d.noun.key()
        ));
        return parts.join(" ");
    }
    match d.reason {
        Some("token_revoked") => {
            "Access has been revoked. The user needs to re-authenticate to get a new token.".into()
        }
        Some("client_registration_revoked") => "This client's registration has been revoked by an admin. Re-authentication will not help \u{2014} contact the workspace admin.".into(),
        _ => "Token is invalid or expired. The user needs to sign in again.".into(),
    }
}

fn list(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

pub(crate) fn json_response(
    status: u16,
    mut headers: Vec<(String, String)>,
    body: &Value,
) -> Response {
    headers.insert(0, ("content-type".into(), "application/json".into()));
    Response {
        status,
        headers,
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// Builds the runtime's answers; holds the runtime's challenge prefix.
#[derive(Debug, Clone)]
pub(crate) struct Responder {
    pub challenge: ChallengeBuilder,
}

impl Responder {
    /// The standard HTTP answer to a token-validation denial: present keys only when non-empty.
    pub(crate) fn auth_error(&self, d: &Denial) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), d.error().into());
        body.insert("error_description".into(), d.description.clone().into());
        if d.kind == DenialKind::PolicyUnavailable {
            return self.with_challenge(d, body);
        }
        if let Some(r) = d.reason {
            body.insert("reason".into(), r.into());
        }
        if !d.required.is_empty() {
            body.insert("required_scopes".into(), list(&d.required));
        }
        if !d.granted.is_empty() {
            body.insert("granted_scopes".into(), list(&d.granted));
        }
        if !d.tool.is_empty() {
            body.insert(d.noun.key().into(), d.tool.clone().into());
        }
        self.with_challenge(d, body)
    }

    /// The standard HTTP answer to a tool denial (403 with all five keys, or 503).
    pub(crate) fn tool_error(&self, d: &Denial) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), d.error().into());
        body.insert("error_description".into(), d.description.clone().into());
        if d.kind == DenialKind::InsufficientScope {
            body.insert(d.noun.key().into(), d.tool.clone().into());
            body.insert("required_scopes".into(), list(&d.required));
            body.insert("granted_scopes".into(), list(&d.granted));
        }
        if d.kind == DenialKind::RbacDenied {
            body.insert("tool".into(), d.tool.clone().into());
        }
        self.with_challenge(d, body)
    }

    fn with_challenge(&self, d: &Denial, body: Map<String, Value>) -> Response {
        json_response(
            d.status(),
            vec![("www-authenticate".into(), d.challenge(&self.challenge))],
            &Value::Object(body),
        )
    }

    /// HTTP 502 `bad_gateway`: the handler's answer had to be filtered and could not be read
    /// (fail closed: it is never forwarded unfiltered). `description` is one of the filter's fixed
    /// texts, never the handler's bytes.
    pub(crate) fn bad_gateway(&self, description: &str) -> Response {
        json_response(
            502,
            Vec::new(),
            &json!({"error": "bad_gateway", "error_description": description}),
        )
    }

    /// HTTP 200 with one tool-result error per request object (an array for a batch). To a
    /// 2026-07-28 client the result carries `"resultType": "complete"` first, which that
    /// revision requires of every result (its clients refuse a result without it).
    pub(crate) fn in_band_tool_error(&self, body: &Body, d: &Denial, era: Era) -> Response {
        let text = friendly_message(d);
        let mut meta = Map::new();
        meta.insert("error".into(), d.error().into());
        meta.insert("status".into(), d.status().into());
        meta.insert("error_description".into(), d.description.clone().into());
        if !d.required.is_empty() {
            meta.insert("required_scopes".into(), list(&d.required));
        }
        if !d.granted.is_empty() {
            meta.insert("granted_scopes".into(), list(&d.granted));
        }
        if !d.tool.is_empty() {
            meta.insert(d.noun.key().into(), d.tool.clone().into());
        }
        if let Some(r) = d.reason {
            meta.insert("reason".into(), r.into());
        }
        let one = |id: &Id| {
            let mut result = Map::new();
            if era == Era::Modern {
                result.insert("resultType".into(), "complete".into());
            }
            result.insert("content".into(), json!([{"type": "text", "text": text}]));
            result.insert("isError".into(), true.into());
            result.insert(
                "_meta".into(),
                json!({"authsec": Value::Object(meta.clone())}),
            );
            json!({"jsonrpc": "2.0", "id": id.to_value(), "result": Value::Object(result)})
        };
        json_response(200, Vec::new(), &per_request(body, one))
    }

    /// HTTP 200 with one JSON-RPC error per request object (an array for a batch).
    pub(crate) fn in_band_rpc_error(&self, body: &Body, d: &Denial) -> Response {
        let mut authsec = Map::new();
        authsec.insert("error".into(), d.error().into());
        authsec.insert("status".into(), d.status().into());
        authsec.insert("error_description".into(), d.description.clone().into());
        if !d.required.is_empty() {
            authsec.insert("required_scopes".into(), list(&d.required));
        }
        if !d.tool.is_empty() {
            authsec.insert(d.noun.key().into(), d.tool.clone().into());
        }
        let code = if d.status() == 403 { -32003 } else { -32001 };
        let message = friendly_message(d);
        let one = |id: &Id| {
            json!({"jsonrpc": "2.0", "id": id.to_value(), "error": {
                "code": code, "message": message,
                "data": {"authsec": Value::Object(authsec.clone())}}})
        };
        json_response(200, Vec::new(), &per_request(body, one))
    }

    /// 400 `invalid_request`.
    pub(crate) fn bad_request(&self, description: &str) -> Response {
        json_response(
            400,
            Vec::new(),
            &json!({"error": "invalid_request", "error_description": description}),
        )
    }

    /// 400 with the MCP JSON-RPC error -32020 (HeaderMismatch).
    pub(crate) fn header_mismatch(&self, body: &Body, detail: &str) -> Response {
        let id = match body {
            Body::Single(e) => e.id.to_value(),
            _ => Value::Null,
        };
        json_response(
            400,
            Vec::new(),
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32020, "message": format!("HeaderMismatch: {detail}")}}),
        )
    }

    /// 404 for a request with an `Mcp-Session-Id` another caller opened: what the transport
    /// answers for a session that does not exist, so the client starts a new one (MCP's
    /// `Session not found`, JSON-RPC -32001), and the id of a single request echoed.
    pub(crate) fn session_not_found(&self, body: &Body) -> Response {
        let id = match body {
            Body::Single(e) => e.id.to_value(),
            _ => Value::Null,
        };
        json_response(
            404,
            Vec::new(),
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": "Session not found",
                "data": {"authsec": {"error": "session_not_found", "status": 404,
                    "reason": "session_owner_mismatch",
                    "error_description": "this MCP session was opened by another caller; start a new session"}}}}),
        )
    }

    /// 413 for a body above `max_body_bytes`.
    pub(crate) fn too_large(&self, limit: u64) -> Response {
        json_response(
            413,
            Vec::new(),
            &json!({"error": "invalid_request", "error_description": format!("request body exceeds max_body_bytes ({limit})")}),
        )
    }
}

fn per_request(body: &Body, one: impl Fn(&Id) -> Value) -> Value {
    match body {
        Body::Batch(_) => Value::Array(body.envelopes().map(|e: &Envelope| one(&e.id)).collect()),
        Body::Single(e) => one(&e.id),
        Body::Empty => one(&Id::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &str) -> Principal {
        let claims = serde_json::json!({"sub": "u", "scope": scopes});
        Principal::from_claims(claims.as_object().unwrap().clone(), false)
    }

    fn missing(tool: &str, required: &[&str], p: &Principal) -> Refusal {
        Refusal::MissingScope {
            tool: tool.into(),
            required: required.iter().map(|s| s.to_string()).collect(),
            granted: p.scopes.clone(),
        }
    }

    #[test]
    fn one_denial_for_a_batch_without_granted_scopes() {
        let p = principal("b");
        let d = Denial::from_refusals(
            vec![
                missing("t1", &["a", "b"], &p),
                missing("t2", &["c", "a"], &p),
                missing("t1", &["d"], &p),
            ],
            &p,
        );
        assert_eq!(d.kind, DenialKind::InsufficientScope);
        assert_eq!(
            d.required,
            vec!["a", "c", "d"],
            "each once, in order, b is held"
        );
        assert_eq!(d.tool, "t1, t2");
        assert!(d
            .description
            .starts_with("Tools 't1', 't2' require scope: a, c, d."));
        let c = ChallengeBuilder::new("r", "https://x/m");
        assert!(d.challenge(&c).ends_with(", scope=\"a c d\""));
        // One refusal: exactly the single-call denial.
        let one = Denial::from_refusals(vec![missing("t1", &["a"], &p)], &p);
        assert_eq!(one, Denial::from_refusal(missing("t1", &["a"], &p), &p));
        // offline_access never reaches the challenge's scope.
        let off = Denial::from_refusals(vec![missing("t", &["offline_access", "w"], &p)], &p);
        assert!(off.challenge(&c).ends_with(", scope=\"w\""));
    }
}

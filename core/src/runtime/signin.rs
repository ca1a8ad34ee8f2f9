//! The runtime's side of sign-in (issue 19, docs/sign-in.md): which requests the sign-in
//! service answers, and how a signed-in session's principal enters the one decision pipeline.
//!
//! Only requests WITHOUT an `Authorization` header reach this code; a bearer caller is decided
//! as before. Here:
//! - `GET <callback path>`: the code exchange and the callback page;
//! - `GET /` (not an event stream): the reference's info document;
//! - `tools/call` of an `oauth_*` tool: answered by the core;
//! - `tools/call` of any other tool: the session named by `arguments.session_id` gives the
//!   principal, then the usual policy decides; no or a bad session: the in-band refusal;
//! - `tools/list` (and any other method): the session named by `params._meta.session_id`, else
//!   the one bound to the request's `Mcp-Session-Id` at `oauth_start`; without one, `tools/list`
//!   shows the five sign-in tools and other methods are refused in band;
//! - the handshake (`initialize`, `ping`, `notifications/initialized`, `server/discover`)
//!   passes to the handler.

use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::{Check, Decision, Note, Pending, Request, Runtime};
use crate::request::jsonrpc::{Body, ParseError};
use crate::request::revision::{self, Era};
use crate::response::denial::Denial;
use crate::session::answer;
use crate::session::flow::{Callback, Problem, SignIn};
use crate::token::error::{AuthError, Reason};

/// What a caller without a session is told (in band) when it calls a protected tool.
const SIGN_IN_FIRST: &str =
    "sign in first: call oauth_start, open its authorization_url, then pass its session_id";

impl Runtime {
    /// Sign-in: the validated principal of a signed-in session, for hosts that hold a session
    /// id (the C ABI, Go). `Ok(None)`: sign-in is off, or the id is malformed, unknown,
    /// expired, not signed in yet, or its token is refused (refreshed first when it can be);
    /// `Err` (`session_store_unavailable`): the store could not be read.
    pub async fn session_principal(
        &self,
        session_id: &str,
    ) -> crate::error::Result<Option<std::sync::Arc<crate::token::principal::Principal>>> {
        let Some(signin) = &self.inner.signin else {
            return Ok(None);
        };
        match signin.principal(session_id, &self.inner.validator).await {
            Ok(p) => Ok(Some(p)),
            Err(Problem::Unavailable(m)) => Err(crate::error::Error::new(
                crate::error::ErrorCode::SessionStoreUnavailable,
                m,
            )),
            Err(_) => Ok(None),
        }
    }

    /// The callback route and the info route, answered before any token logic.
    pub(super) fn sign_in_route(
        &self,
        req: &Request<'_>,
        note: &mut Note,
        start: Instant,
    ) -> Option<Check> {
        let signin = self.inner.signin.clone()?;
        if !req.method.eq_ignore_ascii_case("GET") {
            return None;
        }
        let (path, query) = match req.path.split_once('?') {
            Some((p, q)) => (p, q.split('#').next().unwrap_or("")),
            None => (req.path.split('#').next().unwrap_or(""), ""),
        };
        if path == signin.config().callback_path() {
            note.reason = Some("sign_in");
            let this = self.clone();
            let query = query.to_string();
            let note = std::mem::take(note);
            return Some(self.pending(
                start,
                Box::pin(async move {
                    let app = &signin.config().app_name;
                    let page = match signin.callback(&query, &this.inner.validator).await {
                        Callback::Success => answer::page(app, None),
                        Callback::Failure(m) => answer::page(app, Some(&m)),
                    };
                    (Decision::Respond(page), note)
                }),
            ));
        }
        let streams = req
            .headers_named("accept")
            .any(|a| a.to_ascii_lowercase().contains("text/event-stream"));
        if path == "/" && !streams && req.headers_named("authorization").next().is_none() {
            note.reason = Some("sign_in");
            return Some(Check::Ready(Decision::Respond(answer::info(
                &signin.config().app_name,
                &self.inner.sign_in_issuer,
                signin.store_kind(),
            ))));
        }
        None
    }

    /// A request without an `Authorization` header when sign-in is on; `None`: decide it as
    /// before (the `401` challenge).
    pub(super) fn sign_in_request(
        &self,
        req: &Request<'_>,
        era: Era,
        body: &std::result::Result<Body, ParseError>,
        note: &mut Note,
        start: Instant,
    ) -> Option<Check> {
        let signin = self.inner.signin.clone()?;
        let Ok(body) = body else {
            return None;
        };
        let Body::Single(env) = body else {
            // Batches, empty bodies and non-POST requests need a bearer token.
            return None;
        };
        if !env.jsonrpc {
            return None;
        }
        if revision::all_discovery(era, body) {
            return Some(Check::Ready(Decision::PassThrough));
        }
        // The strict reader refused duplicate and case-folded keys, so this plain reading sees
        // the same members.
        let doc: Value = serde_json::from_slice(req.body).ok()?;
        let params = doc.get("params").and_then(Value::as_object);
        let mcp_session = req
            .headers_named("mcp-session-id")
            .next()
            .map(str::to_string);
        let env = env.clone();
        let body = body.clone();
        let this = self.clone();
        let mut note = std::mem::take(note);
        if env.is("tools/call") {
            let name = env.name.clone().unwrap_or_default();
            let args = params
                .and_then(|p| p.get("arguments"))
                .and_then(Value::as_object)
                .map(answer::coerce_arguments)
                .unwrap_or_default();
            if answer::is_sign_in_tool(&name) {
                note.reason = Some("sign_in");
                return Some(self.pending(
                    start,
                    Box::pin(async move {
                        let doc = this
                            .oauth_tool(&signin, &name, &args, mcp_session.as_deref())
                            .await;
                        (
                            Decision::Respond(answer::tool_result(&env.id, era, &doc)),
                            note,
                        )
                    }),
                ));
            }
            let session = args
                .get("session_id")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Some(self.pending(
                start,
                Box::pin(async move {
                    let d = this
                        .with_session(&signin, session, era, body, &mut note)
                        .await;
                    (d, note)
                }),
            ));
        }
        let session = params
            .and_then(|p| p.get("_meta"))
            .and_then(Value::as_object)
            .and_then(|m| m.get("session_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let listing = env.is("tools/list");
        Some(self.pending(
            start,
            Box::pin(async move {
                let session = match (session, &mcp_session) {
                    (Some(s), _) => Some(s),
                    (None, Some(m)) => signin.session_of_mcp(m).await,
                    (None, None) => None,
                };
                if listing && session.is_none() {
                    note.reason = Some("sign_in");
                    return (
                        Decision::Respond(answer::signed_out_list(&env.id, era)),
                        note,
                    );
                }
                let d = this
                    .with_session(&signin, session, era, body, &mut note)
                    .await;
                let d = match d {
                    // A list for an unusable session shows the sign-in tools again.
                    Decision::Respond(_) if listing => {
                        Decision::Respond(answer::signed_out_list(&env.id, era))
                    }
                    other => other,
                };
                (d, note)
            }),
        ))
    }

    /// A sign-in decision that needs I/O, observed (metrics, audit) when it completes.
    fn pending(&self, start: Instant, fut: BoxFuture<'static, (Decision, Note)>) -> Check {
        let this = self.clone();
        Check::Pending(Pending(Box::pin(
            async move {
                let (d, note) = fut.await;
                this.observe(note, &d, start);
                d
            }
            .in_current_span(),
        )))
    }

    /// Decide `body` for the principal of `session` (the in-band refusal when there is none).
    async fn with_session(
        &self,
        signin: &SignIn,
        session: Option<String>,
        era: Era,
        body: Body,
        note: &mut Note,
    ) -> Decision {
        let refusal = |d: &str| Denial::from_auth(AuthError::with_reason(Reason::NoToken, d));
        let Some(session) = session else {
            return self.deny_auth(true, era, &Ok(body), refusal(SIGN_IN_FIRST), note);
        };
        match signin.principal(&session, &self.inner.validator).await {
            Ok(p) => self.authorize_request(p, era, Ok(body), note),
            Err(Problem::Token(e)) => {
                self.deny_auth(true, era, &Ok(body), Denial::from_auth(e), note)
            }
            Err(Problem::Unavailable(_)) => {
                let e = AuthError::with_reason(
                    Reason::InvalidToken,
                    "the sign-in session could not be read",
                );
                self.deny_auth(true, era, &Ok(body), Denial::from_auth(e), note)
            }
            Err(Problem::InvalidSession | Problem::NotSignedIn) => self.deny_auth(
                true,
                era,
                &Ok(body),
                refusal(
                    "the sign-in session is unknown, expired or not signed in; call oauth_start",
                ),
                note,
            ),
        }
    }

    /// One `oauth_*` tool's answer document.
    async fn oauth_tool(
        &self,
        signin: &SignIn,
        name: &str,
        args: &Map<String, Value>,
        mcp_session: Option<&str>,
    ) -> Value {
        let text = |k: &str| {
            args.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let session = text("session_id");
        let validator = &self.inner.validator;
        if name != "oauth_start" && session.is_empty() {
            return answer::error_doc("invalid_arguments", "session_id is required");
        }
        let result = match name {
            "oauth_start" => {
                let return_url = text("return_url");
                return match signin.start(mcp_session, Some(&return_url)).await {
                    Ok(s) => json!({
                        "session_id": s.session_id,
                        "authorization_url": s.authorization_url,
                        "expires_in": s.expires_in,
                        "message": "Open authorization_url in a browser and sign in; then pass session_id to the tools."
                    }),
                    Err(e) => answer::error_doc("authorization_server_unavailable", e.message()),
                };
            }
            "oauth_authenticate" => {
                let token = text("jwt_token");
                if token.is_empty() {
                    return answer::error_doc("invalid_arguments", "jwt_token is required");
                }
                signin
                    .authenticate(&session, &token, validator)
                    .await
                    .map(|p| {
                        json!({
                            "authenticated": true,
                            "session_id": session,
                            "user_info": self.user_info(&p).to_json(),
                        })
                    })
            }
            "oauth_status" => signin.status(&session, validator).await.map(|s| {
                json!({
                    "session_id": session,
                    "authenticated": s.authenticated,
                    "status": if s.authenticated { "authenticated" } else { "pending" },
                    "expires_in": s.expires_in,
                    "user_id": s.principal.as_ref().map(|p| p.subject.clone()),
                })
            }),
            "oauth_logout" => signin.logout(&session).await.map(
                |revoked| json!({"session_id": session, "logged_out": true, "revoked": revoked}),
            ),
            _ => signin
                .user_info(&session, validator)
                .await
                .map(|(p, claims)| {
                    let mut doc = json!({
                        "session_id": session,
                        "user_info": self.user_info(&p).to_json(),
                    });
                    if !claims.is_empty() {
                        doc["userinfo"] = Value::Object(claims);
                    }
                    doc
                }),
        };
        result.unwrap_or_else(|p| problem_doc(&p))
    }
}

/// The error document of a session problem; none echoes the caller's session id.
fn problem_doc(p: &Problem) -> Value {
    match p {
        Problem::InvalidSession => answer::error_doc(
            "invalid_session",
            "No sign-in session matches this session_id (unknown or expired); call oauth_start.",
        ),
        Problem::NotSignedIn => answer::error_doc(
            "not_authenticated",
            "This session is not signed in yet: open the authorization_url from oauth_start.",
        ),
        Problem::Token(e) => json!({
            "error": e.reason.as_str(),
            "message": e.description,
        }),
        Problem::Unavailable(m) => answer::error_doc("unavailable", m),
    }
}

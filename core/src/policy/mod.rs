//! What a principal may do. The seam is [`decide`]: an [`Action`] (call a tool, read a
//! resource, get a prompt, see a list entry) for a [`Principal`] (its scopes, and its claims for
//! rules that need more) under the [`PolicyView`] a [`PolicySource`] serves, giving `Ok` or a
//! typed [`Refusal`]. The decision is data; the response layer turns a refusal into the 403/503
//! body and challenge. Sources: open, local maps (here) and the AuthSec backend's remote policy
//! (`remote`), all answering from memory. Rules today are tool -> scopes (public / scoped
//! any-of / absent = denied); resources and prompts are not gated (as in the reference) until
//! a rule source for them exists.

pub(crate) mod catalogue;
pub(crate) mod rbac;
pub(crate) mod refresh;
pub(crate) mod remote;
pub(crate) mod resources;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::ToolScopes;
use crate::token::principal::Principal;

/// Tool name -> required scopes (any-of). An empty list marks a public tool.
pub type ToolMap = HashMap<String, Vec<String>>;

/// The policy as it stands for one decision.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PolicyView {
    /// No policy: every tool is allowed to any valid token, and `tools/list` is not filtered.
    Open,
    /// A map; tools absent from it are denied.
    Map(Arc<ToolMap>),
    /// No usable policy: tool decisions are 503 `policy_unavailable` with this description.
    Unavailable(String),
    /// A base view with the RBAC gate in front (`rbac`): the base decides first, then RBAC.
    Rbac(Arc<rbac::RbacView>),
}

/// Where the policy comes from. Implementations must answer from memory (no I/O): a remote
/// source serves its cache and refreshes in the background.
pub trait PolicySource: Send + Sync + 'static {
    /// The policy to decide with now.
    fn current(&self) -> PolicyView;

    /// The authoritative `scopes_supported` for the metadata document, when the source has one.
    fn scopes_supported(&self) -> Option<Vec<String>> {
        None
    }
}

/// Policy mode `open`.
#[derive(Debug, Default)]
pub struct OpenPolicy;

impl PolicySource for OpenPolicy {
    fn current(&self) -> PolicyView {
        PolicyView::Open
    }
}

/// Policy mode `local_only`: the configured `tool_scopes` (an empty map denies every tool).
#[derive(Debug)]
pub struct LocalPolicy {
    map: Arc<ToolMap>,
}

impl LocalPolicy {
    /// A policy from a tool -> scopes map.
    pub fn new(scopes: &ToolScopes) -> Self {
        LocalPolicy {
            map: Arc::new(scopes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }
    }
}

impl LocalPolicy {
    /// The map.
    pub fn map(&self) -> Arc<ToolMap> {
        self.map.clone()
    }
}

impl PolicySource for LocalPolicy {
    fn current(&self) -> PolicyView {
        PolicyView::Map(self.map.clone())
    }
}

/// What the map says about one tool.
#[derive(Debug, PartialEq, Eq)]
pub enum ToolRule<'a> {
    /// Any valid token may call it.
    Public,
    /// Not in the map: denied.
    Absent,
    /// Any one of these scopes is needed.
    Scoped(&'a [String]),
}

/// Look a tool up (the name is trimmed first).
pub fn lookup_tool<'a>(map: &'a ToolMap, name: &str) -> ToolRule<'a> {
    match map.get(name.trim()) {
        None => ToolRule::Absent,
        Some(s) if s.is_empty() => ToolRule::Public,
        Some(s) => ToolRule::Scoped(s),
    }
}

/// What a request wants to do, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action<'a> {
    /// `tools/call` of this tool (also: may this tool appear in the caller's `tools/list`).
    CallTool(&'a str),
    /// `resources/read` of this URI (not gated by today's rule sources).
    ReadResource(&'a str),
    /// `prompts/get` of this prompt (not gated by today's rule sources).
    GetPrompt(&'a str),
}

/// Why the policy refused an action: decision data, presented by the response layer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The tool is not in the policy (deny by default).
    Unmapped {
        /// The tool (trimmed).
        tool: String,
    },
    /// The tool needs one of `required`; the principal holds `granted`.
    MissingScope {
        /// The tool (trimmed).
        tool: String,
        /// Any one of these would do.
        required: Vec<String>,
        /// What the token carries.
        granted: Vec<String>,
    },
    /// No usable policy (503 `policy_unavailable`), with the reason.
    Unavailable(String),
    /// The tool's RBAC requirement is not met (reference §9 reason text).
    Rbac {
        /// The tool (trimmed).
        tool: String,
        /// `missing required <categories>` or `no RBAC requirement satisfied`.
        reason: String,
    },
    /// A local resource or prompt rule refused it (see `resources`).
    Item(resources::ItemRefusal),
}

/// Decide whether `principal` may perform `action` under `view`.
pub(crate) fn decide(
    view: &PolicyView,
    principal: &Principal,
    action: Action<'_>,
) -> Result<(), Refusal> {
    if let PolicyView::Rbac(r) = view {
        decide(&r.base, principal, action)?;
        return r.gate.decide(principal, action);
    }
    let tool = match action {
        Action::CallTool(tool) => tool.trim(),
        Action::ReadResource(_) | Action::GetPrompt(_) => return Ok(()),
    };
    let map = match view {
        PolicyView::Open => return Ok(()),
        PolicyView::Unavailable(d) => return Err(Refusal::Unavailable(d.clone())),
        PolicyView::Map(m) => m,
        PolicyView::Rbac(_) => return Err(Refusal::Unavailable("policy view nesting".into())),
    };
    match lookup_tool(map, tool) {
        ToolRule::Public => Ok(()),
        ToolRule::Absent => Err(Refusal::Unmapped {
            tool: tool.to_string(),
        }),
        ToolRule::Scoped(required) if principal.has_any_scope(required) => Ok(()),
        ToolRule::Scoped(required) => Err(Refusal::MissingScope {
            tool: tool.to_string(),
            required: required.to_vec(),
            granted: principal.scopes.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ToolMap {
        [
            ("read".to_string(), vec!["r".to_string(), "w".to_string()]),
            ("pub".to_string(), vec![]),
        ]
        .into()
    }

    fn principal(scopes: &[&str]) -> Principal {
        let claims = serde_json::json!({"sub": "u", "scope": scopes.join(" ")});
        Principal::from_claims(claims.as_object().unwrap().clone(), false)
    }

    #[test]
    fn decide_tools_and_ungated_actions() {
        let view = PolicyView::Map(Arc::new(map()));
        let reader = principal(&["r"]);
        assert_eq!(decide(&view, &reader, Action::CallTool(" read ")), Ok(()));
        assert_eq!(
            decide(&view, &principal(&[]), Action::CallTool("pub")),
            Ok(())
        );
        assert_eq!(
            decide(&view, &principal(&["x"]), Action::CallTool("read")),
            Err(Refusal::MissingScope {
                tool: "read".into(),
                required: vec!["r".into(), "w".into()],
                granted: vec!["x".into()],
            })
        );
        assert_eq!(
            decide(&view, &reader, Action::CallTool("nope")),
            Err(Refusal::Unmapped {
                tool: "nope".into()
            })
        );
        let down = PolicyView::Unavailable("down".into());
        assert_eq!(
            decide(&down, &reader, Action::CallTool("read")),
            Err(Refusal::Unavailable("down".into()))
        );
        // Resources and prompts have no rule source yet: not gated, even when the policy is down.
        assert_eq!(
            decide(&down, &reader, Action::ReadResource("file:///x")),
            Ok(())
        );
        assert_eq!(decide(&down, &reader, Action::GetPrompt("p")), Ok(()));
        assert_eq!(
            decide(&PolicyView::Open, &reader, Action::CallTool("nope")),
            Ok(())
        );
    }

    #[test]
    fn lookup() {
        let m = map();
        assert_eq!(lookup_tool(&m, "pub"), ToolRule::Public);
        assert_eq!(lookup_tool(&m, " read "), ToolRule::Scoped(&m["read"]));
        assert_eq!(lookup_tool(&m, "nope"), ToolRule::Absent);
        assert_eq!(lookup_tool(&ToolMap::new(), "pub"), ToolRule::Absent);
    }
}

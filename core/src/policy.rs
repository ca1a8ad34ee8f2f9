//! Tool -> scope policy: the [`PolicySource`] seam (local maps here; the AuthSec backend's remote
//! policy plugs in behind the same trait), lookup semantics (public / scoped any-of / absent =
//! denied), and per-tool authorization of a principal.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::ToolScopes;
use crate::denial::Denial;
use crate::principal::Principal;

/// Tool name -> required scopes (any-of). An empty list marks a public tool.
pub type ToolMap = HashMap<String, Vec<String>>;

/// The policy as it stands for one decision.
#[derive(Debug, Clone)]
pub enum PolicyView {
    /// No policy: every tool is allowed to any valid token, and `tools/list` is not filtered.
    Open,
    /// A map; tools absent from it are denied.
    Map(Arc<ToolMap>),
    /// No usable policy: tool decisions are 503 `policy_unavailable` with this description.
    Unavailable(String),
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

/// Decide whether `principal` may call `tool` under `view`.
pub(crate) fn authorize(
    view: &PolicyView,
    principal: &Principal,
    tool: &str,
) -> Result<(), Denial> {
    let map = match view {
        PolicyView::Open => return Ok(()),
        PolicyView::Unavailable(d) => return Err(Denial::policy_unavailable(d.clone())),
        PolicyView::Map(m) => m,
    };
    let tool = tool.trim();
    match lookup_tool(map, tool) {
        ToolRule::Public => Ok(()),
        ToolRule::Absent => Err(Denial::insufficient_scope(
            tool,
            vec![format!("<no scope mapping for tool '{tool}'>")],
            principal.scopes.clone(),
        )),
        ToolRule::Scoped(required) if principal.has_any_scope(required) => Ok(()),
        ToolRule::Scoped(required) => Err(Denial::insufficient_scope(
            tool,
            required.to_vec(),
            principal.scopes.clone(),
        )),
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

    #[test]
    fn lookup() {
        let m = map();
        assert_eq!(lookup_tool(&m, "pub"), ToolRule::Public);
        assert_eq!(lookup_tool(&m, " read "), ToolRule::Scoped(&m["read"]));
        assert_eq!(lookup_tool(&m, "nope"), ToolRule::Absent);
        assert_eq!(lookup_tool(&ToolMap::new(), "pub"), ToolRule::Absent);
    }
}

//! Resources and prompts under the policy, and the lists the answer filter reads.
//!
//! `resources/read` and `prompts/get` are decided by local rules (the remote AuthSec policy has
//! tools only): `resource_scopes` maps URI patterns (`*` matches any run of characters) to
//! scopes, `prompt_scopes` prompt names to scopes (any-of; an empty list is public). A kind with
//! no rule is not gated (as before rules existed), unless
//! `deny_unlisted_resources_and_prompts` is on; once gated, a URI or name no rule names is
//! denied, like a tool absent from the tool map. Every pattern that matches a URI must be
//! satisfied (a more specific pattern adds a requirement, it never lifts one). `resources/list`,
//! `resources/templates/list` and `prompts/list` answers are filtered with the same rules.

use std::collections::BTreeMap;

use crate::config::{Config, ToolScopes};
use crate::policy::{Action, PolicyView, Refusal};
use crate::token::principal::Principal;

/// The list results the filter reads: the member of `result` holding the entries, and the
/// entry field the policy decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// `tools/list`: `result.tools[].name`, decided as a `tools/call` of that tool.
    Tools,
    /// `resources/list`: `result.resources[].uri`, decided as a `resources/read` of that URI.
    Resources,
    /// `resources/templates/list`: `result.resourceTemplates[].uriTemplate`, decided as a
    /// `resources/read` of the template text.
    ResourceTemplates,
    /// `prompts/list`: `result.prompts[].name`, decided as a `prompts/get` of that prompt.
    Prompts,
}

impl ListKind {
    pub(crate) const ALL: [ListKind; 4] = [
        ListKind::Tools,
        ListKind::Resources,
        ListKind::ResourceTemplates,
        ListKind::Prompts,
    ];

    pub(crate) fn member(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Resources => "resources",
            ListKind::ResourceTemplates => "resourceTemplates",
            ListKind::Prompts => "prompts",
        }
    }

    /// The request method whose answer carries this list.
    pub(crate) fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Resources => "resources/list",
            ListKind::ResourceTemplates => "resources/templates/list",
            ListKind::Prompts => "prompts/list",
        }
    }
}

/// Whether the answer filter reads lists of `kind` under `view`: tool lists under any policy
/// but `open`; resource and prompt lists when their kind is gated.
pub(crate) fn gates_list(view: &PolicyView, rules: &ItemRules, kind: ListKind) -> bool {
    if matches!(view, PolicyView::Open) {
        return false;
    }
    match kind {
        ListKind::Tools => true,
        ListKind::Resources | ListKind::ResourceTemplates => rules.gates(ItemKind::Resource),
        ListKind::Prompts => rules.gates(ItemKind::Prompt),
    }
}

/// What a resource or prompt refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `resources/read` of a URI (or a resource list entry).
    Resource,
    /// `prompts/get` of a prompt (or a prompt list entry).
    Prompt,
}

/// Why a resource or prompt rule refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRefusal {
    /// Resource or prompt.
    pub kind: ItemKind,
    /// The URI or prompt name.
    pub name: String,
    /// The scopes of the unsatisfied rule (any one would do); `None` when no rule names it.
    pub required: Option<Vec<String>>,
    /// What the token carries.
    pub granted: Vec<String>,
}

/// The local resource and prompt rules of one runtime.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemRules {
    resources: Vec<(String, Vec<String>)>,
    prompts: BTreeMap<String, Vec<String>>,
    deny_unlisted: bool,
}

impl ItemRules {
    pub(crate) fn new(cfg: &Config) -> ItemRules {
        let map = |m: &Option<ToolScopes>| -> Vec<(String, Vec<String>)> {
            m.iter()
                .flatten()
                .map(|(k, v)| (k.trim().to_string(), v.clone()))
                .collect()
        };
        ItemRules {
            resources: map(&cfg.resource_scopes),
            prompts: map(&cfg.prompt_scopes).into_iter().collect(),
            deny_unlisted: cfg.deny_unlisted_resources_and_prompts,
        }
    }

    /// Whether `kind` is gated: it has a rule, or unlisted ones are denied.
    pub(crate) fn gates(&self, kind: ItemKind) -> bool {
        self.deny_unlisted
            || match kind {
                ItemKind::Resource => !self.resources.is_empty(),
                ItemKind::Prompt => !self.prompts.is_empty(),
            }
    }

    /// Decide a `resources/read` or `prompts/get` (other actions are not this module's: `Ok`).
    /// The `open` policy mode allows everything, as it does for tools; a remote policy outage
    /// does not touch these local rules.
    pub(crate) fn decide(
        &self,
        view: &PolicyView,
        principal: &Principal,
        action: Action<'_>,
    ) -> Result<(), Refusal> {
        let (kind, name) = match action {
            Action::ReadResource(uri) => (ItemKind::Resource, uri),
            Action::GetPrompt(name) => (ItemKind::Prompt, name.trim()),
            _ => return Ok(()),
        };
        if matches!(view, PolicyView::Open) || !self.gates(kind) {
            return Ok(());
        }
        let refuse = |required: Option<&Vec<String>>| {
            Err(Refusal::Item(ItemRefusal {
                kind,
                name: name.to_string(),
                required: required.cloned(),
                granted: principal.scopes.clone(),
            }))
        };
        match kind {
            ItemKind::Prompt => match self.prompts.get(name) {
                None => refuse(None),
                Some(s) if principal.has_any_scope(s) => Ok(()),
                Some(s) => refuse(Some(s)),
            },
            ItemKind::Resource => {
                let mut matched = false;
                for (pattern, scopes) in &self.resources {
                    if !glob(pattern, name) {
                        continue;
                    }
                    matched = true;
                    if !principal.has_any_scope(scopes) {
                        return refuse(Some(scopes));
                    }
                }
                if matched {
                    Ok(())
                } else {
                    refuse(None)
                }
            }
        }
    }
}

/// `*` matches any run of characters (`/` included); every other character matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(glob("file:///*", "file:///a/b.txt"));
        assert!(glob("file:///docs/*.md", "file:///docs/a/b.md"));
        assert!(!glob("file:///docs/*.md", "file:///docs/a.txt"));
        assert!(glob("exact://x", "exact://x"));
        assert!(!glob("exact://x", "exact://xy"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }

    fn p(scopes: &str) -> Principal {
        let claims = serde_json::json!({"sub": "u", "scope": scopes});
        Principal::from_claims(claims.as_object().unwrap().clone(), false)
    }

    #[test]
    fn item_rules() {
        let cfg = Config::from_json(
            r#"{"resource_scopes": {"file:///*": ["files:read"], "file:///secret/*": ["secret:read"], "https://pub/*": []},
                "prompt_scopes": {"greet": [], "admin_prompt": ["admin"]}}"#,
        )
        .unwrap();
        let r = ItemRules::new(&cfg);
        let map = PolicyView::Map(Default::default());
        let ok = |s: &str, a| r.decide(&map, &p(s), a).is_ok();
        assert!(ok("files:read", Action::ReadResource("file:///a")));
        assert!(!ok("files:read", Action::ReadResource("file:///secret/k")));
        assert!(ok(
            "files:read secret:read",
            Action::ReadResource("file:///secret/k")
        ));
        assert!(ok("", Action::ReadResource("https://pub/x")));
        assert!(
            !ok("files:read", Action::ReadResource("s3://bucket/x")),
            "unlisted"
        );
        assert!(ok("", Action::GetPrompt(" greet ")));
        assert!(!ok("x", Action::GetPrompt("admin_prompt")));
        assert!(!ok("admin", Action::GetPrompt("other")));
        assert!(ok("", Action::CallTool("anything")), "not this module's");
        assert!(r
            .decide(&PolicyView::Open, &p(""), Action::GetPrompt("other"))
            .is_ok());
        // No rules: not gated, unless unlisted ones are denied.
        let none = ItemRules::new(&Config::default());
        assert!(none
            .decide(&map, &p(""), Action::ReadResource("file:///x"))
            .is_ok());
        let strict = ItemRules::new(
            &Config::from_json(r#"{"deny_unlisted_resources_and_prompts": true}"#).unwrap(),
        );
        assert!(strict
            .decide(&map, &p(""), Action::ReadResource("file:///x"))
            .is_err());
        assert!(strict.decide(&map, &p(""), Action::GetPrompt("p")).is_err());
    }
}

//! Resources and prompts under the policy, and the lists the answer filter reads.

use crate::policy::PolicyView;

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
/// but `open`; resource and prompt lists not yet (no rule source gates them).
pub(crate) fn gates_list(view: &PolicyView, kind: ListKind) -> bool {
    !matches!(view, PolicyView::Open) && kind == ListKind::Tools
}

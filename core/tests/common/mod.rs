//! Helpers shared by the integration tests that run against the fixture backend.

use serde_json::{json, Value};

/// A ready AuthSec scope matrix (the body of a `policy` reset or `/_control/policy`):
/// `list_issues` needs `issues:read`, `create_issue` needs `issues:write`, generation 3.
pub fn ready_policy() -> Value {
    json!({"status": 200, "body": {
    "state": "ready", "policy_complete": true, "generation": 3,
    "scopes_supported": ["issues:read", "issues:write"],
    "tool_policy": [
        {"name": "list_issues", "is_public": false, "required_scopes": ["issues:read"]},
        {"name": "create_issue", "is_public": false, "required_scopes": ["issues:write"]}
    ]}})
}

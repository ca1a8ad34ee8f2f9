//! The 100-tool `tools/list` answer that the criterion bench (`benches/check.rs`) times and
//! `examples/filter_list.rs` counts in instructions: one body, so the two figures describe the
//! same work. A third of the tools are `list_issues` (scope `issues:read`), a third
//! `create_issue` (`issues:write`), a third unknown names.

use serde_json::{json, Value};

/// The answer's bytes (13,243 of them).
pub fn body() -> Vec<u8> {
    let tools: Vec<Value> = (0..100)
        .map(|i| {
            let name = match i % 3 {
                0 => "list_issues".to_string(),
                1 => "create_issue".to_string(),
                _ => format!("tool_{i}"),
            };
            json!({"name": name, "description": "A tool of the benchmark.", "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}}})
        })
        .collect();
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}))
        .expect("a JSON value serializes")
}

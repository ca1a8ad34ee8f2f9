//! `WWW-Authenticate` challenges exactly as the reference's Python/TypeScript SDKs build them
//! (§3.10): attribute order realm, resource_metadata, error, error_description, scope; every
//! value sanitized to printable ASCII with `"` and `\` turned into `'`, capped at 200 characters.

use crate::text::sanitize;

/// The fixed start of every challenge of one runtime: `Bearer realm="..", resource_metadata=".."`.
#[derive(Debug, Clone)]
pub struct ChallengeBuilder {
    prefix: String,
}

impl ChallengeBuilder {
    /// `realm` is the resource name (an empty one becomes `AuthSec Protected Resource`).
    pub fn new(realm: &str, metadata_url: &str) -> Self {
        let realm = if realm.is_empty() {
            "AuthSec Protected Resource"
        } else {
            realm
        };
        ChallengeBuilder {
            prefix: format!(
                "Bearer realm=\"{}\", resource_metadata=\"{}\"",
                sanitize(realm),
                sanitize(metadata_url)
            ),
        }
    }

    /// The challenge with the optional attributes that are non-empty.
    pub fn build(&self, error: &str, description: &str, scope: &str) -> String {
        let mut out = self.prefix.clone();
        for (name, value) in [
            ("error", error),
            ("error_description", description),
            ("scope", scope),
        ] {
            if !value.is_empty() {
                out.push_str(", ");
                out.push_str(name);
                out.push_str("=\"");
                out.push_str(&sanitize(value));
                out.push('"');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizer_maps_controls_quotes_and_non_ascii() {
        assert_eq!(sanitize("a\r\nb\0c\u{7f}d"), "a  b c d");
        assert_eq!(sanitize("x\u{2014}y\u{a0}z"), "x y z");
        assert_eq!(sanitize(r#"needs "read" \ ok"#), "needs 'read' ' ok");
        assert_eq!(sanitize(&"d".repeat(250)).len(), 200);
        assert_eq!(sanitize("🔥").len(), 1);
    }

    #[test]
    fn header_order_and_contents() {
        let b = ChallengeBuilder::new(
            "Example MCP",
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        );
        assert_eq!(
            b.build("", "", ""),
            "Bearer realm=\"Example MCP\", resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        );
        let h = b.build("insufficient_scope", "needs \"read\"", "read");
        assert!(h.ends_with(
            ", error=\"insufficient_scope\", error_description=\"needs 'read'\", scope=\"read\""
        ));
        assert!(ChallengeBuilder::new("", "u")
            .build("", "", "")
            .starts_with("Bearer realm=\"AuthSec Protected Resource\""));
    }
}

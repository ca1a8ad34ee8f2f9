//! RFC 9728 protected-resource metadata: the path-inserted well-known location (the bare path
//! only for a root resource), the document's five keys, and its caching header. Everything is
//! derived from the configured resource URI, never from request headers.

use serde_json::json;

use crate::config::Config;
use crate::Response;

/// The well-known prefix.
pub const PREFIX: &str = "/.well-known/oauth-protected-resource";

/// Split `scheme://authority/path?q#f` without normalizing anything (the URL must be printed as
/// configured).
fn split(uri: &str) -> (&str, &str, &str) {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    (scheme, authority, &tail[..path_end])
}

/// The metadata path for a resource URI: `/.well-known/oauth-protected-resource/<path>`, or the
/// bare prefix for a root resource.
pub fn metadata_path(resource_uri: &str) -> String {
    let (_, _, path) = split(resource_uri);
    let path = path.trim().trim_matches('/');
    if path.is_empty() {
        PREFIX.to_string()
    } else {
        format!("{PREFIX}/{path}")
    }
}

/// The absolute metadata URL advertised in challenges.
pub fn metadata_url(resource_uri: &str) -> String {
    let (scheme, authority, _) = split(resource_uri);
    format!("{scheme}://{authority}")
        .trim_end_matches('/')
        .to_string()
        + &metadata_path(resource_uri)
}

/// True when `request_path` is the metadata path or that path plus `/`.
pub fn is_metadata_request(metadata_path: &str, request_path: &str) -> bool {
    request_path
        .strip_prefix(metadata_path)
        .is_some_and(|rest| rest.is_empty() || rest == "/")
}

/// The metadata document and its headers. `authoritative_scopes` (from remote policy) wins over
/// the configured `supported_scopes`, an empty list included.
pub fn document(cfg: &Config, authoritative_scopes: Option<Vec<String>>) -> Response {
    let mut scopes = authoritative_scopes.unwrap_or_else(|| cfg.supported_scopes.clone());
    // Not a scope of this resource (MCP authorization: SHOULD NOT be in scopes_supported).
    scopes.retain(|s| s != crate::response::denial::OFFLINE_ACCESS);
    let auth_server = if cfg.authorization_server.is_empty() {
        &cfg.issuer
    } else {
        &cfg.authorization_server
    };
    // Each additional trusted issuer is an authorization server of this resource too.
    let mut servers = vec![auth_server.as_str()];
    servers.extend(cfg.additional_issuers.iter().map(|i| i.issuer.trim()));
    let body = json!({
        "resource": cfg.resource_uri,
        "authorization_servers": servers,
        "resource_name": cfg.resource_name,
        "scopes_supported": scopes,
        "bearer_methods_supported": cfg.bearer_methods_supported,
    });
    Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "public, max-age=300".into()),
            // Public: a browser-based client on any origin may read it (RFC 9728 §3).
            ("access-control-allow-origin".into(), "*".into()),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls() {
        assert_eq!(metadata_path("https://x.com"), PREFIX);
        assert_eq!(metadata_path("https://x.com/"), PREFIX);
        assert_eq!(metadata_path("https://x.com/mcp"), format!("{PREFIX}/mcp"));
        assert_eq!(
            metadata_path("https://x.com/v1/mcp/"),
            format!("{PREFIX}/v1/mcp")
        );
        assert_eq!(
            metadata_path("https://x.com/mcp?x=1"),
            format!("{PREFIX}/mcp")
        );
        assert_eq!(
            metadata_url("https://x.com/mcp"),
            "https://x.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/mcp"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn matching() {
        let p = metadata_path("https://x.com/mcp");
        assert!(is_metadata_request(&p, &p));
        assert!(is_metadata_request(&p, &format!("{p}/")));
        assert!(!is_metadata_request(&p, PREFIX));
        assert!(!is_metadata_request(&p, &format!("{p}x")));
        let root = metadata_path("https://x.com");
        assert!(is_metadata_request(&root, PREFIX));
    }
}

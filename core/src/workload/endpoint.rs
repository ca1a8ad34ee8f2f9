//! Where the SPIFFE Workload API is: the socket a host names (`unix:///path`, a bare absolute
//! path, `tcp://ip:port`), or `SPIFFE_ENDPOINT_SOCKET` when it names none. Unlike the reference
//! SDK there is no built-in default (its `tcp://127.0.0.1:4000` is reachable by every local user
//! and cannot be attested by the agent): no socket means workload identity is disabled.

use crate::error::{Error, ErrorCode, Result};

/// The environment variable of the SPIFFE Workload API endpoint specification.
pub const ENDPOINT_ENV: &str = "SPIFFE_ENDPOINT_SOCKET";

/// Resolve the endpoint a host gave (blank or `env`: [`ENDPOINT_ENV`]) into the URI form the
/// Workload API client takes. A bare path must be absolute and becomes `unix://<path>`;
/// `unix:` and `tcp:` URIs pass unchanged (the client checks them). Blank with the variable
/// unset is [`ErrorCode::WorkloadNotConfigured`]; anything else unusable is `config_invalid`.
pub fn resolve_endpoint(given: &str) -> Result<String> {
    resolve_with(given, std::env::var(ENDPOINT_ENV).ok())
}

pub(crate) fn resolve_with(given: &str, env: Option<String>) -> Result<String> {
    let given = given.trim();
    let raw = if given.is_empty() || given == "env" {
        match env.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                return Err(Error::new(
                    ErrorCode::WorkloadNotConfigured,
                    format!("no Workload API socket given and {ENDPOINT_ENV} is not set"),
                ))
            }
        }
    } else {
        given.to_string()
    };
    if raw.starts_with("unix:") || raw.starts_with("tcp:") {
        return Ok(raw);
    }
    if raw.starts_with('/') {
        return Ok(format!("unix://{raw}"));
    }
    Err(Error::config(format!(
        "Workload API socket must be unix:///path, an absolute path or tcp://ip:port (got {})",
        crate::text::sanitize(&raw)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let none = || None::<String>;
        assert_eq!(
            resolve_with("/run/spire/agent.sock", none()).unwrap(),
            "unix:///run/spire/agent.sock"
        );
        assert_eq!(resolve_with("unix:///a", none()).unwrap(), "unix:///a");
        assert_eq!(
            resolve_with("tcp://127.0.0.1:4000", none()).unwrap(),
            "tcp://127.0.0.1:4000"
        );
        let e = resolve_with("", none()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::WorkloadNotConfigured);
        assert_eq!(
            e.message(),
            "no Workload API socket given and SPIFFE_ENDPOINT_SOCKET is not set"
        );
        assert_eq!(
            resolve_with("env", Some(" unix:///e ".into())).unwrap(),
            "unix:///e"
        );
        assert_eq!(resolve_with(" ", Some("/p".into())).unwrap(), "unix:///p");
        let e = resolve_with("relative/sock", none()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigInvalid);
    }
}

//! Typed errors of the public API, with stable code names and numbers.
//!
//! A request that is *denied* is not an error: it is a [`crate::Decision`]. These errors are for
//! calls that could not run (bad configuration, failed startup, bad input from the host).

use std::ffi::CStr;
use std::fmt;

/// Where a registered code can arise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeScope {
    /// Success (the C ABI's `AUTHSEC_STATUS_OK`).
    Ok,
    /// Returned by the core API (an [`ErrorCode`]) and by every binding.
    Core,
    /// Raised only by a binding's boundary (NULL or non-UTF-8 arguments, fork, threads, panics).
    Binding,
}

/// One row of the code registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeInfo {
    /// The stable number, grouped by hundreds: 0 ok, 1..99 usage, 100..199 input, 200..299
    /// configuration, 300..399 startup and backend, 900..999 internal. Never renumbered.
    pub number: u32,
    /// The stable snake_case name, NUL-terminated for the C ABI (`authsec_status_name`).
    pub c_name: &'static CStr,
    /// Where the code arises.
    pub scope: CodeScope,
    /// What it means, in one line (the generated constants' doc comments).
    pub summary: &'static str,
}

impl CodeInfo {
    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        // Every name is an ASCII literal (a unit test checks), so this never falls back.
        self.c_name.to_str().unwrap_or("internal")
    }
}

const fn code(
    number: u32,
    c_name: &'static CStr,
    scope: CodeScope,
    summary: &'static str,
) -> CodeInfo {
    CodeInfo {
        number,
        c_name,
        scope,
        summary,
    }
}

/// The one registry of stable codes. The core's [`ErrorCode`], the C ABI's `authsec_status`
/// (and so `include/authsec.h`), and every binding's constants come from or are checked
/// against this table; `include/authsec_codes.json` is its export for code generators
/// (drift-checked by `cargo test -p authsec-core --test codes`).
pub const CODES: &[CodeInfo] = &[
    code(0, c"ok", CodeScope::Ok, "The call ran."),
    code(
        1,
        c"null_parameter",
        CodeScope::Binding,
        "A required pointer argument was NULL.",
    ),
    code(
        2,
        c"invalid_utf8",
        CodeScope::Binding,
        "A text argument was not valid UTF-8.",
    ),
    code(
        3,
        c"invalid_argument",
        CodeScope::Binding,
        "An argument was out of range or not usable here.",
    ),
    code(
        4,
        c"forked_process",
        CodeScope::Binding,
        "Called in a forked child; create runtimes after fork.",
    ),
    code(
        5,
        c"wrong_thread_context",
        CodeScope::Binding,
        "A blocking call was made from a thread that runs a tokio runtime.",
    ),
    code(
        6,
        c"runtime_unavailable",
        CodeScope::Binding,
        "The library's hidden runtime could not be started or was shut down.",
    ),
    code(
        7,
        c"would_block",
        CodeScope::Binding,
        "The decision needs I/O (a key fetch or an introspection): ask again where the call may block.",
    ),
    code(
        100,
        c"invalid_input",
        CodeScope::Core,
        "The host passed input the API cannot use.",
    ),
    code(
        200,
        c"config_invalid",
        CodeScope::Core,
        "The configuration is invalid.",
    ),
    code(
        240,
        c"workload_not_configured",
        CodeScope::Core,
        "No SPIFFE Workload API socket was given and SPIFFE_ENDPOINT_SOCKET is not set (workload identity disabled).",
    ),
    code(
        300,
        c"startup_failed",
        CodeScope::Core,
        "Startup failed in a way the policy mode declares fatal.",
    ),
    code(
        301,
        c"backend_error",
        CodeScope::Core,
        "A call to the authorization server or the AuthSec backend failed.",
    ),
    code(
        340,
        c"workload_api_unavailable",
        CodeScope::Core,
        "The SPIFFE Workload API could not be reached, refused the workload, or sent no SVID in time.",
    ),
    code(
        341,
        c"svid_expired",
        CodeScope::Core,
        "The last X.509-SVID has expired and the Workload API has not sent a new one.",
    ),
    code(
        350,
        c"session_store_unavailable",
        CodeScope::Core,
        "The sign-in session store could not be read or written (the sign-in tools answer with an error; no session is trusted).",
    ),
    code(
        360,
        c"services_error",
        CodeScope::Core,
        "A call to the AuthSec services API (service credentials) failed, was refused, or answered something unusable.",
    ),
    code(
        900,
        c"internal",
        CodeScope::Core,
        "An internal invariant did not hold; treat as a denial.",
    ),
    code(
        901,
        c"panic",
        CodeScope::Binding,
        "A panic was caught at a binding boundary; treat as a denial and report the bug.",
    ),
];

/// The registry row for a number.
pub fn code_info(number: u32) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.number == number)
}

/// Stable error codes of the core API: the [`CodeScope::Core`] rows of [`CODES`], each
/// variant's discriminant its registered number. New codes get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The host passed input the API cannot use (for example a tools list that is not JSON).
    InvalidInput = 100,
    /// The configuration is invalid (parse error, unknown field, or a validation rule).
    ConfigInvalid = 200,
    /// Workload identity is disabled: no Workload API socket given or in the environment.
    WorkloadNotConfigured = 240,
    /// `startup` failed in a way the policy mode declares fatal.
    StartupFailed = 300,
    /// A call to the authorization server or the AuthSec backend failed.
    Backend = 301,
    /// The SPIFFE Workload API could not be reached, refused the workload, or sent no SVID in
    /// time.
    WorkloadApiUnavailable = 340,
    /// The last X.509-SVID has expired and no new one arrived.
    SvidExpired = 341,
    /// The sign-in session store (memory or Redis) could not be read or written.
    SessionStoreUnavailable = 350,
    /// The AuthSec services API (service credentials) failed, refused, or answered something
    /// unusable.
    Services = 360,
    /// A bug: an invariant did not hold. Treat as a denial.
    Internal = 900,
}

impl ErrorCode {
    /// Every core code.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidInput,
        ErrorCode::ConfigInvalid,
        ErrorCode::WorkloadNotConfigured,
        ErrorCode::StartupFailed,
        ErrorCode::Backend,
        ErrorCode::WorkloadApiUnavailable,
        ErrorCode::SvidExpired,
        ErrorCode::SessionStoreUnavailable,
        ErrorCode::Services,
        ErrorCode::Internal,
    ];

    /// The stable snake_case name (used across bindings and in conformance vectors).
    pub fn as_str(self) -> &'static str {
        code_info(self.number()).map_or("internal", CodeInfo::name)
    }

    /// The stable number, grouped by hundreds (the C ABI's status numbers).
    pub fn number(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from the public API: a stable code and a human-readable message that never contains
/// a secret or a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::ConfigInvalid, message)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code.as_str(), self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias of the public API.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_consistent() {
        for (i, c) in CODES.iter().enumerate() {
            let name = c.c_name.to_str().expect("names are ASCII");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert!(
                CODES[..i]
                    .iter()
                    .all(|o| o.number != c.number && o.name() != name),
                "duplicate {name}"
            );
        }
        // The core's codes are exactly the registry's core rows.
        let core: Vec<u32> = CODES
            .iter()
            .filter(|c| c.scope == CodeScope::Core)
            .map(|c| c.number)
            .collect();
        let ours: Vec<u32> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(core, ours);
        assert_eq!(ErrorCode::Backend.as_str(), "backend_error");
        assert_eq!(ErrorCode::ConfigInvalid.number(), 200);
    }
}

//! Typed errors of the public API, with stable code names and numbers.
//!
//! A request that is *denied* is not an error: it is a [`crate::Decision`]. These errors are for
//! calls that could not run (bad configuration, failed startup, bad input from the host).

use std::fmt;

/// Stable error codes. Names and numbers never change meaning; new codes get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The configuration is invalid (parse error, unknown field, or a validation rule).
    ConfigInvalid,
    /// `startup` failed in a way the policy mode declares fatal.
    StartupFailed,
    /// A call to the authorization server or the AuthSec backend failed.
    Backend,
    /// The host passed input the API cannot use (for example a tools list that is not JSON).
    InvalidInput,
    /// A bug: an invariant did not hold. Treat as a denial.
    Internal,
}

impl ErrorCode {
    /// The stable snake_case name (used across bindings and in conformance vectors).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::StartupFailed => "startup_failed",
            ErrorCode::Backend => "backend_error",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Internal => "internal",
        }
    }

    /// The stable number, grouped by hundreds (the C ABI builds on these).
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::ConfigInvalid => 200,
            ErrorCode::StartupFailed => 300,
            ErrorCode::Backend => 301,
            ErrorCode::InvalidInput => 100,
            ErrorCode::Internal => 900,
        }
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

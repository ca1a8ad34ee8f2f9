//! `authsec_status`: the stable numeric codes every fallible function returns, their names, and
//! `Fail`, a failure inside the library on its way to a status (the bottom of the crate: it
//! imports nothing from it).

use authsec_core::{code_info, CodeInfo, ErrorCode};

/// The result of a fallible call. `AUTHSEC_STATUS_OK` (0) means the call ran; any other value
/// means it did not, and on the request path the host must refuse the request (fail closed).
/// Numbers are grouped by hundreds and never renumbered. See docs/ffi-conventions.md.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum authsec_status {
    /// The call ran.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// A text argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument was out of range or not usable (e.g. advancing a clock that is not manual).
    InvalidArgument = 3,
    /// Called in a forked child; create runtimes after fork.
    ForkedProcess = 4,
    /// A blocking function was called from a thread that runs a tokio runtime.
    WrongThreadContext = 5,
    /// The hidden runtime could not be started (e.g. no threads available).
    RuntimeUnavailable = 6,
    /// `authsec_runtime_try_check_request` could not decide from memory: the decision needs
    /// I/O; make the blocking `authsec_runtime_check_request` call where blocking is fine.
    WouldBlock = 7,
    /// The core refused host input (e.g. a tools list that is not a JSON array).
    InvalidInput = 100,
    /// The configuration is invalid.
    ConfigInvalid = 200,
    /// Workload identity is disabled: no Workload API socket given and `SPIFFE_ENDPOINT_SOCKET`
    /// is not set.
    WorkloadNotConfigured = 240,
    /// Startup failed in a way the policy mode declares fatal.
    StartupFailed = 300,
    /// A call to the authorization server or the AuthSec backend failed.
    BackendError = 301,
    /// The SPIFFE Workload API could not be reached, refused the workload, or sent no SVID in
    /// time.
    WorkloadApiUnavailable = 340,
    /// The last X.509-SVID has expired and the Workload API has not sent a new one.
    SvidExpired = 341,
    /// The sign-in session store (memory or Redis) could not be read or written.
    SessionStoreUnavailable = 350,
    /// The AuthSec services API (service credentials) failed, refused, or answered something
    /// unusable.
    ServicesError = 360,
    /// An internal invariant did not hold; treat as a denial.
    Internal = 900,
    /// A panic was caught at the boundary; treat as a denial and report the bug.
    Panic = 901,
}

impl authsec_status {
    /// Every status (cbindgen needs the enum; a test checks it against the core's registry).
    /// cbindgen:ignore
    pub const ALL: [authsec_status; 19] = [
        authsec_status::Ok,
        authsec_status::NullParameter,
        authsec_status::InvalidUtf8,
        authsec_status::InvalidArgument,
        authsec_status::ForkedProcess,
        authsec_status::WrongThreadContext,
        authsec_status::RuntimeUnavailable,
        authsec_status::WouldBlock,
        authsec_status::InvalidInput,
        authsec_status::ConfigInvalid,
        authsec_status::WorkloadNotConfigured,
        authsec_status::StartupFailed,
        authsec_status::BackendError,
        authsec_status::WorkloadApiUnavailable,
        authsec_status::SvidExpired,
        authsec_status::SessionStoreUnavailable,
        authsec_status::ServicesError,
        authsec_status::Internal,
        authsec_status::Panic,
    ];

    /// The stable lower-case name, from the core's code registry.
    pub fn name(self) -> &'static str {
        code_info(self as u32).map_or("internal", CodeInfo::name)
    }

    /// The status for a number; unknown numbers map to `Internal`.
    pub fn from_number(n: u32) -> authsec_status {
        Self::ALL
            .into_iter()
            .find(|s| *s as u32 == n)
            .unwrap_or(authsec_status::Internal)
    }
}

impl From<ErrorCode> for authsec_status {
    fn from(code: ErrorCode) -> Self {
        authsec_status::from_number(code.number())
    }
}

/// A failure inside the library before it crosses the boundary.
pub(crate) struct Fail {
    pub(crate) status: authsec_status,
    pub(crate) message: String,
}

impl Fail {
    pub(crate) fn new(status: authsec_status, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Fail {
        Fail::new(authsec_status::NullParameter, format!("{what} is NULL"))
    }
}

impl From<authsec_core::Error> for Fail {
    fn from(e: authsec_core::Error) -> Fail {
        Fail::new(e.code().into(), e.message())
    }
}

/// The stable name of a status (`"ok"`, `"config_invalid"`, ...) as a static NUL-terminated
/// string; `"unknown"` for a number that is not a status. Never NULL.
#[no_mangle]
pub extern "C" fn authsec_status_name(status: u32) -> *const libc::c_char {
    code_info(status).map_or(c"unknown", |c| c.c_name).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use authsec_core::CODES;

    #[test]
    fn statuses_are_exactly_the_registry() {
        let numbers: Vec<u32> = authsec_status::ALL.iter().map(|s| *s as u32).collect();
        let registry: Vec<u32> = CODES.iter().map(|c| c.number).collect();
        assert_eq!(
            numbers, registry,
            "authsec_status and the core registry differ"
        );
        for s in authsec_status::ALL {
            // SAFETY: authsec_status_name returns a static NUL-terminated string.
            let c = unsafe { std::ffi::CStr::from_ptr(authsec_status_name(s as u32)) };
            assert_eq!(c.to_str().unwrap(), s.name());
            assert_eq!(authsec_status::from_number(s as u32), s);
        }
        for code in ErrorCode::ALL {
            let s = authsec_status::from(code);
            assert_eq!(s as u32, code.number());
            assert_eq!(s.name(), code.as_str());
        }
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(authsec_status_name(4242)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown");
    }
}

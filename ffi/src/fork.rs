//! Fork detection. A child made by `fork()` inherits the library's memory but not its threads
//! (the hidden tokio runtime's workers), so nothing that may touch that runtime can work there:
//! a check could block forever or spawn a background policy refresh onto threads that do not
//! exist. `boundary::call` refuses every fallible entry point in a forked child with
//! `AUTHSEC_STATUS_FORKED_PROCESS`; the flag is one atomic load, so the hot path makes no
//! `getpid` system call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::status::{authsec_status, Fail};

static FORKED: AtomicBool = AtomicBool::new(false);
static WATCH: Once = Once::new();

extern "C" fn mark_forked_child() {
    // Runs in the child right after fork(); only an atomic store (async-signal-safe).
    FORKED.store(true, Ordering::Relaxed);
}

/// Register the child-side fork handler (once per process). Called before the library starts
/// any thread, so every later `fork()` is seen.
pub(crate) fn watch() -> Result<(), String> {
    let mut rc = 0;
    WATCH.call_once(|| {
        // SAFETY: registers a plain extern "C" function with no captured state as the
        // child-side fork handler; pthread_atfork has no other preconditions.
        rc = unsafe { libc::pthread_atfork(None, None, Some(mark_forked_child)) };
    });
    if rc != 0 {
        return Err(format!("pthread_atfork failed ({rc})"));
    }
    Ok(())
}

/// Whether this process is a child forked after the library started.
pub(crate) fn in_forked_child() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// Fail in a forked child.
pub(crate) fn check_not_forked() -> Result<(), Fail> {
    if in_forked_child() {
        return Err(Fail::new(
            authsec_status::ForkedProcess,
            "authsec was initialised before fork(); create the runtime in the child process",
        ));
    }
    Ok(())
}

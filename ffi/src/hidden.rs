//! The hidden tokio runtime: created lazily by the first call that needs it, shared by every
//! `authsec_runtime`, never used after `fork()` (its threads do not exist in the child) and
//! never blocked on from a thread that already runs a tokio runtime.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::error::Fail;
use crate::status::authsec_status;

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn mark_forked_child() {
    // Runs in the child right after fork(); only an atomic store (async-signal-safe).
    FORKED.store(true, Ordering::Relaxed);
}

fn create() -> Result<tokio::runtime::Runtime, String> {
    // SAFETY: registers a plain extern "C" function with no captured state as the child-side
    // fork handler; pthread_atfork has no other preconditions.
    let rc = unsafe { libc::pthread_atfork(None, None, Some(mark_forked_child)) };
    if rc != 0 {
        return Err(format!("pthread_atfork failed ({rc})"));
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("authsec-rt")
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the hidden runtime: {e}"))
}

/// Fail in a forked child.
pub(crate) fn check_not_forked() -> Result<(), Fail> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(Fail::new(
            authsec_status::ForkedProcess,
            "authsec was initialised before fork(); create the runtime in the child process",
        ));
    }
    Ok(())
}

/// Fail when the calling thread runs a tokio runtime (blocking there would deadlock or panic).
pub(crate) fn check_may_block() -> Result<(), Fail> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Fail::new(
            authsec_status::WrongThreadContext,
            "a blocking authsec call was made from a thread that runs a tokio runtime; use authsec-core directly from async Rust",
        ));
    }
    Ok(())
}

/// The shared runtime, created on first use.
pub(crate) fn get() -> Result<&'static tokio::runtime::Runtime, Fail> {
    check_not_forked()?;
    RUNTIME
        .get_or_init(create)
        .as_ref()
        .map_err(|e| Fail::new(authsec_status::RuntimeUnavailable, e.clone()))
}

/// Drive `fut` to completion on the calling thread with the shared runtime's I/O and timers.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output, Fail> {
    check_may_block()?;
    Ok(get()?.block_on(fut))
}

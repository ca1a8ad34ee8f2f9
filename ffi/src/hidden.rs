//! The hidden tokio runtime: created lazily by the first call that needs it, shared by every
//! `authsec_runtime`, never used after `fork()` (its threads do not exist in the child), never
//! blocked on from a thread that already runs a tokio runtime, and stopped once by
//! `authsec_shutdown` at process exit.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::authsec_error;
use crate::status::{authsec_status, Fail};

enum State {
    Unstarted,
    Running(Runtime),
    Failed(String),
    ShutDown,
}

static STATE: Mutex<State> = Mutex::new(State::Unstarted);

fn create() -> Result<Runtime, String> {
    crate::fork::watch()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("authsec-rt")
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the hidden runtime: {e}"))
}

/// Fail when the calling thread runs a tokio runtime (blocking there would deadlock or panic).
pub(crate) fn check_may_block() -> Result<(), Fail> {
    if Handle::try_current().is_ok() {
        return Err(Fail::new(
            authsec_status::WrongThreadContext,
            "a blocking authsec call was made from a thread that runs a tokio runtime; use authsec-core directly from async Rust",
        ));
    }
    Ok(())
}

/// A handle to the shared runtime, created on first use.
pub(crate) fn get() -> Result<Handle, Fail> {
    crate::fork::check_not_forked()?;
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let State::Unstarted = *state {
        *state = match create() {
            Ok(rt) => State::Running(rt),
            Err(e) => State::Failed(e),
        };
    }
    match &*state {
        State::Running(rt) => Ok(rt.handle().clone()),
        State::Failed(e) => Err(Fail::new(authsec_status::RuntimeUnavailable, e.clone())),
        State::ShutDown => Err(Fail::new(
            authsec_status::RuntimeUnavailable,
            "authsec_shutdown was called; the library cannot be used any more in this process",
        )),
        State::Unstarted => Err(Fail::new(authsec_status::Internal, "runtime not started")),
    }
}

/// Drive `fut` to completion on the calling thread with the shared runtime's I/O and timers.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output, Fail> {
    check_may_block()?;
    Ok(get()?.block_on(fut))
}

/// Stop the library's background threads (the hidden runtime), waiting up to one second for
/// them. Optional: call it once at process exit, after freeing every runtime, to leave no
/// thread or allocation behind (leak checkers). Afterwards every function that needs the hidden
/// runtime fails with `AUTHSEC_STATUS_RUNTIME_UNAVAILABLE`; it cannot be restarted.
///
/// # Safety
/// `err_out` is NULL or writable. Must not be called from a library callback.
#[no_mangle]
pub unsafe extern "C" fn authsec_shutdown(err_out: *mut *mut authsec_error) -> authsec_status {
    crate::boundary::call(err_out, || {
        check_may_block()?;
        let previous = {
            let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *state, State::ShutDown)
        };
        if let State::Running(rt) = previous {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        Ok(())
    })
}

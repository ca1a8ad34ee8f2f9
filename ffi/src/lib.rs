//! `libauthsec`: the C ABI of authsec. It translates C calls into `authsec-core` calls and
//! nothing more; every rule a caller relies on (status codes, ownership, NULL, panics, threads)
//! is written down in `docs/ffi-conventions.md` and the generated `include/authsec.h`.
//!
//! Module map: `status` (codes), `error` (`authsec_error`), `boundary` (panic and NULL
//! guards), `text` (strings in and out), `hidden` (the lazily created tokio runtime),
//! `config` (`authsec_config_*`), `runtime` (`authsec_runtime_*`), `decision`
//! (`authsec_decision`, `authsec_response`, `authsec_filter_result`), `filter`
//! (`authsec_response_filter`, the streaming filter, and the fixed startup-failed /
//! internal-error answers), `manifest` (manifest publishing and its host callback), `workload` (`authsec_workload`,
//! `authsec_svid`: the SPIFFE X.509-SVID kept current, JWT-SVID fetch), `rbac` (the `user_info` document).

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod audit;
mod boundary;
pub mod config;
pub mod decision;
pub mod error;
pub mod filter;
mod fork;
pub mod hidden;
pub mod manifest;
pub mod rbac;
pub mod runtime;
pub mod services;
pub mod status;
pub mod text;
pub mod workload;

pub use audit::*;
pub use config::*;
pub use decision::*;
pub use error::*;
pub use filter::*;
pub use hidden::authsec_shutdown;
pub use manifest::*;
pub use rbac::*;
pub use runtime::*;
pub use services::*;
pub use status::*;
pub use text::*;
pub use workload::*;

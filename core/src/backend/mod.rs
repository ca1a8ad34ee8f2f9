//! The one outbound HTTP client (timeouts, Basic auth, bounded bodies) the token and policy
//! layers and manifest publishing share.

pub(crate) mod http;
pub(crate) mod redis;
pub(crate) mod services;

//! Outbound I/O: the one HTTP client (timeouts, Basic auth, bounded bodies) the token and
//! policy layers and manifest publishing share, the fleet's Redis store (`docs/fleet.md`), and
//! the AuthSec services API client (service credentials).

pub(crate) mod http;
pub(crate) mod redis;
pub(crate) mod services;

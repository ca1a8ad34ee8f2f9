//! Sign-in sessions for MCP clients without OAuth (the seed's `oauth_*` tools).
//!
//! `record` is what a session is (256-bit id, stored under a digest, serde record), `store`
//! the [`SessionStore`](store::SessionStore) trait every backend implements, `memory` the
//! bounded in-process store (the default), `redis` the fleet's shared store. See docs/sign-in.md.

pub mod memory;
pub mod record;
pub mod redis;
pub mod store;

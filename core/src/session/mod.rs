//! Sign-in sessions for MCP clients without OAuth (the seed's `oauth_*` tools), and the owner
//! of each MCP session.
//!
//! `owner` binds every `Mcp-Session-Id` to the caller that first uses it (a bearer caller;
//! docs/sessions.md). `record` is what a session is (256-bit id, stored under a digest, serde record), `store`
//! the [`SessionStore`](store::SessionStore) trait every backend implements, `memory` the
//! bounded in-process store (the default), `redis` the fleet's shared store, `flow` the OAuth
//! flow behind the tools (discovery, PKCE, the callback, refresh, revocation), `answer` every
//! byte of their answers. See docs/sign-in.md and docs/fleet.md.

pub mod answer;
pub mod flow;
pub mod memory;
pub(crate) mod owner;
pub mod record;
pub mod redis;
pub mod store;

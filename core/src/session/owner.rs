//! Which caller each MCP session belongs to: an `Mcp-Session-Id` is bound to the first caller
//! that presents it with a valid token, and refused to every other caller (MCP security best
//! practices, "session hijacking": a session id is never an authenticator, and a server should
//! bind it to the user). Without the binding, a second user holding a valid token for this
//! server and a copy of another user's session id could read that session's server-to-client
//! stream (sampling and elicitation requests, notifications) or answer its requests.
//!
//! The binding is made on first use, not when the server creates the session: the runtime sees
//! requests, not the server's `initialize` answer that assigns the id. A client's first
//! request with the id (`notifications/initialized`) follows that answer at once, and session
//! ids are unguessable (the transport requires them to be cryptographically secure), so the
//! window is a caller who already holds a fresh id it did not open.
//!
//! The caller is `iss` plus the SPIFFE ID, `sub`, or else the client id; a principal with none
//! of them is not bound (nothing tells two such callers apart). Session ids are kept as SHA-256
//! digests (never in clear: an id lets its holder use the session), each with its owner's two
//! identifiers, in a bounded S3-FIFO cache with no time limit: a binding lasts as long as it is
//! in use (a flood of one-off ids does not evict an active session); one evicted after long
//! disuse is bound again by its next caller.

use std::sync::Arc;

use crate::token::cache::{digest_store, token_key, DigestStore};
use crate::token::principal::Principal;

/// What [`SessionOwners::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The session belongs to this caller (bound now or before).
    Own,
    /// The principal names no caller, so the session is not bound to anyone.
    Unbound,
    /// Another caller opened the session: refuse the request.
    Foreign,
}

/// The caller a session belongs to: compared field by field, so no two (issuer, caller) pairs
/// can read as one.
#[derive(Debug)]
struct Owner {
    issuer: Box<str>,
    who: Box<str>,
}

/// Session-id digest -> owner, bounded.
pub(crate) struct SessionOwners {
    store: DigestStore<Arc<Owner>>,
}

impl SessionOwners {
    /// A map holding at most about `capacity` sessions (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        SessionOwners {
            store: digest_store(capacity),
        }
    }

    /// Bind `session_id` to `principal` when it is new, and say whether it is theirs. Two
    /// first requests racing for one id: exactly one binds it, the other is `Foreign` unless it
    /// is the same caller.
    pub(crate) fn claim(&self, session_id: &str, principal: &Principal) -> Claim {
        let Some(who) = caller_of(principal) else {
            return Claim::Unbound;
        };
        let bound = self.store.get_or_insert_with(&token_key(session_id), || {
            Ok::<_, std::convert::Infallible>(Arc::new(Owner {
                issuer: principal.issuer.as_str().into(),
                who: who.into(),
            }))
        });
        match bound {
            Ok(o) if *o.issuer == *principal.issuer && *o.who == *who => Claim::Own,
            _ => Claim::Foreign,
        }
    }

    /// Sessions bound now (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }
}

/// Who the caller is at its issuer: the SPIFFE ID, `sub`, or the client id (the first that is
/// not empty); `None` when all are empty.
fn caller_of(p: &Principal) -> Option<&str> {
    [
        p.spiffe_id.as_deref().unwrap_or(""),
        p.subject.as_str(),
        p.client_id(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(iss: &str, sub: &str, client: Option<&str>) -> Principal {
        let mut p = Principal {
            subject: sub.into(),
            issuer: iss.into(),
            audience: Vec::new(),
            scopes: Vec::new(),
            claims: serde_json::Map::new(),
            active: true,
            spiffe_id: None,
            hierarchy: None,
        };
        if let Some(c) = client {
            p.claims.insert("client_id".into(), c.into());
        }
        p
    }

    #[test]
    fn the_first_caller_owns_the_session_and_no_other_may_use_it() {
        let owners = SessionOwners::new(100);
        let alice = principal("https://as", "alice", None);
        let bob = principal("https://as", "bob", None);
        assert_eq!(owners.claim("s1", &alice), Claim::Own);
        assert_eq!(owners.claim("s1", &alice), Claim::Own);
        assert_eq!(owners.claim("s1", &bob), Claim::Foreign);
        assert_eq!(owners.claim("s2", &bob), Claim::Own);
        assert_eq!(owners.claim("s2", &alice), Claim::Foreign);
    }

    #[test]
    fn the_same_subject_of_another_issuer_is_another_caller() {
        let owners = SessionOwners::new(100);
        assert_eq!(
            owners.claim("s", &principal("https://a", "u", None)),
            Claim::Own
        );
        assert_eq!(
            owners.claim("s", &principal("https://b", "u", None)),
            Claim::Foreign
        );
        // Claims may hold any character: "a" + "b\0c" is not "a\0b" + "c".
        assert_eq!(owners.claim("t", &principal("a", "b\0c", None)), Claim::Own);
        assert_eq!(
            owners.claim("t", &principal("a\0b", "c", None)),
            Claim::Foreign
        );
    }

    #[test]
    fn a_new_token_of_the_same_caller_keeps_the_session() {
        let owners = SessionOwners::new(100);
        let mut a = principal("https://as", "alice", Some("app"));
        assert_eq!(owners.claim("s", &a), Claim::Own);
        a.scopes = vec!["more".into()];
        a.claims.insert("jti".into(), "another-token".into());
        assert_eq!(owners.claim("s", &a), Claim::Own);
    }

    #[test]
    fn a_caller_without_subject_is_named_by_its_client_and_one_without_either_is_not_bound() {
        let owners = SessionOwners::new(100);
        assert_eq!(
            owners.claim("s", &principal("https://as", "", Some("app-1"))),
            Claim::Own
        );
        assert_eq!(
            owners.claim("s", &principal("https://as", "", Some("app-2"))),
            Claim::Foreign
        );
        assert_eq!(
            owners.claim("n", &principal("https://as", "", None)),
            Claim::Unbound
        );
        assert_eq!(owners.len(), 1, "an unnamed caller binds nothing");
    }

    #[test]
    fn bounded_and_an_active_session_survives_a_flood_of_one_off_ids() {
        let owners = SessionOwners::new(1000);
        let alice = principal("https://as", "alice", None);
        let bob = principal("https://as", "bob", None);
        assert_eq!(owners.claim("alice-session", &alice), Claim::Own);
        for i in 0..50_000 {
            assert_eq!(
                owners.claim("alice-session", &bob),
                Claim::Foreign,
                "after {i}"
            );
            owners.claim(&format!("one-off-{i}"), &bob);
        }
        assert!(owners.len() <= 1100, "bounded: {}", owners.len());
    }
}

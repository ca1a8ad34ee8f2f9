//! Who is calling: bearer tokens validated as JWTs against a JWKS (keys parsed once), by RFC 7662
//! introspection, or both, with the verified-token and introspection caches, the audience
//! binding, and the principal handed to the handler.

pub(crate) mod cache;
pub(crate) mod error;
pub(crate) mod introspection;
pub(crate) mod jwks;
pub(crate) mod jwt;
pub(crate) mod keys;
pub(crate) mod principal;
pub(crate) mod scopes;
pub(crate) mod svid;
pub(crate) mod user_info;
pub(crate) mod validator;

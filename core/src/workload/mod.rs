//! Workload identity (SPIFFE): where the agent's Workload API is, the X.509-SVID kept current
//! from its update stream and written to files for TLS stacks, and the trust domain's JWT
//! bundle followed for the validator's JWT-SVID path. The Workload API parts build with the
//! `spiffe` feature (they bring tonic, prost and hyper); the socket rules and the file writer
//! are always built. Guide: `docs/workload-identity.md`.

pub(crate) mod endpoint;
pub(crate) mod files;
#[cfg(feature = "spiffe")]
pub(crate) mod jwt_bundle;
#[cfg(feature = "spiffe")]
pub(crate) mod x509;

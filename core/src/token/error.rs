//! Why a token was refused: the 401 kind, the typed reason and the description the client sees.

/// Which 401 a validation failure becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// `invalid_token`.
    InvalidToken,
    /// `invalid_audience`.
    InvalidAudience,
}

/// The stable sub-reason of a 401 `invalid_token` (the body's `reason`, reference §3.4). It is
/// set where each failure is created, from what failed, never recovered from the description
/// text: descriptions carry caller-chosen data (a `kid`, an `iss`) that must not steer it.
/// The values are the reference's classification of its own fixed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No usable bearer token (absent, another scheme, malformed).
    NoToken,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The authorization server says the token is not active (revoked, suspended, expired).
    TokenRevoked,
    /// The client's registration was revoked by an administrator.
    ClientRegistrationRevoked,
    /// The token is not for this resource.
    AudienceMismatch,
    /// Anything else (bad signature, unknown key, wrong issuer, backend failure, ...).
    InvalidToken,
}

impl Reason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoToken => "no_token",
            Reason::TokenExpired => "token_expired",
            Reason::TokenRevoked => "token_revoked",
            Reason::ClientRegistrationRevoked => "client_registration_revoked",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::InvalidToken => "invalid_token",
        }
    }

    /// Which of two reasons a combined failure reports: the reference classifies a combined
    /// description by its first matching rule (revoked, then expired, then audience, then
    /// missing token), so the more specific reason of the parts wins in that order.
    pub(crate) fn most_specific(self, other: Reason) -> Reason {
        let rank = |r: Reason| match r {
            Reason::ClientRegistrationRevoked => 5,
            Reason::TokenRevoked => 4,
            Reason::TokenExpired => 3,
            Reason::AudienceMismatch => 2,
            Reason::NoToken => 1,
            Reason::InvalidToken => 0,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// A token validation failure: the kind, the typed reason and the description sent to the
/// client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The kind.
    pub kind: AuthErrorKind,
    /// The typed reason (meaningful for `InvalidToken`).
    pub reason: Reason,
    /// The `error_description`.
    pub description: String,
}

impl AuthError {
    /// `invalid_token` with the generic reason.
    pub(crate) fn invalid_token(d: impl Into<String>) -> Self {
        AuthError::with_reason(Reason::InvalidToken, d)
    }

    /// `invalid_token` with a specific reason.
    pub(crate) fn with_reason(reason: Reason, d: impl Into<String>) -> Self {
        AuthError {
            kind: AuthErrorKind::InvalidToken,
            reason,
            description: d.into(),
        }
    }

    pub(crate) fn invalid_audience(d: impl Into<String>) -> Self {
        AuthError {
            kind: AuthErrorKind::InvalidAudience,
            reason: Reason::AudienceMismatch,
            description: d.into(),
        }
    }
}

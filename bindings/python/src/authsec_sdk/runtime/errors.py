"""The exceptions of the lower-level :class:`~authsec_sdk.runtime.Runtime` API, with the names of
the AuthSec SDK. Each carries the HTTP ``status`` the core answers for it (401, 401, 403, 503,
503) and, when it came from a request decision, the core's ``response`` (status, headers, body):
a host writing its own middleware can send exactly what ``mount_mcp`` would send."""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AuthsecResponse",
    "AuthorizationError",
    "TokenInvalidError",
    "TokenInactiveError",
    "InsufficientScopeError",
    "PolicyUnavailableError",
    "PolicyIncompleteError",
    "StartupError",
]

#: (status, headers with lower-case names, body) as the core wrote them.
AuthsecResponse = tuple[int, list[tuple[str, str]], bytes]


class AuthorizationError(Exception):
    """Base of every denial. ``description`` is the core's ``error_description``, ``error`` its
    ``error`` code, ``reason`` the 401 sub-reason (``token_revoked``, ``token_expired``, ...)."""

    status: int = 401
    #: ``startup_failed`` when raised by startup (the stable code of the failure), else "".
    code: str = ""

    def __init__(
        self,
        description: str,
        *,
        error: str = "",
        reason: str = "",
        response: Optional[AuthsecResponse] = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.error = error
        self.reason = reason
        self.response = response


class TokenInvalidError(AuthorizationError):
    """The token is missing, malformed, expired, badly signed or for another audience (401)."""

    status = 401


class TokenInactiveError(TokenInvalidError):
    """Introspection says the token is not active: revoked, suspended or expired (401)."""

    status = 401


class InsufficientScopeError(AuthorizationError):
    """The token lacks every scope the tool needs (403). ``tool``, ``required``, ``granted``."""

    status = 403

    def __init__(
        self,
        tool: str,
        required: list[str],
        granted: Optional[list[str]] = None,
        *,
        description: str = "",
        response: Optional[AuthsecResponse] = None,
    ) -> None:
        self.tool = tool
        self.required = list(required)
        self.granted = list(granted or [])
        super().__init__(
            description or f"Tool '{tool}' requires scope: {', '.join(self.required)}",
            error="insufficient_scope",
            response=response,
        )


class PolicyUnavailableError(AuthorizationError):
    """No usable tool policy (remote policy unreachable or too stale): 503."""

    status = 503


class PolicyIncompleteError(PolicyUnavailableError, RuntimeError):
    """The AuthSec backend says the policy is incomplete (needs setup, scan failed): 503, and
    fatal at startup in ``remote_required``."""

    status = 503


class StartupError(RuntimeError):
    """Startup failed in a way the policy mode declares fatal (``remote_required`` without a
    first policy). The message is the core's."""

    code: str = "startup_failed"

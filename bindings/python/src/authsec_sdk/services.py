"""Service credentials (the seed's ``ServiceAccessSDK``): the credentials of the external
services a signed-in user connected, from the AuthSec services API (``services_url``), called by
the core through the runtime. Credential values never appear in ``repr`` or in an error.

    sdk = ServiceAccessSDK(session, runtime=rt)      # or set_services_runtime(rt) once
    token = await sdk.get_service_token("github")
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Optional

from ._codes import ErrorCode
from ._native import AuthsecError
from .runtime.engine import Runtime

__all__ = ["ServiceAccessError", "ServiceAccessSDK", "ServiceCredentials", "set_services_runtime"]

_default_runtime: Optional[Runtime] = None


def set_services_runtime(runtime: Optional[Runtime]) -> None:
    """The runtime a :class:`ServiceAccessSDK` made without ``runtime=`` uses (a server that
    owns one runtime sets it once, so the seed's ``ServiceAccessSDK(session)`` works as is)."""
    global _default_runtime
    _default_runtime = runtime


class ServiceAccessError(AuthsecError):
    """A service-credentials call failed (``services_error``, or ``invalid_input``)."""


@dataclass(frozen=True)
class ServiceCredentials:
    """One service's credentials, the seed's fields. ``credentials`` holds secrets: ``repr``
    names its keys only."""

    service_id: str
    service_name: str
    service_type: str
    auth_type: str
    url: str
    credentials: dict[str, Any] = field(repr=False)
    metadata: dict[str, Any]
    retrieved_at: str

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.credentials))
        return (f"ServiceCredentials(service_id={self.service_id!r}, service_name="
                f"{self.service_name!r}, service_type={self.service_type!r}, auth_type="
                f"{self.auth_type!r}, url={self.url!r}, credentials=<redacted: {names}>, "
                f"retrieved_at={self.retrieved_at!r})")


def _session_id(session: Any) -> str:
    if hasattr(session, "session_id"):
        return str(session.session_id)
    if isinstance(session, dict) and "session_id" in session:
        return str(session["session_id"])
    raise ValueError("Session must contain session_id")


class ServiceAccessSDK:
    """The seed's ``ServiceAccessSDK(session)``: ``session`` is an object with ``session_id``
    or a dict holding it; the calls go through ``runtime`` (default: the one given to
    :func:`set_services_runtime`)."""

    def __init__(self, session: Any, timeout: int = 30, runtime: Optional[Runtime] = None):
        self.session_id = _session_id(session)
        self.session = session
        self.timeout = timeout  # the core's request_timeout_seconds bounds each call
        self._runtime = runtime

    def _rt(self) -> Runtime:
        rt = self._runtime or _default_runtime
        if rt is None:
            raise ServiceAccessError(ErrorCode.SERVICES_ERROR,
                                     "no runtime: pass runtime= or call set_services_runtime")
        return rt

    @staticmethod
    def _translate(e: AuthsecError) -> ServiceAccessError:
        return ServiceAccessError(e.status, e.message)

    async def get_service_credentials(self, service_name: str) -> ServiceCredentials:
        """The service's credentials (``POST {services_url}/credentials``)."""
        rt = self._rt()
        try:
            c = await asyncio.to_thread(rt.service_credentials, self.session_id, service_name)
        except AuthsecError as e:
            raise self._translate(e) from None
        return ServiceCredentials(
            service_id=c["service_id"], service_name=c["service_name"],
            service_type=c["service_type"], auth_type=c["auth_type"], url=c["url"],
            credentials=c["credentials"], metadata=c.get("metadata") or {},
            retrieved_at=c["retrieved_at"])

    async def get_service_token(self, service_name: str) -> str:
        """``credentials.access_token``; :class:`ServiceAccessError` "No access token available
        for <name>" when there is none."""
        rt = self._rt()
        try:
            return await asyncio.to_thread(rt.service_token, self.session_id, service_name)
        except AuthsecError as e:
            raise self._translate(e) from None

    async def get_service_user_details(self, service_name: str) -> dict[str, Any]:
        """The user's details at the service (``POST {services_url}/user-details``)."""
        rt = self._rt()
        try:
            return await asyncio.to_thread(rt.service_user_details, self.session_id, service_name)
        except AuthsecError as e:
            raise self._translate(e) from None

    async def close(self) -> None:
        """Nothing to close (the runtime owns the connection pool)."""

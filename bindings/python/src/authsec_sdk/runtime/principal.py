"""``Principal``: who a validated token speaks for, and the context variable that carries it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

__all__ = ["Principal", "principal_from_context"]


@dataclass
class Principal:
    """The identity behind a validated token, as the core built it (JWT claims overlaid with the
    introspection answer when both ran). Available as ``request.state.authsec_principal`` and
    through :func:`principal_from_context` while the handler runs."""

    subject: str = ""
    """``sub`` (introspection: ``sub``, else ``subject``)."""
    issuer: str = ""
    """``iss``."""
    audience: list[str] = field(default_factory=list)
    """``aud`` as a list."""
    scopes: list[str] = field(default_factory=list)
    """The granted scopes."""
    claims: dict[str, Any] = field(default_factory=dict, repr=False)
    """Every claim. Kept out of ``repr()``: claims may be personal data."""
    active: bool = True
    """Always true for an allowed request."""
    client_id: str = ""
    """The OAuth client the token was issued to: ``client_id``, else ``azp``, else the subject
    (decided by the core: ``authsec_decision_client_id``)."""
    expires_at: Optional[int] = None
    """``exp`` in Unix seconds when the token has a numeric one (``authsec_decision_expires_at``)."""
    spiffe_id: Optional[str] = None
    """The SPIFFE ID of a workload caller (authenticated with a JWT-SVID), ``None`` for users
    (``authsec_decision_spiffe_id``)."""

    def has_any_scope(self, required: list[str]) -> bool:
        """True when ``required`` is empty or any of it is granted."""
        if not required:
            return True
        granted = set(self.scopes)
        return any(s in granted for s in required)

    @classmethod
    def from_core(cls, data: dict[str, Any]) -> "Principal":
        """From the core's principal JSON (``authsec_decision_principal_json``)."""
        return cls(
            subject=str(data.get("subject", "")),
            issuer=str(data.get("issuer", "")),
            audience=list(data.get("audience", [])),
            scopes=list(data.get("scopes", [])),
            claims=dict(data.get("claims", {})),
            active=bool(data.get("active", False)),
        )


class _LazyField:
    """A field of :class:`_LazyPrincipal`: the first read of any field builds them all. A
    non-data descriptor, so once built (or assigned) the instance's own value wins."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        obj._build()
        return obj.__dict__[self.name]


class _LazyPrincipal(Principal):
    """A :class:`Principal` whose fields are read from the core only when the handler first
    looks at one (most requests never do: building it costs a JSON decode and three foreign
    calls). ``build`` returns the full principal; it runs at most once."""

    def __init__(self, build: Callable[[], Principal]) -> None:  # noqa: D107 (no dataclass init)
        self.__dict__["_authsec_build"] = build

    def _build(self) -> None:
        build = self.__dict__.get("_authsec_build")
        if build is not None:
            built = build()  # raises (the decision was closed): tried again on the next read
            for f in fields(Principal):
                self.__dict__.setdefault(f.name, getattr(built, f.name))
            del self.__dict__["_authsec_build"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Principal):
            return NotImplemented
        self._build()
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Principal))

    __hash__ = None  # type: ignore[assignment]  # as the dataclass: mutable, unhashable


for _f in fields(Principal):
    setattr(_LazyPrincipal, _f.name, _LazyField(_f.name))
_LazyPrincipal.__qualname__ = "Principal"  # repr() reads "Principal(...)"


_principal_ctx: ContextVar[Optional[Principal]] = ContextVar("authsec_principal", default=None)


def principal_from_context() -> Optional[Principal]:
    """The :class:`Principal` of the request being handled (``None`` outside one). A context
    variable: visible in nested async calls and tasks created while the handler runs."""
    return _principal_ctx.get()


class _UserInfoSlot:
    """The user_info of one request, cleared when the request ends: a task that copied the
    context (an MCP session's task started during an earlier request) then reads ``None``,
    never an earlier caller's document."""

    __slots__ = ("value",)

    def __init__(self, value: Optional[dict[str, Any]]) -> None:
        self.value = value


_user_info_ctx: ContextVar[Optional[_UserInfoSlot]] = ContextVar("authsec_user_info", default=None)


def user_info_from_context() -> Optional[dict[str, Any]]:
    """The core's ``user_info`` document of the request being handled (``None`` outside one, or
    when no ``tool_rbac`` is configured): ``sub``, ``email``, ``tenant_id`` and the effective
    ``roles``, ``groups``, ``scopes``, ``resources``, ``permissions`` (docs/rbac.md)."""
    slot = _user_info_ctx.get()
    if slot is None or slot.value is None:
        return None
    return dict(slot.value)

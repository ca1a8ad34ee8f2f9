"""``Config``, ``PolicyMode``, ``ValidationMode`` and ``from_env``: the AuthSec SDK's
configuration with its names, translated to the snake_case JSON the core takes.

Every rule lives in the core: ``validate()`` (the reference's messages, in its order),
``effective_policy_mode()`` / ``effective_validation_mode()`` (UNSET inference), ``normalized()``
and ``from_env()`` (the ``AUTHSEC_*`` variables and their legacy aliases) each ask libauthsec;
this module only converts Python values to JSON and back.
"""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Optional, Union

from .. import _native
from .._codes import ErrorCode

__all__ = ["Config", "PolicyMode", "ValidationMode", "ToolInventoryProvider", "from_env"]


class PolicyMode(enum.Enum):
    """Where the tool -> scope policy comes from (reference §4.6)."""

    UNSET = "unset"
    """Inferred: a resource server id gives REMOTE_REQUIRED, else a tool_scopes map (even empty)
    gives LOCAL_ONLY, else OPEN. The core infers it."""
    REMOTE_REQUIRED = "remote_required"
    """The AuthSec backend's policy only: startup fails if the first fetch fails, tools are
    refused with 503 while the policy is unusable."""
    REMOTE_WITH_LOCAL_FALLBACK = "remote_with_local_fallback"
    """The backend's policy, with ``tool_scopes`` while it is unusable."""
    LOCAL_ONLY = "local_only"
    """``tool_scopes`` only."""
    OPEN = "open"
    """Every tool allowed for any valid token."""


class ValidationMode(enum.Enum):
    """How bearer tokens are validated (reference §2.3)."""

    UNSET = "unset"
    """Inferred: JWKS and introspection URLs give JWT_AND_INTROSPECT, only a JWKS URL gives
    JWT_ONLY, otherwise INTROSPECTION_ONLY. The core infers it."""
    JWT_ONLY = "jwt_only"
    INTROSPECTION_ONLY = "introspection_only"
    JWT_AND_INTROSPECT = "jwt_and_introspect"
    """JWT verification first (terminal on failure), then introspection (the recommended mode)."""
    JWT_OR_INTROSPECT = "jwt_or_introspect"
    """JWT, and introspection only when it fails (migration mode)."""


#: A sync or async callable returning the tools to publish (``ManifestTool`` or MCP tool dicts).
ToolInventoryProvider = Callable[[], Union[list[Any], Awaitable[list[Any]]]]


@dataclass
class Config:
    """The runtime configuration: the AuthSec SDK's fields with their names and defaults, then
    this project's own safety fields. Build it directly or with :func:`from_env`."""

    issuer: str = ""
    authorization_server: str = ""
    jwks_url: str = ""
    introspection_url: str = ""
    introspection_client_id: str = ""
    introspection_client_secret: str = field(default="", repr=False)
    """Kept out of ``repr()``; the core never echoes it in an error either."""
    resource_uri: str = ""
    resource_name: str = ""
    resource_server_id: str = ""
    supported_scopes: list[str] = field(default_factory=list)
    tool_scopes: Optional[dict[str, list[str]]] = None
    """Local tool -> scopes (any-of). ``None`` and ``{}`` differ: ``{}`` denies every tool."""
    scope_matrix_ttl: timedelta = timedelta(seconds=30)
    policy_mode: PolicyMode = PolicyMode.UNSET
    validation_mode: ValidationMode = ValidationMode.UNSET
    publish_manifest: bool = False
    tool_scope_suggestions: dict[str, list[str]] = field(default_factory=dict)
    tool_inventory_provider: Optional[ToolInventoryProvider] = field(default=None, repr=False)
    """Tools for the manifest, instead of the synthetic handshake against the handler."""
    bearer_methods_supported: list[str] = field(default_factory=lambda: ["header"])
    request_timeout_seconds: float = 10.0
    # ---- this project's fields (core/src/config.rs) ----
    scope_matrix_stale_seconds: float = 120.0
    """A remote policy whose refresh failed is served at most this old."""
    scope_matrix_backoff_seconds: float = 10.0
    """Wait after a failed policy fetch before the next attempt."""
    allow_missing_audience: bool = False
    """Accept tokens without ``aud`` (the reference's Python behaviour). Off: deny."""
    require_exp: bool = True
    clock_skew_seconds: int = 0
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest request body; larger ones get 413 without being read."""
    introspection_cache_ttl_seconds: int = 0
    token_cache_capacity: int = 10_000
    """Entries of the verified-token and introspection-result caches (each)."""
    require_typ: str = ""
    """Required JOSE ``typ`` of JWT access tokens (e.g. ``at+jwt``); empty: not checked."""
    require_token_type: str = ""
    """Required ``token_type`` of introspection answers; empty: not checked."""
    spiffe_trust_domain: str = ""
    """Accept JWT-SVIDs of this SPIFFE trust domain as bearer tokens (e.g. ``example.org``)."""
    spiffe_bundle_url: str = ""
    """The trust domain's SPIFFE bundle endpoint (JWT authorities with ``use: jwt-svid``)."""
    spiffe_endpoint_socket: str = ""
    """Or: the Workload API socket the JWT bundle is streamed from (``env``: SPIFFE_ENDPOINT_SOCKET)."""
    tool_workloads: dict[str, list[str]] = field(default_factory=dict)
    """Tool -> SPIFFE IDs of the workloads that may call it (JWT-SVID callers; scopes never apply)."""
    # ---- RBAC (docs/rbac.md) ----
    tool_rbac: Optional[dict[str, dict[str, Any]]] = None
    """Tool -> RBAC requirement (``roles``, ``groups``, ``resources``, ``scopes``,
    ``permissions``, ``require_all``); ``None``: no RBAC. ``mount_mcp`` adds the tools declared
    with ``protected_by_AuthSec``."""
    rbac_claims: dict[str, Any] = field(default_factory=lambda: {
        "roles": "roles", "groups": "groups", "resources": "resources", "permissions": "permissions",
        "scopes": ["scope", "scopes", "scp"], "tenant_id": "tenant_id", "email": "email"})
    """Claim names of the user's RBAC sets (the core's defaults); a dict with some keys keeps the
    core's defaults for the others."""
    rbac_catalogue: Optional[dict[str, Any]] = None
    """The inline tenant catalogue ``{"tenants": {id: {"roles": [...], ...}}}``."""
    audit_log: str = ""
    """Audit events as JSON lines: ``""`` none, ``"stderr"``, or a file path (appended)."""
    audit_sample_allowed: float = 1.0
    """Share of allowed decisions that make an audit event (denials are never sampled)."""
    audit_queue_capacity: int = 4096
    """Audit queue capacity, lines; a full queue drops (counted), never waits."""
    audit_private_claims: list[str] = field(default_factory=list)
    """Claims whose values never appear in audit events (``sub``, ``client_id``, the tenant claim)."""
    tenant_claim: str = "tenant"
    """The claim audit events read the tenant from."""
    # ---- MCP 2026-07-28, scopes, IdP token shapes, resources, CORS (docs/protocol-revisions.md) ----
    scope_claims: list[str] = field(default_factory=lambda: ["scope", "scopes", "scp"])
    """Claims scopes are read from, in order; the first that carries any wins."""
    scope_hierarchy: dict[str, list[str]] = field(default_factory=dict)
    """Broader scope -> implied scopes (transitive; ``prefix*`` entries imply a prefix)."""
    accepted_audiences: list[str] = field(default_factory=list)
    """Audiences accepted besides ``resource_uri`` (Entra ``api://<app-id>``, the GUID)."""
    audience_match: str = "exact"
    """``"exact"`` or ``"canonical"`` (scheme/host case-insensitive, one trailing slash ignored)."""
    additional_issuers: list[dict[str, str]] = field(default_factory=list)
    """More issuers, each ``{"issuer": ..., "jwks_url": ...}`` bound to its own JWKS."""
    resource_scopes: Optional[dict[str, list[str]]] = None
    """``resources/read`` rules: URI pattern (``*`` = any run) -> scopes."""
    prompt_scopes: Optional[dict[str, list[str]]] = None
    """``prompts/get`` rules: prompt name -> scopes."""
    deny_unlisted_resources_and_prompts: bool = False
    """Deny resources and prompts no rule names (default: not gated until a rule exists)."""
    cors_allowed_origins: list[str] = field(default_factory=list)
    """Origins (or ``*``) whose CORS preflights the core answers; other origins get 403."""
    redis_url: str = field(default="", repr=False)
    """The fleet's Redis (``redis://[:password@]host:port/db``, docs/fleet.md); a secret."""
    redis_key: str = field(default="", repr=False)
    """AES-256-GCM key sealing every Redis value: 32 random bytes, base64; a secret."""
    redis_prefix: str = "authsec:"
    """Prefix of every Redis key and channel."""
    redis_timeout_seconds: float = 0.25
    """Bound of every Redis command; slower counts as down for that request."""
    redis_lease_wait_seconds: float = 1.0
    """How long a replica waits for another's introspection of the same new token."""
    services_url: str = ""
    """Base URL of the AuthSec services API (service credentials, :class:`ServiceAccessSDK`)."""
    sign_in: Optional[dict[str, Any]] = None
    """Sign-in for MCP clients without OAuth (the ``oauth_*`` tools, docs/sign-in.md):
    ``{"client_id", "redirect_uri", "client_secret"?, "issuer"?, "scopes"?, "app_name"?, ...}``."""

    # ------------------------------------------------------------------ JSON translation

    def to_core_dict(self) -> dict[str, Any]:
        """The snake_case configuration object the core takes (``authsec_runtime_new``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "tool_inventory_provider":
                continue
            if f.name == "scope_matrix_ttl":
                seconds = value.total_seconds() if isinstance(value, timedelta) else value
                out["scope_matrix_ttl_seconds"] = seconds
                continue
            if isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out

    def to_core_json(self) -> str:
        """:meth:`to_core_dict` as JSON text. A value JSON cannot hold raises ``ValueError``."""
        try:
            return json.dumps(self.to_core_dict())
        except (TypeError, ValueError) as e:
            message = f"invalid config: {type(e).__name__} while encoding it as JSON"
            raise _native.error_for(ErrorCode.CONFIG_INVALID, message) from None

    @classmethod
    def from_core_dict(cls, data: dict[str, Any]) -> "Config":
        """The inverse of :meth:`to_core_dict` (unknown keys are refused)."""
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key == "scope_matrix_ttl_seconds":
                kwargs["scope_matrix_ttl"] = timedelta(seconds=float(value))
            elif key == "policy_mode":
                kwargs[key] = PolicyMode(value)
            elif key == "validation_mode":
                kwargs[key] = ValidationMode(value)
            elif key in names and key not in ("scope_matrix_ttl", "tool_inventory_provider"):
                kwargs[key] = value
            else:
                raise _native.error_for(ErrorCode.CONFIG_INVALID, f"unknown configuration field {key!r}")
        return cls(**kwargs)

    # ------------------------------------------------------------------ rules (the core's)

    def validate(self) -> None:
        """Raise ``ValueError`` (a :class:`~authsec_sdk.runtime.ConfigError`, code
        ``config_invalid``) with the reference SDK's message when the configuration is
        unusable (the first failing rule of reference §1.4, then this project's rules)."""
        text = self.to_core_json().encode()
        _native.call(_native.lib.authsec_config_validate, text, len(text))

    def _resolve(self) -> dict[str, Any]:
        text = self.to_core_json().encode()
        out = ctypes.c_void_p()
        _native.call(_native.lib.authsec_config_resolve, text, len(text), ctypes.byref(out))
        resolved: dict[str, Any] = _native.take_json(out)
        return resolved

    def effective_policy_mode(self) -> PolicyMode:
        """The policy mode after UNSET inference, as the core infers it."""
        return PolicyMode(self._resolve()["effective_policy_mode"])

    def effective_validation_mode(self) -> ValidationMode:
        """The validation mode after UNSET inference, as the core infers it."""
        return ValidationMode(self._resolve()["effective_validation_mode"])

    def normalized(self) -> "Config":
        """A copy with the core's normalization: authorization server defaults to the issuer,
        resource name to ``AuthSec Protected MCP Resource``, bearer methods to ``["header"]``."""
        out = Config.from_core_dict(self._resolve()["normalized"])
        out.tool_inventory_provider = self.tool_inventory_provider
        return out


def from_env(prefix: str = "AUTHSEC_") -> Config:
    """Read a Config from ``<prefix>ISSUER``, ``<prefix>JWKS_URL`` (or ``JWKS_URI``), ... with the
    core's reader (reference §1.5). Parses only; call :meth:`Config.validate` to check it."""
    raw = prefix.encode()
    out = ctypes.c_void_p()
    _native.call(_native.lib.authsec_config_from_env, raw, len(raw), ctypes.byref(out))
    return Config.from_core_dict(_native.take_json(out))

"""``authsec_sdk.runtime``: the AuthSec SDK runtime API (``Config``, ``mount_mcp``, ``Runtime``,
``Principal``, ...) over libauthsec. The seed's quickstart runs unchanged::

    from authsec_sdk.runtime import Config, PolicyMode, ValidationMode, mount_mcp
    cfg = Config(issuer=..., ..., policy_mode=PolicyMode.REMOTE_REQUIRED,
                 validation_mode=ValidationMode.JWT_AND_INTROSPECT, publish_manifest=True)
    app = FastAPI()
    mount_mcp(app, "/mcp", your_existing_mcp_handler, cfg)
"""

from __future__ import annotations

from .._codes import ErrorCode
from .._native import AuthsecError, ConfigError
from .config import Config, PolicyMode, ToolInventoryProvider, ValidationMode, from_env
from .engine import METRICS_CONTENT_TYPE, AuthorizeDenial, AuthorizeResult, Decision, FilterResult, Runtime
from .errors import (
    AuthorizationError,
    InsufficientScopeError,
    PolicyIncompleteError,
    PolicyUnavailableError,
    StartupError,
    TokenInactiveError,
    TokenInvalidError,
)
from .manifest import ManifestTool
from .mcp_auth import AuthSecTokenVerifier
from .principal import Principal, principal_from_context, user_info_from_context
from .server import AuthSecMiddleware, mount_mcp

__all__ = [
    "AuthSecMiddleware",
    "AuthSecTokenVerifier",
    "AuthorizationError",
    "AuthorizeDenial",
    "AuthorizeResult",
    "AuthsecError",
    "Config",
    "ConfigError",
    "Decision",
    "ErrorCode",
    "FilterResult",
    "InsufficientScopeError",
    "METRICS_CONTENT_TYPE",
    "ManifestTool",
    "PolicyIncompleteError",
    "PolicyMode",
    "PolicyUnavailableError",
    "Principal",
    "Runtime",
    "StartupError",
    "TokenInactiveError",
    "TokenInvalidError",
    "ToolInventoryProvider",
    "ValidationMode",
    "from_env",
    "mount_mcp",
    "principal_from_context",
    "user_info_from_context",
]

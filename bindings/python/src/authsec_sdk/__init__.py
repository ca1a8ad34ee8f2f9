"""authsec for Python. The API is :mod:`authsec_sdk.runtime`; the seed's decorators
(``protected_by_AuthSec``, ``mcp_tool``, and ``tool_rbac`` to put them in the configuration)
are here, as in the seed."""

from ._native import version
from .decorators import Session, mcp_tool, protected_by_AuthSec, tool_rbac
from .oauth_server import build_mcp_app_with_oauth, run_mcp_server_with_oauth

from typing import Any

__all__ = ["ServiceAccessSDK", "Session", "build_mcp_app_with_oauth", "mcp_tool", "protected_by_AuthSec",
           "run_mcp_server_with_oauth", "tool_rbac", "version"]


def __getattr__(name: str) -> Any:
    # The seed's ``from authsec_sdk import ServiceAccessSDK``, loaded on first use.
    if name == "ServiceAccessSDK":
        from .services import ServiceAccessSDK
        return ServiceAccessSDK
    raise AttributeError(f"module 'authsec_sdk' has no attribute {name!r}")

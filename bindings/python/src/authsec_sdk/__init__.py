"""authsec for Python. The API is :mod:`authsec_sdk.runtime`; the seed's decorators
(``protected_by_AuthSec``, ``mcp_tool``, and ``tool_rbac`` to put them in the configuration)
are here, as in the seed."""

from ._native import version
from .decorators import Session, mcp_tool, protected_by_AuthSec, tool_rbac

from typing import Any

__all__ = ["ServiceAccessSDK", "Session", "mcp_tool", "protected_by_AuthSec", "tool_rbac",
           "version"]


def __getattr__(name: str) -> Any:
    # The seed's ``from authsec_sdk import ServiceAccessSDK``, loaded on first use.
    if name == "ServiceAccessSDK":
        from .services import ServiceAccessSDK
        return ServiceAccessSDK
    raise AttributeError(f"module 'authsec_sdk' has no attribute {name!r}")

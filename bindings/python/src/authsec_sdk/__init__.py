"""authsec for Python. The API is :mod:`authsec_sdk.runtime`; the seed's decorators
(``protected_by_AuthSec``, ``mcp_tool``, and ``tool_rbac`` to put them in the configuration)
are here, as in the seed."""

from ._native import version
from .decorators import Session, mcp_tool, protected_by_AuthSec, tool_rbac

__all__ = ["Session", "mcp_tool", "protected_by_AuthSec", "tool_rbac", "version"]

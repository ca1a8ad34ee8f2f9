"""authsec for Python. The API is :mod:`authsec_sdk.runtime`; the seed's decorators
(``protected_by_AuthSec``, ``mcp_tool``, and ``tool_rbac`` to put them in the configuration)
are here, as in the seed."""

from ._native import version
from .decorators import Session, mcp_tool, protected_by_AuthSec, tool_rbac
from .oauth_server import build_mcp_app_with_oauth, run_mcp_server_with_oauth

__all__ = ["Session", "build_mcp_app_with_oauth", "mcp_tool", "protected_by_AuthSec", "run_mcp_server_with_oauth",
           "tool_rbac", "version"]

"""The AuthSec blog's decorator example (issue 16) on this project: each tool protected with
``protected_by_AuthSec`` RBAC requirements, an ``mcp`` ``MCPServer`` behind ``mount_mcp``.

    cfg = Config(issuer=..., jwks_url=..., resource_uri=..., tool_rbac=tool_rbac(blog_server))
    mount_mcp(app, "/mcp", build_server(), cfg)

The core decides: ``tools/list`` shows only the tools the caller passes, a call the caller
fails is denied before the tool runs, and an allowed tool gets ``arguments["_user_info"]``. Every
requirement is the one the blog post prints (authsec-ai/sdk-authsec README.md, "How It Works" step
4 and "Advanced RBAC Patterns"); see docs/rbac.md for the outcomes with the blog's user (roles
admin, developer; groups engineering; scopes read, write; resources projects, analytics).
"""

from __future__ import annotations

import json
from typing import Any

from authsec_sdk import mcp_tool, protected_by_AuthSec
from authsec_sdk.server_tools import add_fastmcp_tools, mcpserver_tools

#: calculator's declared input: what ``tools/list`` shows for it under MCPServer and FastMCP.
CALCULATOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}


def _text(payload: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": json.dumps(payload)}]


@protected_by_AuthSec("calculator", description="Add two numbers (any signed-in user)",
                      inputSchema=CALCULATOR_SCHEMA)
async def calculator(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    a, b = float(arguments.get("a", 0)), float(arguments.get("b", 0))
    return _text({"result": a + b, "user": arguments["_user_info"]["email"]})


@protected_by_AuthSec("admin_dashboard", roles=["admin"])
async def admin_dashboard(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The admin dashboard (role admin)."""
    return _text({"dashboard": "admin", "user": arguments["_user_info"]["email"]})


@protected_by_AuthSec("view_analytics", resources=["analytics"], scopes=["read"], require_all=True)
async def view_analytics(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Analytics (resource analytics and scope read)."""
    return _text({"analytics": "ok", "user": arguments["_user_info"]["email"]})


@protected_by_AuthSec("view_reports", roles=["admin", "manager", "analyst"], require_all=False)
async def view_reports(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Business reports (role admin, manager or analyst)."""
    return _text({"reports": "ok"})


@protected_by_AuthSec("deploy_production", roles=["admin", "deployer"], scopes=["write"],
                      resources=["production"], require_all=True)
async def deploy_production(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Deploy to production (the blog's own example)."""
    email = arguments["_user_info"]["email"]
    return _text({"deployed": True, "by": email})


@protected_by_AuthSec("engineering_tools", groups=["engineering", "devops"])
async def engineering_tools(arguments: dict[str, Any], session: Any) -> list[dict[str, Any]]:
    """Engineering tools (group engineering or devops); takes the seed's session object too."""
    return _text({"tools": ["build", "test"], "user_id": session.user_id, "tenant_id": session.tenant_id})


@protected_by_AuthSec("sensitive_operations", roles=["admin", "superuser"], groups=["security-team"],
                      scopes=["write", "admin"], resources=["production", "sensitive-data"], require_all=True)
async def sensitive_operations(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Sensitive operations (every category: any one value of each, reference 9)."""
    return _text({"sensitive": "done"})


@mcp_tool(description="Health check without RBAC requirements")
async def ping(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return _text({"pong": True})


PROTECTED = [calculator, admin_dashboard, view_analytics, view_reports, deploy_production,
             engineering_tools, sensitive_operations]


def build_fastmcp() -> Any:
    """The same tools on a FastMCP 4.x server, each declaring its decorator's inputSchema."""
    from fastmcp import FastMCP

    server = FastMCP("authsec-blog-fastmcp")
    add_fastmcp_tools(server, *PROTECTED)
    return server


def build_server() -> Any:
    """An ``mcp`` ``MCPServer`` with the blog's tools, each declaring its decorator's
    inputSchema (``tools/list``) and receiving the client's ``arguments`` whole."""
    from mcp.server.mcpserver import MCPServer

    return MCPServer("authsec-blog", tools=mcpserver_tools(*PROTECTED))

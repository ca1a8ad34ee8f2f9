"""RBAC (issue 16): the blog's server.py (examples/blog_server.py, an ``MCPServer`` with
``protected_by_AuthSec`` tools) behind ``mount_mcp``, driven by the official ``mcp`` client with
oidc-provider tokens carrying the blog user's claims; and the decorators' own rules."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from authsec_sdk import mcp_tool, protected_by_AuthSec, tool_rbac
from authsec_sdk.runtime import Config, mount_mcp

from conftest import ROOT, AuthServer, Served, http

sys.path.insert(0, str(ROOT / "bindings" / "python" / "examples"))
import blog_server  # noqa: E402

DENY_TEXT = ("Tool 'deploy_production' cannot be called by this user (RBAC denied: missing required "
             "resources). Ask an admin to grant the required role, group, resource, scope or permission, "
             "or use a different tool.")


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def session_run(url: str, token: str, fn: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await fn(session)


@pytest.mark.parametrize("kind", ["mcpserver", "fastmcp"])
def test_blog_server_behind_mount_mcp(kind: str, oidc: AuthServer, mcp_ports: dict[str, int]) -> None:
    port = mcp_ports["blog" if kind == "mcpserver" else "blog_fastmcp"]
    url = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(issuer=oidc.issuer, jwks_url=f"{oidc.issuer}/jwks", resource_uri=url,
                 tool_rbac=tool_rbac(blog_server))
    app = FastAPI()
    handler = blog_server.build_server() if kind == "mcpserver" else blog_server.build_fastmcp()
    mount_mcp(app, "/mcp", handler, cfg)
    token = oidc.token("mcp-blog", url, scope="read write")

    async def flow(session: ClientSession) -> dict[str, Any]:
        listed = await session.list_tools()
        out: dict[str, Any] = {"names": sorted(t.name for t in listed.tools),
                               "schemas": {t.name: t.input_schema for t in listed.tools}}
        for name in ("calculator", "admin_dashboard", "view_analytics", "engineering_tools",
                     "deploy_production", "view_reports", "sensitive_operations"):
            out[name] = await session.call_tool(name, {"a": 2, "b": 3.5} if name == "calculator" else {})
        return out

    with Served(app, port):
        out = asyncio.run(session_run(url, token, flow))
        # the list shows exactly the tools the blog's user passes
        assert out["names"] == ["admin_dashboard", "calculator", "engineering_tools", "view_analytics", "view_reports"]
        # each tool declares its decorator's inputSchema (the seed's default: an empty object)
        assert out["schemas"]["calculator"] == blog_server.CALCULATOR_SCHEMA
        assert out["schemas"]["admin_dashboard"] == {"type": "object", "properties": {}}
        # and gets the client's arguments object whole, with _user_info added
        assert json.loads(text_of(out["calculator"]))["result"] == 5.5
        for name in ("calculator", "admin_dashboard", "view_analytics"):
            assert out[name].is_error is not True, text_of(out[name])
            assert json.loads(text_of(out[name]))["user"] == "dev@example.com"  # _user_info inside the tool
        eng = json.loads(text_of(out["engineering_tools"]))
        assert eng == {"tools": ["build", "test"], "user_id": "mcp-blog", "tenant_id": "tenant-a"}
        # denied calls: the core's in-band denial with the RBAC reason; the tool never ran
        denied = out["deploy_production"]
        assert denied.is_error is True and text_of(denied) == DENY_TEXT
        meta = (denied.meta or {}).get("authsec", {})
        assert meta == {"error": "insufficient_scope", "status": 403,
                        "error_description": "RBAC denied: missing required resources", "tool": "deploy_production"}
        assert out["view_reports"].is_error is not True and json.loads(text_of(out["view_reports"])) == {"reports": "ok"}
        assert (out["sensitive_operations"].meta or {})["authsec"]["error_description"] == \
            "RBAC denied: missing required groups, resources"
        # a client that is not JSON-RPC gets the 403 with the reason
        status, headers, body = http("POST", url, {"method": "tools/call", "params": {"name": "deploy_production"}},
                                     {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"})
        assert status == 403, body
        assert json.loads(body) == {"error": "insufficient_scope", "error_description": "RBAC denied: missing required resources",
                                    "tool": "deploy_production"}
        assert headers["www-authenticate"].endswith('error="insufficient_scope", error_description="RBAC denied: missing required resources"')


def test_wrapper_refuses_without_a_caller() -> None:
    ran: list[Any] = []

    @protected_by_AuthSec("t", roles=["admin"])
    async def t(arguments: dict[str, Any]) -> list[dict[str, Any]]:
        ran.append(arguments)
        return []

    out = asyncio.run(t({"x": 1}))
    assert ran == []
    assert json.loads(out[0]["text"]) == {"error": "Access denied", "message":
        "no authenticated AuthSec caller: serve this tool behind mount_mcp with tool_rbac", "tool": "t"}


def test_tool_rbac_and_validation() -> None:
    @protected_by_AuthSec("a", roles=["admin"], require_all=True)
    async def a(arguments: dict[str, Any]) -> list[Any]:
        return []

    @protected_by_AuthSec("a", roles=["other"])
    async def a2(arguments: dict[str, Any]) -> list[Any]:
        return []

    @mcp_tool()
    async def plain(arguments: dict[str, Any]) -> list[Any]:
        """Plain tool."""
        return []

    assert tool_rbac(a) == {"a": {"roles": ["admin"], "groups": [], "resources": [], "scopes": [],
                                  "permissions": [], "require_all": True}}
    assert getattr(plain, "_mcp_tool_description") == "Plain tool."
    with pytest.raises(ValueError, match="protected twice"):
        tool_rbac(a, a2)
    with pytest.raises(TypeError):
        tool_rbac(plain)
    with pytest.raises(ValueError):
        protected_by_AuthSec("x", roles=[""])
    with pytest.raises(TypeError):
        protected_by_AuthSec("x", roles="admin")  # type: ignore[arg-type]
    blog = tool_rbac(blog_server)
    assert sorted(blog) == ["admin_dashboard", "calculator", "deploy_production", "engineering_tools",
                            "sensitive_operations", "view_analytics", "view_reports"]
    assert blog["deploy_production"] == {"roles": ["admin", "deployer"], "groups": [], "resources": ["production"],
                                         "scopes": ["write"], "permissions": [], "require_all": True}


def test_wrapper_reads_the_request_context_and_never_a_finished_request() -> None:
    from authsec_sdk.runtime.principal import _UserInfoSlot, _user_info_ctx

    seen: list[Any] = []

    @protected_by_AuthSec("t")
    async def t(arguments: dict[str, Any], session: Any) -> list[dict[str, Any]]:
        seen.append((arguments["_user_info"]["sub"], session.user_id, session.tenant_id))
        return [{"type": "text", "text": "ok"}]

    slot = _UserInfoSlot({"sub": "u-1", "tenant_id": "t-1"})
    token = _user_info_ctx.set(slot)
    try:
        assert asyncio.run(t({})) == [{"type": "text", "text": "ok"}]
        slot.value = None  # the request ended: a task that copied the context sees nothing
        assert json.loads(asyncio.run(t({}))[0]["text"])["error"] == "Access denied"
    finally:
        _user_info_ctx.reset(token)
    assert seen == [("u-1", "u-1", "t-1")]


def test_server_tools_declare_the_decorator_schema_and_refuse_what_they_cannot_map() -> None:
    from mcp.server.mcpserver import MCPServer

    from authsec_sdk.server_tools import add_fastmcp_tools, mcpserver_tools

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}

    @mcp_tool(name="echo", inputSchema=schema)
    async def echo(arguments: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "text", "text": json.dumps(arguments)}]

    async def run() -> tuple[Any, Any]:
        server = MCPServer("t", tools=mcpserver_tools(echo))
        listed = await server.list_tools()
        return listed, await server.call_tool("echo", {"q": "x", "extra": [1]})

    listed, called = asyncio.run(run())
    assert [(t.name, t.input_schema) for t in listed] == [("echo", schema)]
    assert json.loads(called.content[0].text) == {"q": "x", "extra": [1]}
    schema["properties"] = {}  # the registered schema is a copy
    assert listed[0].input_schema["properties"] == {"q": {"type": "string"}}

    async def plain(arguments: dict[str, Any]) -> list[Any]:
        return []

    with pytest.raises(TypeError, match="not made with protected_by_AuthSec or mcp_tool"):
        mcpserver_tools(plain)

    @protected_by_AuthSec("arr", inputSchema={"type": "array"})
    async def arr(arguments: dict[str, Any]) -> list[Any]:
        return []

    with pytest.raises(ValueError, match="inputSchema must be a JSON Schema object"):
        mcpserver_tools(arr)
    from fastmcp import FastMCP

    with pytest.raises(ValueError, match="inputSchema must be a JSON Schema object"):
        add_fastmcp_tools(FastMCP("f"), arr)

"""The official ``mcp`` client (streamable HTTP) against an ``MCPServer`` and a FastMCP server,
both behind ``mount_mcp`` on uvicorn, with tokens from oidc-provider: filtered list, allowed
call, in-band denial, 401 with a challenge whose URL serves the metadata, a revoked opaque token
refused in introspection mode, and the principal inside the tool."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from fastmcp import Context as FastContext, FastMCP

from authsec_sdk.runtime import Config, PolicyMode, ValidationMode, mount_mcp, principal_from_context

from conftest import AuthServer, Served, http

TOOL_SCOPES = {"echo": ["mcp:read"], "whoami": [], "admin_reset": ["mcp:admin"]}


def _subject_from(ctx: Any) -> str:
    req = ctx.request_context.request
    p = getattr(getattr(req, "state", None), "authsec_principal", None)
    return "" if p is None else str(p.subject)


def mcpserver_handler() -> Any:
    server = MCPServer("authsec-e2e")

    @server.tool()
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool()
    def whoami(ctx: Context) -> str:
        return _subject_from(ctx)

    @server.tool()
    def admin_reset() -> str:
        return "reset"

    return server


def fastmcp_handler() -> Any:
    server = FastMCP("authsec-e2e-fastmcp")

    @server.tool
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool
    def whoami(ctx: FastContext) -> str:
        from fastmcp.server.dependencies import get_http_request

        p = getattr(get_http_request().state, "authsec_principal", None)
        return "" if p is None else str(p.subject)

    @server.tool
    def admin_reset() -> str:
        return "reset"

    return server


def config(issuer: str, port: int, **extra: Any) -> Config:
    return Config(
        issuer=issuer,
        jwks_url=f"{issuer}/jwks",
        resource_uri=f"http://127.0.0.1:{port}/mcp",
        resource_name="E2E MCP",
        tool_scopes=dict(TOOL_SCOPES),
        policy_mode=PolicyMode.LOCAL_ONLY,
        **extra,
    )


async def session_run(url: str, token: str, fn: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await fn(session)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def handler_of(kind: str) -> Any:
    """The server under test as ``mount_mcp`` is handed it: the server object, or the ready
    Starlette app the server builds (whose own lifespan ``mount_mcp`` must run: the session
    manager every request needs)."""
    if kind == "mcpserver":
        return mcpserver_handler()
    if kind == "fastmcp":
        return fastmcp_handler()
    if kind == "mcpserver_app":
        return mcpserver_handler().streamable_http_app(streamable_http_path="/mcp")
    assert kind == "fastmcp_app"
    return fastmcp_handler().http_app(path="/mcp")


@pytest.mark.parametrize("kind", ["mcpserver", "fastmcp", "mcpserver_app", "fastmcp_app"])
def test_official_client_behind_mount_mcp(kind: str, oidc: AuthServer, mcp_ports: dict[str, int]) -> None:
    port = mcp_ports[kind]
    handler = handler_of(kind)
    app = FastAPI()
    mount_mcp(app, "/mcp", handler, config(oidc.issuer, port))
    url = f"http://127.0.0.1:{port}/mcp"
    token = oidc.token("mcp-rs256", url)

    async def flow(session: ClientSession) -> dict[str, Any]:
        listed = await session.list_tools()
        echo = await session.call_tool("echo", {"text": "hi"})
        who = await session.call_tool("whoami", {})
        denied = await session.call_tool("admin_reset", {})
        return {"names": sorted(t.name for t in listed.tools), "echo": echo, "who": who, "denied": denied}

    with Served(app, port):
        out = asyncio.run(session_run(url, token, flow))
        # filtered list: admin_reset needs mcp:admin, which the token does not have
        assert out["names"] == ["echo", "whoami"]
        assert out["echo"].is_error is not True and text_of(out["echo"]) == "echo: hi"
        assert text_of(out["who"]) == "mcp-rs256"  # the principal inside the tool (sub)
        # in-band denial written by the core: a tool-result error with the authsec meta
        assert out["denied"].is_error is True
        assert "Tool 'admin_reset' cannot be called with this token." in text_of(out["denied"])
        meta = (out["denied"].meta or {}).get("authsec", {})
        assert meta.get("error") == "insufficient_scope" and meta.get("status") == 403
        assert meta.get("required_scopes") == ["mcp:admin"]

        # 401 without a token, the challenge names the metadata URL, which serves the document
        status, headers, body = http("POST", url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                     {"Accept": "application/json, text/event-stream"})
        assert status == 401
        challenge = headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="E2E MCP", resource_metadata="')
        assert 'error="invalid_token", error_description="missing bearer token"' in challenge
        assert json.loads(body) == {"error": "invalid_token", "error_description": "missing bearer token", "reason": "no_token"}
        m = re.search(r'resource_metadata="([^"]+)"', challenge)
        assert m is not None and m.group(1) == f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        status, headers, body = http("GET", m.group(1))
        assert status == 200
        doc = json.loads(body)
        assert doc["resource"] == url and doc["authorization_servers"] == [oidc.issuer]


def test_revoked_opaque_token_refused_in_introspection_mode(oidc: AuthServer, mcp_ports: dict[str, int]) -> None:
    port = mcp_ports["mcpserver"]
    url = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(
        issuer=oidc.issuer,
        introspection_url=f"{oidc.issuer}/token/introspection",
        introspection_client_id="mcp-rs",
        introspection_client_secret="mcp-rs-secret",
        resource_uri=url,
        tool_scopes=dict(TOOL_SCOPES),
        validation_mode=ValidationMode.INTROSPECTION_ONLY,
    )
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler(), cfg)
    token = oidc.token("mcp-opaque", url)
    assert token.count(".") != 2, "an opaque token"

    async def call(session: ClientSession) -> Any:
        return await session.call_tool("echo", {"text": "before"})

    with Served(app, port):
        before = asyncio.run(session_run(url, token, call))
        assert text_of(before) == "echo: before"
        oidc.revoke("mcp-opaque", token)
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}
        status, headers, raw = http("POST", url, body, {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"})
        # in-band (HTTP 200) tool error, as the core answers a tools/call with a refused token
        assert status == 200
        answer = json.loads(raw)
        assert answer["id"] == 7 and answer["result"]["isError"] is True
        meta = answer["result"]["_meta"]["authsec"]
        assert meta["error"] == "invalid_token" and meta["status"] == 401
        assert meta["error_description"].startswith("introspection returned active=false")
        # without a JSON-RPC body: the plain 401 with the challenge
        status, headers, raw = http("GET", url, None, {"Authorization": f"Bearer {token}"})
        assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]


def test_principal_in_request_state_and_contextvar(oidc: AuthServer, mcp_ports: dict[str, int]) -> None:
    """A Starlette endpoint handler sees the principal in request.state and, through nested
    async calls and a task, in principal_from_context()."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    async def nested() -> str:
        await asyncio.sleep(0)
        p = principal_from_context()
        return "" if p is None else p.subject

    async def endpoint(request: Request) -> JSONResponse:
        state = request.state.authsec_principal
        in_task = await asyncio.create_task(nested())
        return JSONResponse({"state": state.subject, "scopes": state.scopes, "ctx": await nested(), "task": in_task,
                             "aud": state.audience, "iss": state.issuer, "active": state.active,
                             "client_id": state.claims.get("client_id")})

    port = mcp_ports["quickstart"]
    url = f"http://127.0.0.1:{port}/mcp"
    app = FastAPI()
    mount_mcp(app, "/mcp", endpoint, config(oidc.issuer, port))
    token = oidc.token("mcp-es256", url)
    with Served(app, port):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
        status, _, raw = http("POST", url, body, {"Authorization": f"Bearer {token}"})
        assert status == 200, raw
        got = json.loads(raw)
        assert got == {"state": "mcp-es256", "scopes": ["mcp:read", "mcp:write"], "ctx": "mcp-es256", "task": "mcp-es256",
                       "aud": [url], "iss": oidc.issuer, "active": True, "client_id": "mcp-es256"}
        assert principal_from_context() is None  # outside a request


def test_a_session_opened_by_one_caller_is_refused_to_another(oidc: AuthServer, mcp_ports: dict[str, int]) -> None:
    """A stateful ``MCPServer`` session opened with one caller's token: another caller with its
    own valid token and the session id gets the core's 404 ``Session not found`` (docs/sessions.md),
    on POST and on the GET stream, and its own new session works; the owner's tool calls go on and
    read the owner from ``principal_from_context()``."""
    server = MCPServer("authsec-session")

    @server.tool()
    def whoami() -> str:
        p = principal_from_context()
        return "none" if p is None else str(p.subject)

    port = mcp_ports["session"]
    app = FastAPI()
    mount_mcp(app, "/mcp", server, config(oidc.issuer, port))
    url = f"http://127.0.0.1:{port}/mcp"
    first, second = oidc.token("mcp-rs256", url), oidc.token("mcp-es256", url)
    accept = {"Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}

    def open_session(tok: str) -> dict[str, str]:
        status, headers, _ = http("POST", url, init, {**accept, "Authorization": f"Bearer {tok}"})
        assert status == 200 and headers.get("mcp-session-id")
        session = {**accept, "mcp-session-id": headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18",
                   "Authorization": f"Bearer {tok}"}
        status, _, _ = http("POST", url, initialized, session)
        assert status == 202
        return session

    with Served(app, port):
        owner = open_session(first)
        status, _, body = http("POST", url, call, owner)
        assert status == 200 and re.findall(r'"text":"([^"]*)"', body.decode()) == ["mcp-rs256"]
        foreign = {**owner, "Authorization": f"Bearer {second}"}
        status, headers, body = http("POST", url, call, foreign)
        assert status == 404, body
        answer = json.loads(body)
        assert answer["id"] == 2 and answer["error"]["code"] == -32001
        assert answer["error"]["message"] == "Session not found"
        assert answer["error"]["data"]["authsec"]["reason"] == "session_owner_mismatch"
        status, _, body = http("GET", url, None, {**foreign, "Accept": "text/event-stream"})
        assert status == 404 and json.loads(body)["error"]["code"] == -32001
        status, _, body = http("POST", url, call, owner)
        assert status == 200 and re.findall(r'"text":"([^"]*)"', body.decode()) == ["mcp-rs256"]
        own = open_session(second)
        status, _, body = http("POST", url, call, own)
        assert status == 200 and re.findall(r'"text":"([^"]*)"', body.decode()) == ["mcp-es256"]

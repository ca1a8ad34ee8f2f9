"""mount_mcp and AuthSecMiddleware on uvicorn against the fixture backend: the seed quickstart
(unchanged but for URLs and the secret from the environment), startup failure in
remote_required, manifest publishing via the synthetic handshake (MCPServer, FastMCP) and via
tool_inventory_provider, a failed publish logged on authsec.manifest and never fatal, SSE and
JSON tools/list filtering, 413 and bad header bytes refused without calling the handler, the
plain ASGI middleware, and the mcp TokenVerifier adapter."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from authsec_sdk.runtime import (
    AuthSecMiddleware,
    AuthSecTokenVerifier,
    Config,
    ManifestTool,
    PolicyMode,
    StartupError,
    ValidationMode,
    mount_mcp,
)

from conftest import Backend, Served, free_port, http
from test_mcp_e2e import fastmcp_handler, mcpserver_handler

READY = {
    "state": "ready", "policy_complete": True, "generation": 1, "scopes_supported": ["mcp:read"],
    "tool_policy": [
        {"name": "echo", "is_public": False, "required_scopes": ["mcp:read"]},
        {"name": "whoami", "is_public": True, "required_scopes": []},
        {"name": "admin_reset", "is_public": False, "required_scopes": ["mcp:admin"]},
    ],
    "tools": {"echo": ["mcp:read"], "admin_reset": ["mcp:admin"]}, "rs_id": "rs-1", "ttl_seconds": 300,
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def wait_for(pred: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def rpc(method: str, id: int = 1, **params: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params:
        msg["params"] = params
    return msg


def sse_or_json(headers: dict[str, str], body: bytes) -> Any:
    if headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in body.decode().splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return json.loads(body)


def test_seed_quickstart_unchanged(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's five lines, with URLs of the fixture and the secret from the environment."""
    from authsec_sdk.runtime import Config, PolicyMode, ValidationMode, mount_mcp  # noqa: F811 (the seed's import line)

    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "secret-1")
    backend.reset(policy={"status": 200, "body": READY})
    tok = backend.mint({"iss": backend.base, "sub": "user-1", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    backend.control("introspection", {"token": tok, "answer": {"active": True, "sub": "user-1", "scope": "mcp:read", "aud": resource}})
    your_existing_mcp_handler = mcpserver_handler()

    cfg = Config(issuer=backend.base, authorization_server=backend.base, jwks_url=f"{backend.base}/jwks",
                 introspection_url=f"{backend.base}/introspect", introspection_client_id="rs-1",
                 introspection_client_secret=os.environ["AUTHSEC_INTROSPECTION_CLIENT_SECRET"], resource_server_id="rs-1",
                 resource_uri=resource, resource_name="Quickstart MCP", policy_mode=PolicyMode.REMOTE_REQUIRED,
                 validation_mode=ValidationMode.JWT_AND_INTROSPECT, publish_manifest=True)
    app = FastAPI()
    mount_mcp(app, "/mcp", your_existing_mcp_handler, cfg)

    with Served(app, port):
        # the manifest goes out in the background through the handshake against the handler
        manifest = wait_for(lambda: backend.control("last", method="GET").get("manifest"))
        assert sorted(t["name"] for t in manifest["json"]["tools"]) == ["admin_reset", "echo", "whoami"]
        auth = {"Authorization": f"Bearer {tok}", **ACCEPT}
        status, headers, body = http("POST", resource, rpc("initialize", protocolVersion="2025-06-18", capabilities={},
                                                           clientInfo={"name": "t", "version": "1"}), auth)
        assert status == 200, body
        sid = headers.get("mcp-session-id")
        h = {**auth, **({"Mcp-Session-Id": sid} if sid else {}), "MCP-Protocol-Version": "2025-06-18"}
        http("POST", resource, {"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
        status, headers, body = http("POST", resource, rpc("tools/list", 2), h)
        assert status == 200
        assert sorted(t["name"] for t in sse_or_json(headers, body)["result"]["tools"]) == ["echo", "whoami"]
        status, headers, body = http("POST", resource, rpc("tools/call", 3, name="echo", arguments={"text": "q"}), h)
        assert status == 200 and sse_or_json(headers, body)["result"]["content"][0]["text"] == "echo: q"
        counters = backend.control("counters", method="GET")
        assert counters["policy"] >= 1 and counters["introspection"] >= 1


def test_startup_failure_in_remote_required(backend: Backend) -> None:
    backend.reset()  # policy 404
    port = free_port()
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=f"http://127.0.0.1:{port}/mcp",
                 introspection_client_id="rs-1", introspection_client_secret="secret-1", resource_server_id="rs-1",
                 validation_mode=ValidationMode.JWT_ONLY)
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler(), cfg)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(StartupError) as e:
        asyncio.run(start())
    assert str(e.value).startswith("remote_required initial scope matrix fetch failed: scope matrix fetch: HTTP 404")
    # uvicorn refuses to serve it
    with pytest.raises(RuntimeError, match=r"uvicorn did not start \(exit 3\)"):
        with Served(app, port):
            pass


def test_mount_refuses_an_invalid_config_at_once() -> None:
    with pytest.raises(ValueError, match="^issuer is required$"):
        mount_mcp(FastAPI(), "/mcp", mcpserver_handler(), Config(resource_uri="https://m/mcp", jwks_url="https://i/j"))
    with pytest.raises(TypeError, match="mount_mcp: handler must be"):
        mount_mcp(FastAPI(), "/mcp", 42, Config(issuer="https://i", resource_uri="https://m/mcp", jwks_url="https://i/j"))


@pytest.mark.parametrize("kind", ["mcpserver", "fastmcp"])
def test_manifest_via_handshake(kind: str, backend: Backend) -> None:
    backend.reset(policy={"status": 200, "body": READY})
    port = free_port()
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=f"http://127.0.0.1:{port}/mcp",
                 introspection_client_id="rs-1", introspection_client_secret="secret-1", resource_server_id="rs-1",
                 validation_mode=ValidationMode.JWT_ONLY, publish_manifest=True, tool_scope_suggestions={"echo": ["mcp:read"]})
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler() if kind == "mcpserver" else fastmcp_handler(), cfg)
    with Served(app, port):
        manifest = wait_for(lambda: backend.control("last", method="GET").get("manifest"))
    tools = {t["name"]: t for t in manifest["json"]["tools"]}
    assert sorted(tools) == ["admin_reset", "echo", "whoami"]
    assert tools["echo"]["suggested_scopes"] == ["mcp:read"]
    assert tools["echo"]["input_schema"]["properties"]["text"]["type"] == "string"


def test_manifest_via_tool_inventory_provider_and_failure_not_fatal(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    backend.reset(policy={"status": 200, "body": READY})
    port = free_port()

    async def inventory() -> list[Any]:
        return [ManifestTool(name="from_provider", description="P", suggested_scopes=["p:1"])]

    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=f"http://127.0.0.1:{port}/mcp",
                 introspection_client_id="rs-1", introspection_client_secret="secret-1", resource_server_id="rs-1",
                 validation_mode=ValidationMode.JWT_ONLY, publish_manifest=True, tool_inventory_provider=inventory)
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler(), cfg)
    with Served(app, port):
        manifest = wait_for(lambda: backend.control("last", method="GET").get("manifest"))
    assert manifest["json"]["tools"] == [{"name": "from_provider", "description": "P", "suggested_scopes": ["p:1"]}]

    # the backend refuses the manifest: WARNING on authsec.manifest, the server keeps serving
    backend.reset(policy={"status": 200, "body": READY})
    backend.control("outage", {"endpoint": "manifest", "status": 503})
    cfg.tool_inventory_provider = lambda: [{"name": "sync_tool"}]
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler(), cfg)
    caplog.set_level(logging.INFO, logger="authsec.manifest")
    with Served(app, port):
        wait_for(lambda: any(r.name == "authsec.manifest" for r in caplog.records))
        status, _, _ = http("POST", f"http://127.0.0.1:{port}/mcp", rpc("tools/list"), ACCEPT)
        assert status == 401  # still serving, through the core
    rec = [r for r in caplog.records if r.name == "authsec.manifest"]
    assert rec[0].levelno == logging.WARNING and "authsec manifest publish failed (non-fatal)" in rec[0].getMessage()
    assert "secret-1" not in rec[0].getMessage()


def test_manifest_via_the_seeds_rpc_handler(backend: Backend) -> None:
    backend.reset(policy={"status": 200, "body": READY})
    port = free_port()
    seen: list[str] = []

    async def rpc_handler(request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        seen.append(str(request["method"]))
        if request["method"] == "tools/list":
            return {"jsonrpc": "2.0", "id": request["id"], "result": {"tools": [{"name": "via_rpc", "inputSchema": {"type": "object"}}]}}
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": {"protocolVersion": "2025-06-18", "capabilities": {}}}

    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=f"http://127.0.0.1:{port}/mcp",
                 introspection_client_id="rs-1", introspection_client_secret="secret-1", resource_server_id="rs-1",
                 validation_mode=ValidationMode.JWT_ONLY, publish_manifest=True)
    app = FastAPI()
    mount_mcp(app, "/mcp", mcpserver_handler(), cfg, rpc_handler=rpc_handler)
    with Served(app, port):
        manifest = wait_for(lambda: backend.control("last", method="GET").get("manifest"))
    assert manifest["json"]["tools"] == [{"name": "via_rpc", "input_schema": {"type": "object"}}]
    assert seen[:2] == ["server/discover", "initialize"] and seen[-1] == "tools/list"


def _sse_tools_app(content_type: str) -> Any:
    """A plain ASGI MCP endpoint answering tools/list with two tools (SSE or JSON)."""
    calls: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        calls.append(body)
        req = json.loads(body)
        answer = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"tools": [{"name": "echo"}, {"name": "admin_reset"}]}})
        payload = (f"event: message\ndata: {answer}\n\n" if content_type == "text/event-stream" else answer).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload[:10], "more_body": True})
        await send({"type": "http.response.body", "body": payload[10:], "more_body": False})

    app.calls = calls  # type: ignore[attr-defined]
    return app


@pytest.mark.parametrize("ctype", ["text/event-stream", "application/json"])
def test_tools_list_filtering_sse_and_json_and_refusals(ctype: str, backend: Backend) -> None:
    backend.reset()
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource, max_body_bytes=1024,
                 tool_scopes={"echo": ["mcp:read"], "admin_reset": ["mcp:admin"]})
    handler = _sse_tools_app(ctype)
    app = Starlette()
    mount_mcp(app, "/mcp", handler, cfg)
    tok = backend.mint({"iss": backend.base, "sub": "u", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    with Served(app, port):
        status, headers, body = http("POST", resource, rpc("tools/list", 5), {"Authorization": f"Bearer {tok}"})
        assert status == 200 and headers["content-type"] == ctype
        if ctype == "application/json":  # a held JSON answer gets the length of the filtered body
            assert int(headers["content-length"]) == len(body)
        else:  # SSE is streamed event by event: no Content-Length
            assert "content-length" not in headers
        doc = sse_or_json(headers, body)
        assert doc["id"] == 5 and [t["name"] for t in doc["result"]["tools"]] == ["echo"]
        if ctype == "text/event-stream":
            assert body.startswith(b"event: message\ndata: ")
        n = len(handler.calls)
        # 413 for a body over max_body_bytes: the handler is not called
        status, _, body = http("POST", resource, b"{" + b" " * 2000 + b"}", {"Authorization": f"Bearer {tok}"})
        assert status == 413 and json.loads(body)["error_description"] == "request body exceeds max_body_bytes (1024)"
        # header bytes that are not UTF-8: refused, the handler is not called
        import http.client as httpclient

        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/mcp")
        conn.putheader("Authorization", b"Bearer \xff\xfe")
        conn.putheader("Content-Length", "2")
        conn.endheaders(b"{}")
        r = conn.getresponse()
        # header bytes that are not UTF-8: the core cannot decide, the core's fixed 500
        assert r.status == 500 and json.loads(r.read()) == {"error": "server_error", "error_description": "internal error"}
        conn.close()
        assert len(handler.calls) == n


def test_plain_asgi_middleware(backend: Backend) -> None:
    backend.reset()
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                if m["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        seen.append((scope["path"], scope.get("state", {}).get("authsec_principal")))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource, tool_scopes={"echo": ["mcp:read"]})
    app = AuthSecMiddleware(inner, cfg, path="/mcp")
    tok = backend.mint({"iss": backend.base, "sub": "mw-user", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    with Served(app, port):
        assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200  # not protected
        status, headers, _ = http("POST", resource, rpc("tools/call", name="echo", arguments={}))
        assert status == 401 and "resource_metadata=" in headers["www-authenticate"]
        status, _, body = http("POST", resource, rpc("tools/call", name="echo", arguments={}), {"Authorization": f"Bearer {tok}"})
        assert status == 200 and body == b"ok"
        status, _, body = http("GET", f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")
        assert status == 200 and json.loads(body)["resource"] == resource
    assert seen[0] == ("/health", None)
    assert seen[1][0] == "/mcp" and seen[1][1].subject == "mw-user"
    assert len(seen) == 2


def test_plain_asgi_middleware_startup_failure(backend: Backend) -> None:
    backend.reset()
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri="https://mcp.example.com/mcp",
                 introspection_client_id="rs-1", introspection_client_secret="secret-1", resource_server_id="rs-1",
                 validation_mode=ValidationMode.JWT_ONLY)
    sent: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})

    async def go() -> None:
        msgs = [{"type": "lifespan.startup"}]

        async def receive() -> Any:
            return msgs.pop(0)

        async def send(m: Any) -> None:
            sent.append(m)

        with pytest.raises(StartupError):
            await AuthSecMiddleware(inner, cfg)({"type": "lifespan"}, receive, send)

    asyncio.run(go())
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert sent[0]["message"].startswith("remote_required initial scope matrix fetch failed")


def test_token_verifier_adapter(backend: Backend) -> None:
    backend.reset()
    resource = "https://mcp.example.com/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource, policy_mode=PolicyMode.OPEN)
    v = AuthSecTokenVerifier(cfg)
    tok = backend.mint({"iss": backend.base, "sub": "u1", "aud": resource, "scope": "a b", "client_id": "c1", "exp": {"$now": 600}})
    at = asyncio.run(v.verify_token(tok))
    assert at is not None
    assert (at.token, at.client_id, at.scopes, at.resource, at.subject) == (tok, "c1", ["a", "b"], resource, "u1")
    assert isinstance(at.expires_at, int) and at.claims is not None and at.claims["sub"] == "u1"
    bad = backend.mint({"iss": backend.base, "sub": "u1", "aud": "https://other/mcp", "exp": {"$now": 600}})
    assert asyncio.run(v.verify_token(bad)) is None
    assert asyncio.run(v.verify_token("")) is None
    # it satisfies the mcp package's TokenVerifier protocol: MCPServer accepts it
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    MCPServer("x", token_verifier=v, auth=AuthSettings(issuer_url=backend.base, resource_server_url=resource, validate_token_resource=True))


def test_pass_through_has_no_principal_and_a_cut_body_is_never_decided(backend: Backend) -> None:
    """The MCP handshake without a token reaches the handler with no principal (state and
    context variable None); a body cut short by a disconnect reaches neither the core nor the
    handler, and nothing is written."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from authsec_sdk.runtime import principal_from_context
    from authsec_sdk.runtime.server import _Guard
    from authsec_sdk.runtime import Runtime

    calls: list[Any] = []

    async def endpoint(request: Request) -> JSONResponse:
        calls.append((request.state.authsec_principal, principal_from_context()))
        return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {}})

    backend.reset()
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource, tool_scopes={})
    app = Starlette()
    mount_mcp(app, "/mcp", endpoint, cfg)
    with Served(app, port):
        init = rpc("initialize", protocolVersion="2025-06-18", capabilities={}, clientInfo={"name": "t", "version": "1"})
        status, _, _ = http("POST", resource, init, {"Authorization": "Bearer not-a-valid-token"})
        assert status == 200
    assert calls == [(None, None)]

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append("handler")

    sent: list[Any] = []
    msgs = [{"type": "http.request", "body": b'{"jsonrpc":', "more_body": True}, {"type": "http.disconnect"}]

    async def go() -> None:
        async def receive() -> Any:
            return msgs.pop(0)

        async def send(m: Any) -> None:
            sent.append(m)

        scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"content-type", b"application/json")]}
        await _Guard(inner, Runtime(cfg))(scope, receive, send)

    asyncio.run(go())
    assert sent == [] and calls == [(None, None)]


UNDECODABLE = "the MCP server's answer could not be decoded (Content-Encoding)"
TOO_LARGE = "the MCP server's answer exceeds max_body_bytes and cannot be filtered"


@pytest.mark.parametrize("encoding,expect", [("gzip", 200), ("deflate", 200), ("br", UNDECODABLE), ("gzip-bomb", TOO_LARGE)])
def test_compressed_tools_list_is_decoded_and_filtered_or_refused(encoding: str, expect: Any, backend: Backend) -> None:
    """A compressed tools/list answer never passes unfiltered: the core's streaming filter
    decodes it (bounded by max_body_bytes) and the client gets it filtered and uncompressed; an
    answer that does not decode ("br" that is not brotli) or decodes past the limit is the
    core's 502."""
    import gzip
    import zlib

    answer = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "echo"}, {"name": "admin_reset"}]}}).encode()
    if encoding == "gzip":
        payload, header = gzip.compress(answer), b"gzip"
    elif encoding == "deflate":
        payload, header = zlib.compress(answer), b"deflate"
    elif encoding == "br":
        payload, header = answer, b"br"
    else:
        payload, header = gzip.compress(b" " * (17 * 1024 * 1024) + answer), b"gzip"

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-encoding", header)]})
        await send({"type": "http.response.body", "body": payload})

    backend.reset()
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource,
                 tool_scopes={"echo": ["mcp:read"], "admin_reset": ["mcp:admin"]})
    app = Starlette()
    mount_mcp(app, "/mcp", handler, cfg)
    tok = backend.mint({"iss": backend.base, "sub": "u", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    with Served(app, port):
        status, headers, body = http("POST", resource, rpc("tools/list"), {"Authorization": f"Bearer {tok}", "Accept-Encoding": "identity"})
    assert "content-encoding" not in headers
    if expect == 200:
        assert status == 200
        assert [t["name"] for t in json.loads(body)["result"]["tools"]] == ["echo"]
    else:
        assert status == 502
        assert json.loads(body) == {"error": "bad_gateway", "error_description": expect}
        assert b"admin_reset" not in body


def test_sse_refused_mid_stream_ends_the_stream(backend: Backend) -> None:
    """An SSE answer whose first event was forwarded and whose next one the core cannot read:
    the head and the first event went out, the refusal ends the stream (nothing after it)."""
    events = [
        b'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n',
        b"event: message\ndata: {not json admin_reset\n\n",
        b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"admin_reset"}]}}\n\n',
    ]

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for e in events:
            await send({"type": "http.response.body", "body": e, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    backend.reset()
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource,
                 tool_scopes={"echo": ["mcp:read"], "admin_reset": ["mcp:admin"]})
    app = Starlette()
    mount_mcp(app, "/mcp", handler, cfg)
    tok = backend.mint({"iss": backend.base, "sub": "u", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    with Served(app, port):
        status, headers, body = http("POST", resource, rpc("tools/list"), {"Authorization": f"Bearer {tok}"})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert body == events[0]
    assert b"admin_reset" not in body


def test_user_info_of_an_enclosing_request_never_reaches_a_handler_without_rbac(backend: Backend) -> None:
    """Without ``tool_rbac`` the guard leaves the user_info context variable alone when it reads
    None, but a value set around it (an enclosing request's) is replaced for the handler, for an
    allow and for a pass-through, and is back once the request is done."""
    from authsec_sdk.runtime import Runtime, user_info_from_context
    from authsec_sdk.runtime.principal import _UserInfoSlot, _user_info_ctx
    from authsec_sdk.runtime.server import _Guard

    backend.reset()
    resource = "http://127.0.0.1:9/mcp"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=resource,
                 tool_scopes={"echo": ["mcp:read"]})
    tok = backend.mint({"iss": backend.base, "sub": "u-2", "aud": resource, "scope": "mcp:read", "exp": {"$now": 600}})
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["state"]["authsec_user_info"], user_info_from_context()))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"jsonrpc":"2.0","id":1,"result":{}}'})

    async def one(guard: _Guard, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> int:
        msgs = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
        sent: list[Any] = []

        async def receive() -> Any:
            return msgs.pop(0)

        async def send(m: Any) -> None:
            sent.append(m)

        scope = {"type": "http", "method": "POST", "path": "/mcp",
                 "headers": [(b"content-type", b"application/json"), *headers]}
        await guard(scope, receive, send)
        return int(sent[0]["status"])

    async def go() -> list[int]:
        guard = _Guard(inner, Runtime(cfg))
        call = rpc("tools/call", name="echo", arguments={})
        init = rpc("initialize", protocolVersion="2025-06-18", capabilities={}, clientInfo={"name": "t", "version": "1"})
        statuses = [await one(guard, call, [(b"authorization", f"Bearer {tok}".encode())])]  # nothing around it
        token = _user_info_ctx.set(_UserInfoSlot({"sub": "someone-else"}))
        try:
            statuses.append(await one(guard, call, [(b"authorization", f"Bearer {tok}".encode())]))  # an allow
            statuses.append(await one(guard, init, [(b"authorization", b"Bearer not-a-valid-token")]))  # a pass-through
            assert user_info_from_context() == {"sub": "someone-else"}  # the enclosing value is back
        finally:
            _user_info_ctx.reset(token)
        return statuses

    assert asyncio.run(go()) == [200, 200, 200]
    assert seen == [(None, None), (None, None), (None, None)]

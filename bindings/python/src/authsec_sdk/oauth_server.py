"""The seed's ``run_mcp_server_with_oauth``: a complete MCP server over HTTP whose users sign in
through the ``oauth_*`` tools (docs/sign-in.md).

The core decides and writes every byte of the sign-in: the ``oauth_*`` tools' answers, the
signed-out ``tools/list``, the callback page and the ``GET /`` info route; a signed-in
session's ``tools/call`` reaches the tool with the session's principal (so
``protected_by_AuthSec`` hands it ``_user_info``) and its ``tools/list`` is filtered by the core.
This module only serves the seed's JSON-RPC (``initialize``, ``tools/list``, ``tools/call``)
for the tools of ``user_module`` behind :class:`~authsec_sdk.runtime.AuthSecMiddleware`.

Instead of the hosted "SDK manager", the authorization server comes from the configuration:
``config=`` or the ``AUTHSEC_*`` environment (``AUTHSEC_ISSUER``, ``AUTHSEC_JWKS_URL``,
``AUTHSEC_RESOURCE_URI``, ``AUTHSEC_SIGN_IN_*``); ``client_id`` and ``app_name`` are the seed's
arguments and fill ``sign_in.client_id`` / ``sign_in.app_name``.
"""

from __future__ import annotations

import inspect
import json
import secrets
from types import ModuleType
from typing import Any, Callable, Optional

from .decorators import tool_rbac
from .runtime.config import Config, PolicyMode, from_env
from .runtime.server import AuthSecMiddleware

__all__ = ["build_mcp_app_with_oauth", "run_mcp_server_with_oauth"]

#: The protocol revisions this server speaks (it answers the client's when it is one of these).
_PROTOCOLS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")

Tool = tuple[dict[str, Any], Callable[..., Any]]


def _tools_of(user_module: Any) -> dict[str, Tool]:
    """The tools of ``user_module`` (the seed's discovery: public module-level functions made
    with ``protected_by_AuthSec`` or ``mcp_tool``), in attribute order."""
    out: dict[str, Tool] = {}
    items = vars(user_module).items() if isinstance(user_module, ModuleType) else ((getattr(f, "__name__", ""), f) for f in user_module)
    for key, f in items:
        if key.startswith("_") or not callable(f):
            continue
        name = getattr(f, "_authsec_tool_name", None)
        if isinstance(name, str):
            out[name] = ({"name": name, "description": getattr(f, "_tool_description"),
                          "inputSchema": getattr(f, "_tool_inputSchema")}, f)
            continue
        name = getattr(f, "_mcp_tool_name", None)
        if isinstance(name, str):
            out[name] = ({"name": name, "description": getattr(f, "_mcp_tool_description"),
                          "inputSchema": getattr(f, "_mcp_tool_inputSchema")}, f)
    return out


def _content(result: Any) -> list[Any]:
    """A tool's return value as MCP content: the seed's list of content dicts as it is, anything
    else as one text item (JSON for dicts and lists)."""
    if isinstance(result, list) and all(isinstance(c, dict) and "type" in c for c in result):
        return result
    text = result if isinstance(result, str) else json.dumps(result)
    return [{"type": "text", "text": text}]


def _rpc_app(tools: dict[str, Tool], app_name: str) -> Any:
    """The seed's JSON-RPC server (reference §9) as an ASGI app: POST only."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, 405, None, {"allow": "POST"})
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            req = json.loads(body)
        except ValueError:
            await _answer(send, 200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            return
        if not isinstance(req, dict):
            await _answer(send, 200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batches are not served"}})
            return
        method = req.get("method")
        rid = req.get("id")
        raw_params = req.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        if method == "notifications/initialized" or (isinstance(method, str) and method.startswith("notifications/")):
            await _answer(send, 202, None)
            return
        extra: dict[str, str] = {}
        if method == "initialize":
            asked = params.get("protocolVersion")
            result: Any = {"protocolVersion": asked if asked in _PROTOCOLS else "2024-11-05",
                           "capabilities": {"tools": {"listChanged": False}},
                           "serverInfo": {"name": app_name, "version": "1.0.0"}}
            # An MCP session id: oauth_start binds the sign-in to it, so this client's later
            # tools/list is answered for the signed-in user (docs/sign-in.md).
            extra["mcp-session-id"] = secrets.token_urlsafe(32)
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": [t[0] for t in tools.values()]}
        elif method == "tools/call":
            name = params.get("name")
            raw_args = params.get("arguments")
            args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
            tool = tools.get(name) if isinstance(name, str) else None
            if tool is None:
                result = {"content": _content({"error": f"Unknown tool: {name}"})}
            else:
                try:
                    out = tool[1](dict(args))
                    if inspect.isawaitable(out):
                        out = await out
                    result = {"content": _content(out)}
                except Exception as e:  # the seed's "Tool execution failed" content
                    result = {"content": _content({"error": "Tool execution failed",
                                                   "message": f"Internal error in {name}: {type(e).__name__}",
                                                   "tool": name})}
        else:
            await _answer(send, 200, {"jsonrpc": "2.0", "id": rid,
                                      "error": {"code": -32601, "message": f"Method not found: {method}"}})
            return
        await _answer(send, 200, {"jsonrpc": "2.0", "id": rid, "result": result}, extra)

    return app


async def _answer(send: Any, status: int, doc: Optional[dict[str, Any]], extra: Optional[dict[str, str]] = None) -> None:
    body = b"" if doc is None else json.dumps(doc).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if doc is not None:
        headers.append((b"content-type", b"application/json"))
    for k, v in (extra or {}).items():
        headers.append((k.encode(), v.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _config(client_id: str, app_name: str, host: str, port: int, config: Optional[Config]) -> Config:
    cfg = config if config is not None else from_env()
    sign_in = dict(cfg.sign_in or {})
    sign_in["client_id"] = str(client_id).strip().strip("'\"")
    sign_in.setdefault("app_name", app_name)
    if not sign_in.get("redirect_uri"):
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        sign_in["redirect_uri"] = f"http://{shown}:{port}/oauth/callback"
    cfg.sign_in = sign_in
    return cfg


def build_mcp_app_with_oauth(user_module: Any, client_id: str, app_name: str, *, host: str = "0.0.0.0",
                             port: int = 3005, config: Optional[Config] = None) -> AuthSecMiddleware:
    """The ASGI app :func:`run_mcp_server_with_oauth` serves (for tests and custom servers):
    the tools of ``user_module`` at ``/`` behind the core, sign-in on. Raises ``ValueError``
    (``config_invalid``) for an unusable configuration."""
    tools = _tools_of(user_module)
    cfg = _config(client_id, app_name, host, port, config)
    rbac = tool_rbac(*[t[1] for t in tools.values() if hasattr(t[1], "_authsec_tool_name")])
    cfg.tool_rbac = {**(cfg.tool_rbac or {}), **rbac}
    if cfg.tool_scopes is None and cfg.policy_mode is PolicyMode.UNSET and not cfg.resource_server_id:
        # Without a scope map every tool is decided by RBAC alone (unprotected tools: any
        # signed-in user).
        cfg.tool_scopes = {name: [] for name in tools}
    cfg.validate()
    return AuthSecMiddleware(_rpc_app(tools, app_name), cfg)


def run_mcp_server_with_oauth(user_module: Any, client_id: str, app_name: str, host: str = "0.0.0.0",
                              port: int = 3005, spire_socket_path: Optional[str] = None, *,
                              config: Optional[Config] = None) -> None:
    """Serve the tools of ``user_module`` over MCP (HTTP, JSON-RPC at ``/``) with sign-in for
    clients without OAuth: the seed's call. Blocks until the server stops (uvicorn)."""
    if spire_socket_path:
        raise ValueError("spire_socket_path: use authsec_sdk.spiffe and spiffe_endpoint_socket in the config")
    import uvicorn

    app = build_mcp_app_with_oauth(user_module, client_id, app_name, host=host, port=port, config=config)
    uvicorn.run(app, host=host, port=port, log_level="warning")

"""The trivial app of the Python rows of the whole-server load benchmark (scripts/load.sh).

One trivial MCP handler on Starlette (a JSON-RPC ``tools/call`` answered with a fixed small
result, the same bytes as the Node and Rust load servers), served by uvicorn with one worker,
unprotected (``--unprotected``) or mounted with ``mount_mcp`` (``--protected``) of the
``authsec_sdk`` the interpreter has: the reference SDK (``authsec-sdk`` 4.7.3 from PyPI, the
``python`` row's venv) or this project's binding (the ``python-ours`` row's venv), so the two
differ only by the protection. ``mcp_server.py`` serves the seed's own app (an ``mcp``
``MCPServer``) with the same ``serve``.

Configuration comes from the environment (``AUTHSEC_ISSUER``, ``AUTHSEC_JWKS_URL``,
``AUTHSEC_RESOURCE_URI``, ``AUTHSEC_TOOL_SCOPES_JSON``, ``AUTHSEC_POLICY_MODE``,
``AUTHSEC_VALIDATION_MODE``: the SDK's ``from_env``). Listens on 127.0.0.1 (a free port, or
``--port N``) and prints ``READY http://127.0.0.1:<port>`` once started; SIGTERM stops it.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
from typing import Any, AsyncIterator, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

PARSE_ERROR = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'


def mcp_answer(msg: Any) -> bytes | None:
    """The answer to one parsed JSON-RPC message, or None for a notification (HTTP 202)."""
    if not isinstance(msg, dict):
        return PARSE_ERROR
    method = msg.get("method") if isinstance(msg.get("method"), str) else ""
    if "id" not in msg and method.startswith("notifications/"):
        return None
    rid = json.dumps(msg.get("id"), separators=(",", ":"))
    if method == "tools/call":
        return (
            '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"ok"}]}}' % rid
        ).encode()
    return ('{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}' % rid).encode()


async def mcp(request: Request) -> Response:
    """The MCP route handler both variants run."""
    if request.method != "POST":
        return Response(b'{"error":"not_found"}', status_code=404, media_type="application/json")
    try:
        msg = json.loads(await request.body())
    except ValueError:
        return Response(PARSE_ERROR, media_type="application/json")
    answer = mcp_answer(msg)
    if answer is None:
        return Response(b"", status_code=202)
    return Response(answer, media_type="application/json")


def build(protected: bool) -> Starlette:
    runtime: Any = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Starlette 1.x has no on_event, so mount_mcp cannot hook startup: run it here.
        if runtime is not None:
            await runtime.startup()
        ready()
        yield

    app = Starlette(lifespan=lifespan)
    if protected:
        from authsec_sdk.runtime import mount_mcp
        from authsec_sdk.runtime.config import from_env

        runtime = mount_mcp(app, "/mcp", mcp, from_env("AUTHSEC_"))
    else:
        app.add_route("/mcp", mcp, methods=["GET", "POST"])
    return app


PORT = 0


def ready() -> None:
    """The line scripts/load.sh waits for: printed by each app's lifespan once it has started."""
    print(f"READY http://127.0.0.1:{PORT}", flush=True)


def serve(build_app: Callable[[bool], Any]) -> int:
    """Parse ``--protected`` / ``--unprotected`` [``--port N``], build the app with
    ``build_app(protected)`` and serve it with uvicorn, one worker, on 127.0.0.1 until SIGTERM."""
    global PORT
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--protected", action="store_true")
    group.add_argument("--unprotected", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets only when their
    # proto says TCP (a proto of 0 leaves Nagle on: every keep-alive answer then waits ~40 ms
    # for the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    PORT = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(args.protected),
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(serve(build))

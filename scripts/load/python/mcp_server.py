"""The seed's own app in the whole-server load benchmark (scripts/load.sh, rows ``python-mcp-ours``
and ``python-mcp``): an official ``mcp`` 2.3.0 ``MCPServer`` with one tool, ``list_issues``
(a fixed small text), on FastAPI, served by uvicorn with one worker, unprotected
(``--unprotected``: the server's streamable HTTP app routed at ``/mcp``) or behind ``mount_mcp``
(``--protected``) of the ``authsec_sdk`` the interpreter has: this project's binding (the
``python-ours`` venv) or the reference SDK ``authsec-sdk`` 4.7.3 (the ``python`` venv). The
issue's quickstart shape (``app = FastAPI(); mount_mcp(app, "/mcp", handler, cfg)``), so a row's
two servers differ only by the protection.

Why stateless streamable HTTP with JSON responses (``stateless_http=True,
json_response=True``): wrk replays one fixed request on every keep-alive connection, so nothing
can carry a session from one request to the next (``initialize``, its ``Mcp-Session-Id``,
``notifications/initialized``). A stateless server answers a ``tools/call`` without a session
(a fresh transport per request, as a horizontally scaled deployment runs it), and a JSON answer
is one ``application/json`` body the wrk script compares byte for byte, where an SSE stream
would frame it in an event. Each wrk request is then one self-contained ``tools/call``, the same
request as every other row (scripts/load/tools_call.lua: ``Accept: application/json,
text/event-stream`` as the transport requires; no ``MCP-Protocol-Version``, which a stateless
server does without). The reference SDK 4.7.x sets the same two options on a FastMCP server it
mounts.

How each SDK mounts it. This project's ``mount_mcp`` takes the ASGI app as it is (``handler``
may be any ASGI app); an ``MCPServer`` object would be mounted with the SDK's defaults
(stateful, SSE), which wrk cannot drive. The reference SDK's ``mount_mcp`` takes a Starlette
endpoint, so the app goes through its public ``wrap_asgi_handler`` (what it does itself for a
server it detects). Handing the reference the ``MCPServer`` object fails with ``mcp`` 2.3.0
(README, "Whole-server load"). The server's session manager (``streamable_http_app``'s own
lifespan, which every request needs) is run by this project's ``mount_mcp`` itself, handed the
ready app; the unprotected host and the reference SDK's host run it here.

Configuration, port and the ``READY`` line as ``server.py`` (whose ``serve`` this uses).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, AsyncIterator

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from starlette.routing import Route

import server as base

#: What ``list_issues`` answers (the expected body in scripts/load.sh is written from it).
ISSUES = "#1 open: login fails"


def issues_server() -> MCPServer:
    """The MCP server: one tool, unstructured output (a text content block only)."""
    mcp = MCPServer("issues")

    @mcp.tool(structured_output=False)
    def list_issues() -> str:
        """The open issues."""
        return ISSUES

    return mcp


def build(protected: bool) -> FastAPI:
    inner = issues_server().streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True
    )
    startup: Any = None
    run_inner = True  # this project's mount_mcp runs the app's lifespan itself

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if run_inner:
                await stack.enter_async_context(inner.router.lifespan_context(inner))  # the session manager
            if startup is not None:
                await startup()
            base.ready()
            yield

    app = FastAPI(lifespan=lifespan)
    if not protected:
        app.router.routes.append(Route("/mcp", endpoint=inner))
        return app
    from authsec_sdk import runtime as sdk
    from authsec_sdk.runtime.config import from_env

    cfg = from_env("AUTHSEC_")
    wrap = getattr(sdk, "wrap_asgi_handler", None)
    if wrap is None:
        # This project's binding: the ASGI app as the handler; mount_mcp chains the startup
        # sequence and the app's own lifespan into the host's lifespan itself.
        run_inner = False
        sdk.mount_mcp(app, "/mcp", inner, cfg)
    else:
        # The reference SDK: hooks startup with on_event only when the app has it, so it is
        # run here (as server.py does), inside the session manager.
        startup = sdk.mount_mcp(app, "/mcp", wrap(inner), cfg).startup
    return app


if __name__ == "__main__":
    sys.exit(base.serve(build))

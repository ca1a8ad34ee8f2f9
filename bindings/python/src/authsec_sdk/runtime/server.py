"""``mount_mcp`` (FastAPI / Starlette), ``AuthSecMiddleware`` (any ASGI app) and the glue that
puts every request through the core.

The core writes every byte of every denial, of the metadata document and of a filtered
``tools/list``; this module reads the request body (up to ``max_body_bytes``), asks the core,
and either writes the core's answer or calls the MCP handler with the body replayed, the
principal in ``request.state.authsec_principal`` (``scope["state"]``) and in the context variable
read by :func:`principal_from_context`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Optional, Union
from urllib.parse import urlsplit

from .._native import AuthsecError
from .config import Config
from .engine import Decision, ResponseFilter, RpcAnswer, Runtime
from .errors import AuthsecResponse
from .principal import _principal_ctx, _user_info_ctx, _UserInfoSlot

__all__ = ["mount_mcp", "AuthSecMiddleware", "asgi_from_handler"]

_LOG = logging.getLogger("authsec.runtime")
_MANIFEST_LOG = logging.getLogger("authsec.manifest")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifespan = Callable[[], contextlib.AbstractAsyncContextManager[Any]]
#: The seed's in-process JSON-RPC handler: (request, headers) -> JSON-RPC answer.
RpcDictHandler = Callable[[dict[str, Any], dict[str, str]], Awaitable[dict[str, Any]]]


# ---------------------------------------------------------------------------------- handlers


def asgi_from_handler(handler: Any, path: str, cfg: Config) -> tuple[ASGIApp, Optional[Lifespan]]:
    """The ASGI app behind ``handler`` and the lifespan it needs run (or ``None``):

    - a FastMCP 4.x server (``http_app``): its app at ``path`` and the app's lifespan;
    - an ``mcp`` 2.x ``MCPServer`` (``streamable_http_app``): its app at ``path`` and
      its app's lifespan (which runs ``session_manager.run()``);
    - a ready Starlette / FastAPI app (for example ``server.streamable_http_app()`` or a FastMCP
      ``http_app()``): the app as it is and its router's lifespan, which the host must run (an
      ``mcp`` app's lifespan starts its session manager; without it every request fails);
    - a Starlette endpoint (``async def endpoint(request) -> Response``);
    - any other ASGI callable, as it is.
    """
    http_app = getattr(handler, "http_app", None)
    if callable(http_app) and not inspect.isclass(handler):
        app = http_app(path=path)
        return app, _router_lifespan(app)
    streamable = getattr(handler, "streamable_http_app", None)
    if callable(streamable) and not inspect.isclass(handler):
        app = streamable(streamable_http_path=path, host=urlsplit(cfg.resource_uri).hostname or "127.0.0.1")
        return app, _router_lifespan(app)  # the app's lifespan runs its session manager
    if not callable(handler):
        raise TypeError(f"mount_mcp: handler must be an ASGI app, a Starlette endpoint, an MCPServer or a FastMCP server (got {type(handler).__name__})")
    if _is_request_endpoint(handler):
        return _endpoint_app(handler), None
    return handler, _router_lifespan(handler)


def _router_lifespan(app: Any) -> Optional[Lifespan]:
    """The lifespan of a Starlette app (``app.router.lifespan_context``) or router, else ``None``
    (a bare ASGI callable has none the host could run)."""
    router = getattr(app, "router", app)
    context = getattr(router, "lifespan_context", None)
    if not callable(context):
        return None
    return lambda: context(app)


def _is_request_endpoint(fn: Any) -> bool:
    """A function taking one positional parameter (a Starlette ``Request``)."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else None
    if target is None:
        return False
    params = [
        p for p in inspect.signature(target).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(params) == 1


def _endpoint_app(endpoint: Callable[[Any], Any]) -> ASGIApp:
    from starlette.requests import Request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = endpoint(Request(scope, receive))
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)

    return app


# ---------------------------------------------------------------------------------- the guard


class _Guard:
    """Puts every HTTP request through the core, then writes the core's answer or calls ``app``.

    The allowed request is the hot path (benchmarks in the README): the body is read once, the
    headers go to the core as the ASGI server gave them (byte pairs, no re-encoding), the
    handler's ``receive`` and ``send`` are small objects rather than per-request closures, and
    the answer is fed to the core's response filter only when the core says it reads it."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rt = self.rt
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        try:
            body = await _read_body(receive, headers, rt.max_body_bytes)
        except _Disconnected:
            return  # the client left before its body arrived: nobody to answer, nothing to call
        method = str(scope["method"])
        path = str(scope["path"])
        query = scope.get("query_string")
        if query:
            # The request target as the client sent it (the sign-in callback reads its query).
            path = f"{path}?{query.decode('latin-1')}"
        try:
            if body is None:
                decision = rt.check_oversized(method, path, headers)
            else:
                # Runtime.check_async, without its coroutine when the core decides from memory.
                found = rt._check_from_memory(method, path, headers, body)
                decision = found if found is not None else await asyncio.to_thread(rt.check, method, path, headers, body)
        except AuthsecError as e:
            # Fail closed: the core did not decide, so the handler is never called.
            await _refuse(send, e)
            return
        kind = decision.kind
        if kind == "respond":
            try:
                assert decision.response is not None
                await _send_response(send, *decision.response)
            finally:
                decision.close()
            return
        # An allow or a pass-through (the MCP handshake without a usable token, which runs with
        # no principal: the state key and the context variable are set to None, never left to
        # what came before).
        principal = decision.lazy_principal()
        # The core's user_info (RBAC configured only): request.state and the context variable;
        # the slot is emptied when the request ends (see _UserInfoSlot).
        info = rt.user_info(decision) if kind == "allow" and rt.cfg.tool_rbac is not None else None
        slot = _UserInfoSlot(info) if info is not None else None
        inner = dict(scope)
        state = scope.get("state")
        inner["state"] = {**state, "authsec_principal": principal, "authsec_user_info": info} if state else {
            "authsec_principal": principal, "authsec_user_info": info
        }
        token = _principal_ctx.set(principal)
        # Without RBAC the variable is left alone when it already reads None (the usual case:
        # one set and reset fewer per request, and one entry fewer in every context the
        # handler's tasks copy); a value from an enclosing request is always replaced.
        info_token = _user_info_ctx.set(slot) if slot is not None or _user_info_ctx.get() is not None else None
        try:
            if not decision.filter_tools_list:
                await self.app(inner, _Replay(body or b"", receive), send)
            else:
                filtered = _FilteredSend(rt, decision, send)
                await self.app(inner, _Replay(body or b"", receive), filtered)
                if filtered.filter is not None and not filtered.closed:
                    await filtered.end()
        finally:
            if slot is not None:
                slot.value = None
            if info_token is not None:
                _user_info_ctx.reset(info_token)
            _principal_ctx.reset(token)
            # An allow's principal reads the decision lazily (request.state, the context
            # variable, possibly kept by the handler): its handle is freed with the last
            # reference. A pass-through's is freed now.
            if kind != "allow":
                decision.close()


class _Replay:
    """The handler's ``receive``: the body read for the check, once, then the server's."""

    __slots__ = ("body", "receive")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: Optional[bytes] = body
        self.receive = receive

    async def __call__(self) -> Message:
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.receive()


class _FilteredSend:
    """The ``send`` of a handler whose answer the core may filter (``tools/list``). At the head
    it asks the core whether it reads an answer of this Content-Type
    (``authsec_decision_filter_reads``); when it does not (a ``tools/call``'s JSON answer) every
    message is forwarded as it is. Otherwise the head is held until the filter's first bytes
    (Content-Length dropped, or set from a held JSON body; Content-Encoding dropped when the
    filter decodes), every chunk is fed, and a refusal (502 unreadable, 503 policy unavailable)
    replaces the answer, or ends the stream when bytes were already sent. A library failure is
    the core's 500 (or ends the stream)."""

    # Defaults on the class: the usual request (passed through at its head) sets one attribute.
    filter: Optional[ResponseFilter] = None
    passthrough = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    head_sent = False
    closed = False  # refused, failed or finished: forward nothing more

    def __init__(self, rt: Runtime, decision: Decision, send: Send) -> None:
        self.rt = rt
        self.decision = decision
        self.send = send

    async def __call__(self, msg: Message) -> None:
        if self.passthrough:
            await self.send(msg)
            return
        if msg["type"] == "http.response.start":
            content_type: Optional[bytes] = None
            for k, v in msg.get("headers", ()):
                if len(k) == 12 and k.lower() == b"content-type":
                    content_type = bytes(v)
                    break
            if not self.decision.reads_response(content_type):
                # The core says the filter would pass this answer unchanged: forward it as it is.
                self.passthrough = True
                await self.send(msg)
                return
            await self._start(msg, content_type)
        elif msg["type"] == "http.response.body":
            if self.closed or self.filter is None:
                return
            chunk = bytes(msg.get("body", b""))
            if chunk and not await self._step(self.filter.feed, chunk):
                return
            if not msg.get("more_body", False):
                await self.end()

    async def _start(self, msg: Message, content_type: Optional[bytes]) -> None:
        """The head of an answer the core reads: start its filter."""
        headers = [(bytes(k), bytes(v)) for k, v in msg.get("headers", [])]
        content_encoding = next((v for k, v in headers if k.lower() == b"content-encoding"), None)
        try:
            f = self.rt.response_filter(
                self.decision,
                None if content_type is None else content_type.decode("latin-1"),
                None if content_encoding is None else content_encoding.decode("latin-1"),
            )
        except AuthsecError as e:
            self.closed = True
            await _refuse(self.send, e)
            return
        if f.passthrough:
            f.close()
            self.passthrough = True
            await self.send(msg)
            return
        self.filter = f
        self.status = int(msg["status"])
        drop = {b"content-length"} | ({b"content-encoding"} if f.drops_content_encoding else set())
        self.headers = [(k, v) for k, v in headers if k.lower() not in drop]

    async def _step(self, fn: Callable[..., tuple[str, Any]], *args: Any) -> bool:
        """One filter step; False when it refused or failed (nothing more is forwarded)."""
        try:
            kind, out = fn(*args)
        except AuthsecError as e:
            await self._stop(None, e)
            return False
        if kind == "respond":
            await self._stop(out, None)
            return False
        if out:
            await self._head()
            await self.send({"type": "http.response.body", "body": out, "more_body": True})
        return True

    async def _stop(self, response: Optional[AuthsecResponse], error: Optional[AuthsecError]) -> None:
        """Forward nothing more: write the refusal (or the core's 500), or end a started stream."""
        self.closed = True
        if self.head_sent:
            what = error.code if error is not None else f"HTTP {response[0] if response else 0}"
            _LOG.error("response filter refused the answer after the stream started (%s): stream ended", what)
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        elif error is not None:
            await _refuse(self.send, error)
        elif response is not None:
            await _send_response(self.send, *response)

    async def _head(self, length: Optional[int] = None) -> None:
        if not self.head_sent:
            self.head_sent = True
            headers = list(self.headers)
            if length is not None:
                headers.append((b"content-length", str(length).encode()))
            await self.send({"type": "http.response.start", "status": self.status, "headers": headers})

    async def end(self) -> None:
        """The end of the handler's body (also when it returned without saying so)."""
        if self.passthrough or self.closed or self.filter is None:
            return
        f = self.filter
        try:
            kind, out = f.finish()
        except AuthsecError as e:
            await self._stop(None, e)
        else:
            if kind == "respond":
                await self._stop(out, None)
            else:
                self.closed = True
                await self._head(len(out) if f.holds_body else None)
                await self.send({"type": "http.response.body", "body": out, "more_body": False})
        finally:
            f.close()


class _Disconnected(Exception):
    """The client disconnected before the whole body arrived."""


async def _read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int) -> Optional[bytes]:
    """The whole body, or ``None`` when it is over ``limit`` (declared or received). A body cut
    short by a disconnect raises :class:`_Disconnected`: a partial body is never decided on."""
    for k, v in headers:
        if len(k) == 14 and k.lower() == b"content-length":
            try:
                if int(v) > limit:
                    return None
            except ValueError:
                pass  # the core decides about a malformed header
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if not msg.get("more_body", False):
            if not chunks and type(chunk) is bytes:
                return chunk  # one message: the usual request, no copy
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    """Run ``app`` and collect its whole answer. Once the answer is complete the app sees
    ``http.disconnect`` (an SSE stream that waits for the client to go away ends then)."""
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    done = asyncio.Event()

    async def send(msg: Message) -> None:
        nonlocal status, headers
        if msg["type"] == "http.response.start":
            status = int(msg["status"])
            headers = [(bytes(k), bytes(v)) for k, v in msg.get("headers", [])]
        elif msg["type"] == "http.response.body":
            chunks.append(bytes(msg.get("body", b"")))
            if not msg.get("more_body", False):
                done.set()

    async def recv() -> Message:
        if done.is_set():
            return {"type": "http.disconnect"}
        got = asyncio.ensure_future(receive())
        finished = asyncio.ensure_future(done.wait())
        await asyncio.wait({got, finished}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        if got.done():
            return got.result()
        got.cancel()
        return {"type": "http.disconnect"}

    task = asyncio.ensure_future(app(scope, recv, send))
    waiter = asyncio.ensure_future(done.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        try:
            await asyncio.wait_for(task, timeout=5)
        except asyncio.TimeoutError:
            pass  # wait_for cancelled it; the answer is complete
    elif task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    if not done.is_set():
        raise RuntimeError("the MCP handler returned without a complete answer")
    return status, headers, chunks


async def _send_response(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers if k.lower() != "content-length"]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _refuse(send: Send, e: AuthsecError) -> None:
    """The core's fixed 500 answer when a call into the library failed (``internal_error``):
    the same bytes in every binding. Never the handler."""
    _LOG.error("authsec could not decide a request (%s): %s", e.code, e.message)
    try:
        await _send_response(send, *Runtime.internal_error_response())
    except AuthsecError:
        body = b'{"error":"server_error"}'
        await _send_response(send, 500, [("content-type", "application/json")], body)


# ---------------------------------------------------------------------------------- manifest


def _handshake_rpc(app: ASGIApp, path: str, cfg: Config) -> Callable[[dict[str, Any], str], Awaitable[RpcAnswer]]:
    """Answers the core's synthetic handshake by calling the MCP app in process."""
    parts = urlsplit(cfg.resource_uri)
    host = (parts.netloc or "127.0.0.1").encode()

    async def rpc(request: dict[str, Any], session_id: str) -> RpcAnswer:
        body = json.dumps(request).encode()
        headers = [
            (b"host", host),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"content-length", str(len(body)).encode()),
        ]
        if isinstance(request.get("method"), str):
            headers.append((b"mcp-method", request["method"].encode()))
        if session_id:
            headers.append((b"mcp-session-id", session_id.encode()))
        scope: Scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": parts.scheme or "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": b"", "headers": headers, "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "127.0.0.1", parts.port or 80), "state": {},
        }

        status, resp_headers, chunks = await _capture(app, scope, _Replay(body, _no_client))
        h = {k.lower(): v.decode("latin-1") for k, v in resp_headers}
        return status, h.get(b"content-type", "application/json"), b"".join(chunks), h.get(b"mcp-session-id")

    return rpc


async def _no_client() -> Message:
    await asyncio.Event().wait()  # no client: _capture answers http.disconnect
    return {"type": "http.disconnect"}


async def publish_manifest_safe(
    rt: Runtime, cfg: Config, app: Optional[ASGIApp], path: str, rpc_handler: Optional[RpcDictHandler] = None
) -> Optional[dict[str, Any]]:
    """Publish the manifest from ``cfg.tool_inventory_provider`` or, without one, through the
    synthetic handshake against ``app``. Never raises: failures are logged at WARNING on
    ``authsec.manifest``."""
    try:
        if cfg.tool_inventory_provider is not None:
            tools: Any = cfg.tool_inventory_provider()
            if inspect.isawaitable(tools):
                tools = await tools
            report = await rt.publish_manifest(list(tools))
        elif rpc_handler is not None:
            report = await rt.publish_manifest_handshake(_rpc_from_dict_handler(rpc_handler))
        elif app is not None:
            report = await rt.publish_manifest_handshake(_handshake_rpc(app, path, cfg))
        else:
            raise ValueError("no tool_inventory_provider and no MCP handler to enumerate tools")
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - never fatal
        _MANIFEST_LOG.warning("authsec manifest publish failed (non-fatal): %s", e)
        return None
    _MANIFEST_LOG.info(
        "authsec manifest published for resource_server_id=%s: %s", cfg.resource_server_id, report
    )
    return report


@contextlib.asynccontextmanager
async def _serving(
    rt: Runtime, cfg: Config, app: Optional[ASGIApp], path: str, inner: Optional[Lifespan],
    rpc_handler: Optional[RpcDictHandler] = None,
) -> AsyncIterator[None]:
    """The seed's startup sequence inside the host's lifespan: the first policy fetch (fatal in
    ``remote_required``), the handler's own lifespan (the MCP session manager), then the
    manifest in the background."""
    # The policy fetch comes first, outside the handler's lifespan, so a fatal failure surfaces
    # as itself (not wrapped by the session manager's task group) and nothing was started.
    await rt.startup()
    async with contextlib.AsyncExitStack() as stack:
        if inner is not None:
            await stack.enter_async_context(inner())
        task: Optional[asyncio.Task[Any]] = None
        if cfg.publish_manifest:
            task = asyncio.create_task(publish_manifest_safe(rt, cfg, app, path, rpc_handler))
        try:
            yield
        finally:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


# ---------------------------------------------------------------------------------- mount_mcp


def _rpc_from_dict_handler(rpc_handler: RpcDictHandler) -> Callable[[dict[str, Any], str], Awaitable[RpcAnswer]]:
    async def rpc(request: dict[str, Any], session_id: str) -> RpcAnswer:
        headers = {"mcp-session-id": session_id} if session_id else {}
        answer = await rpc_handler(request, headers)
        return 200, "application/json", json.dumps(answer).encode(), None

    return rpc


def mount_mcp(app: Any, path: str, handler: Any, cfg: Config, *, rpc_handler: Optional[RpcDictHandler] = None) -> Runtime:
    """Protect ``handler`` at ``path`` on a FastAPI / Starlette ``app``.

    Validates ``cfg`` now (``ValueError`` with the reference's message), adds the RFC 9728
    metadata route and the protected route (every method goes through the core), and chains
    into the app's lifespan: the first policy fetch (fatal in ``remote_required``: the app does
    not start), the handler's own lifespan, and the manifest publish in the background (from
    ``cfg.tool_inventory_provider``, else the seed's ``rpc_handler`` if given, else a synthetic
    handshake against the handler). Returns the :class:`Runtime`.
    """
    from starlette.routing import Route

    rt = Runtime(cfg)
    inner_app, inner_lifespan = asgi_from_handler(handler, path, cfg)
    guard = _Guard(inner_app, rt)
    # The MCP route first: the router tries routes in order, and it is the one every call takes.
    app.router.routes.append(Route(path, endpoint=guard))
    app.router.routes.append(Route(rt.metadata_path, endpoint=guard))

    original = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with _serving(rt, cfg, inner_app, path, inner_lifespan, rpc_handler):
            async with original(a) as state:
                yield state

    app.router.lifespan_context = lifespan
    return rt


class AuthSecMiddleware:
    """Plain ASGI middleware for any ASGI framework: requests to ``path`` (every request when
    ``None``) and to the metadata path go through the core; others go to ``app`` untouched.
    On ``lifespan.startup`` it runs the startup sequence (a fatal policy fetch reports
    ``lifespan.startup.failed``) and publishes the manifest in the background."""

    def __init__(self, app: ASGIApp, config: Union[Config, Runtime], *, path: Optional[str] = None) -> None:
        self.runtime = config if isinstance(config, Runtime) else Runtime(config)
        self.cfg = self.runtime.cfg
        self.path = path
        self._guard = _Guard(app, self.runtime)
        self._app = app
        self._serving: Optional[contextlib.AbstractAsyncContextManager[None]] = None

    def _protects(self, path: str) -> bool:
        return self.path is None or path == self.path or path == self.runtime.metadata_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http" and self._protects(str(scope["path"])):
            await self._guard(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_receive() -> Message:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                self._serving = _serving(self.runtime, self.cfg, self._app, self.path or self.runtime.resource_path, None)
                try:
                    await self._serving.__aenter__()
                except Exception as e:
                    self._serving = None
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    raise
            elif msg["type"] == "lifespan.shutdown" and self._serving is not None:
                await self._serving.__aexit__(None, None, None)
            return msg

        await self._app(scope, wrapped_receive, send)

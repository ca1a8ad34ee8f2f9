"""``Runtime``: one libauthsec runtime, the lower-level API under ``mount_mcp``.

The core decides every request (``check``): allow (call the handler), respond (write the core's
status, headers and body byte for byte) or pass through (the MCP handshake). ``filter_response``
rewrites a ``tools/list`` answer. ``validate_token`` and ``authorize`` are the AuthSec SDK's
exception-raising helpers for hosts that write their own middleware; they ask the core the same
question ``mount_mcp`` asks and translate its answer into the SDK's exception types.

Blocking calls (a check that must fetch a JWKS or introspect, startup, manifest publishing) run in
a worker thread from the ``async`` methods; every foreign call releases the GIL. The per-request
calls go through the compiled cffi extension (``_native.fast``), the rest through ctypes
(``_native.lib``; see ``authsec_sdk._native``).
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import json
import logging
import struct
import threading
import weakref
from dataclasses import dataclass
from itertools import chain
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Optional, Union
from urllib.parse import urlsplit

from .. import _native
from .._codes import ErrorCode
from .._native import AuthsecError, ffi, fast
from .config import Config, PolicyMode
from .errors import (
    AuthorizationError,
    AuthsecResponse,
    InsufficientScopeError,
    PolicyIncompleteError,
    PolicyUnavailableError,
    StartupError,
    TokenInactiveError,
    TokenInvalidError,
)
from .manifest import tool_to_json
from .principal import Principal, _LazyPrincipal

__all__ = ["AuthorizeDenial", "AuthorizeResult", "Runtime", "Decision", "FilterResult", "ResponseFilter", "RpcAnswer", "RpcHandler"]

_LOG = logging.getLogger("authsec.runtime")

#: Headers as (name, value) pairs of str (latin-1 / UTF-8) or bytes.
HeaderPairs = Iterable[tuple[Any, Any]]

#: The answer of the MCP endpoint to one handshake request: (status, content type, body, the
#: ``Mcp-Session-Id`` it issued or ``None``).
RpcAnswer = tuple[int, str, bytes, Optional[str]]
#: Answers one JSON-RPC request (the decoded object) for the given session id ("" before one).
RpcHandler = Callable[[dict[str, Any], str], Awaitable[RpcAnswer]]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of :meth:`Runtime.metrics` (Prometheus text format 0.0.4)."""


#: The encoded methods of every request, computed once.
_METHODS = {m: m.encode() for m in ("GET", "POST", "DELETE", "OPTIONS", "HEAD", "PUT", "PATCH")}


def _latin1(text: Any) -> bytes:
    """A header value given as text, as its bytes (bytes-like values as they are)."""
    if isinstance(text, str):
        return text.encode("latin-1")
    return _b(text)


def _b(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)  # a copy of the buffer itself (a subclass's len() is not trusted)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"header names and values must be str or bytes (got {type(value).__name__})")


_BYTES_ONLY = {bytes}
_KINDS = {_native.DECISION_ALLOW: "allow", _native.DECISION_PASS_THROUGH: "pass_through"}
_CHECK_TRY, _CHECK_BLOCKING, _CHECK_OVERSIZED = 0, 1, 2


def _lens_struct(count: int) -> struct.Struct:
    """The packing of ``count`` header pairs' lengths: native ``size_t`` values (format ``N``,
    native mode), what ``authsec_py_check`` reads. Kept per pair count up to 64 (a request with
    more headers than that gets a new one: the cache cannot be grown by a client)."""
    s = _LENS_STRUCTS.get(count)
    if s is None:
        s = struct.Struct(f"{2 * count}N")
        if count <= 64:
            _LENS_STRUCTS[count] = s
    return s


_LENS_STRUCTS: dict[int, struct.Struct] = {}


def _flat_headers(headers: HeaderPairs) -> tuple[bytes, bytes, int]:
    """The headers as ``authsec_py_check`` takes them: names and values back to back, their
    lengths packed as native ``size_t`` values, the pair count. ASGI headers (a list of byte
    pairs) go through C-level loops only; anything else (str, bytearray, a bytes subclass whose
    len() could lie) is converted by :func:`_b` first."""
    pairs = headers if isinstance(headers, list) else list(headers)
    flat = list(chain.from_iterable(pairs))
    if len(flat) != 2 * len(pairs) or set(map(type, flat)) != _BYTES_ONLY:
        flat = list(chain.from_iterable([(_b(k), _b(v)) for k, v in pairs]))
    count = len(pairs)
    return b"".join(flat), _lens_struct(count).pack(*map(len, flat)), count


class Decision:
    """The core's decision for one request. ``kind`` is ``"allow"``, ``"respond"`` or
    ``"pass_through"``. Holds a native handle (freed by :meth:`close` or when collected)."""

    __slots__ = ("_handle", "kind", "filter_tools_list", "_principal", "_lazy", "_response")

    def __init__(self, out: Any) -> None:
        """From the ``authsec_py_check_out`` of a check that ran."""
        handle = out.decision
        self._handle: Any = handle
        self.kind = _KINDS.get(out.kind, "respond")
        self.filter_tools_list = self.kind == "allow" and bool(out.filter_tools_list)
        self._principal: Optional[Principal] = None
        self._lazy: Optional["weakref.ref[Principal]"] = None
        self._response: Optional[AuthsecResponse] = None
        if self.kind == "respond":
            # A respond decision without a response is a library bug; response_parts raises
            # (the host then refuses the request): never an allow.
            self._response = _native.response_parts(fast.authsec_decision_response(handle))

    @property
    def principal(self) -> Optional[Principal]:
        """The principal of an allow decision (``None`` otherwise), read from the core now."""
        if self.kind != "allow":
            return None
        if self._principal is None:
            self._principal = self._build_principal()
        return self._principal

    def lazy_principal(self) -> Optional[Principal]:
        """The principal of an allow decision (``None`` otherwise) whose fields are read from the
        core on first use (what ``mount_mcp`` hands the handler: most handlers never look).
        Until then it keeps this decision, and its native handle, alive: do not :meth:`close`
        the decision before the principal was read. The decision remembers it through a weak
        reference only (the same object while it lives): a strong one both ways would be a
        reference cycle, so every allowed request's decision and principal would wait for the
        cyclic garbage collector instead of going when the request's last reference does."""
        if self.kind != "allow":
            return None
        if self._principal is not None:
            return self._principal
        p = self._lazy() if self._lazy is not None else None
        if p is None:
            if self._handle is None:
                raise AuthsecError(3, "the decision is closed")
            p = _LazyPrincipal(self._build_principal)
            self._lazy = weakref.ref(p)
        return p

    def _build_principal(self) -> Principal:
        if self._handle is None:
            raise AuthsecError(3, "the decision is closed")
        h = self._handle
        raw = _native.cview(fast.authsec_decision_principal_json(h))
        p = Principal.from_core(json.loads(raw))
        # The derived fields come from the core's accessors (one rule for every binding).
        p.client_id = _native.cview(fast.authsec_decision_client_id(h)).decode()
        exp = ffi.new("uint64_t *")
        if fast.authsec_decision_expires_at(h, exp):
            p.expires_at = int(exp[0])
        spiffe_id = _native.cview(fast.authsec_decision_spiffe_id(h)).decode()
        p.spiffe_id = spiffe_id or None
        return p

    @property
    def response(self) -> Optional[AuthsecResponse]:
        """(status, headers, body) to write for a respond decision, else ``None``."""
        return self._response

    def reads_response(self, content_type: Union[str, bytes, None]) -> bool:
        """Whether the handler's answer with this Content-Type (the header's bytes, or text)
        must go through :meth:`Runtime.response_filter` (``authsec_decision_filter_reads``).
        False means the filter would pass it unchanged (a ``tools/call``'s JSON answer): forward
        it as it is. True on any doubt (a closed or non-allow decision)."""
        if self._handle is None:
            return True
        if content_type is None:
            return bool(fast.authsec_decision_filter_reads(self._handle, ffi.NULL, 0))
        ct = content_type if type(content_type) is bytes else _latin1(content_type)
        return bool(fast.authsec_decision_filter_reads(self._handle, ct, len(ct)))

    def handle(self) -> Any:
        """The ``authsec_decision *`` (cffi) of an open decision."""
        if self._handle is None:
            raise AuthsecError(3, "the decision is closed")
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            fast.authsec_decision_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


class FilterResult:
    """The outcome of filtering a ``tools/list`` answer: ``kind`` is ``"unchanged"`` (forward
    the handler's body), ``"rewritten"`` (forward ``body``) or ``"respond"`` (write
    ``response``, e.g. 503 when the policy became unavailable)."""

    __slots__ = ("kind", "body", "response")

    def __init__(self, kind: str, body: bytes = b"", response: Optional[AuthsecResponse] = None) -> None:
        self.kind = kind
        self.body = body
        self.response = response


class ResponseFilter:
    """The core's streaming filter of one handler answer (``Runtime.response_filter``). Feed
    every body chunk, then call :meth:`finish` once; each step gives ``("forward", bytes)`` or
    ``("respond", response)`` (a 502 for an unreadable answer, a 503 when the policy became
    unavailable: forward nothing more). One thread at a time."""

    __slots__ = ("_handle", "passthrough", "drops_content_encoding", "holds_body", "_decision", "_out")

    def __init__(self, handle: Any, decision: Decision) -> None:
        self._handle: Any = handle
        self._decision = decision  # the filter borrows nothing from it, but keep the order of frees
        self.passthrough = bool(fast.authsec_response_filter_passthrough(handle))
        # A pass-through filter changes nothing (the usual case: a tools/call's JSON answer), so
        # the two head rules are asked only of a filter that reads the answer.
        self.drops_content_encoding = not self.passthrough and bool(
            fast.authsec_response_filter_drops_content_encoding(handle)
        )
        self.holds_body = not self.passthrough and bool(fast.authsec_response_filter_holds_body(handle))
        # The out-parameters of every step, allocated once (one thread at a time).
        self._out = (ffi.new("authsec_bytes *"), ffi.new("authsec_response **"), ffi.new("authsec_error **"))

    def _step(self, chunk: Optional[bytes]) -> tuple[str, Any]:
        if self._handle is None:
            raise AuthsecError(3, "the response filter is closed")
        forward, resp, err = self._out
        resp[0] = ffi.NULL
        err[0] = ffi.NULL
        if chunk is None:
            status = fast.authsec_response_filter_finish(self._handle, forward, resp, err)
        else:
            status = fast.authsec_response_filter_feed(self._handle, chunk, len(chunk), forward, resp, err)
        if status != 0:
            raise _native.cerror(status, err[0])
        if resp[0] != ffi.NULL:
            return "respond", _native.response_parts(resp[0])
        return "forward", _native.cview(forward[0])

    def feed(self, chunk: bytes) -> tuple[str, Any]:
        return self._step(bytes(chunk))

    def finish(self) -> tuple[str, Any]:
        return self._step(None)

    def close(self) -> None:
        if self._handle is not None:
            fast.authsec_response_filter_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Runtime:
    """One configured authsec runtime (thread-safe; share one per process).

    ``Runtime(cfg)`` validates ``cfg`` with the core and raises ``ValueError`` (a
    :class:`~authsec_sdk.runtime.ConfigError`, code ``config_invalid``) with the reference's
    message. ``manual_clock=True`` builds a test runtime whose clock moves only with
    :meth:`advance_clock`.
    """

    def __init__(self, cfg: Config, *, manual_clock: bool = False) -> None:
        self._init(cfg.to_core_json(), cfg, manual_clock)

    def _init(self, text: str, cfg: Config, manual_clock: bool) -> None:
        raw = text.encode()
        fn = (
            _native.lib.authsec_runtime_new_with_manual_clock
            if manual_clock
            else _native.lib.authsec_runtime_new
        )
        out = ctypes.c_void_p()
        _native.call(fn, raw, len(raw), ctypes.byref(out))
        self.cfg = cfg
        self._rt: Optional[int] = out.value
        self._c: Any = ffi.cast("authsec_runtime *", out.value or 0)  # the same handle, for cffi
        self._lock = threading.Lock()
        self._audit_callbacks: list[Any] = []
        self.metadata_path = _native.view(_native.lib.authsec_runtime_metadata_path(self._rt)).decode()
        self.max_body_bytes = int(_native.lib.authsec_runtime_max_body_bytes(self._rt))
        self.resource_path = urlsplit(cfg.resource_uri).path or "/"

    @classmethod
    def from_json(cls, text: str, *, manual_clock: bool = False) -> "Runtime":
        """A runtime from the core's snake_case JSON configuration text (a config file), given to
        the core as it is: unknown fields and wrong types are refused with the core's message
        (:class:`~authsec_sdk.runtime.ConfigError`)."""
        rt = cls.__new__(cls)
        rt._rt = None
        rt._c = None
        # The core parses and validates first; only a configuration it accepted is mirrored
        # into a Config (the same JSON, so every key is known).
        probe = Config()
        rt._init(text, probe, manual_clock)
        rt.cfg = Config.from_core_dict(json.loads(text))
        rt.resource_path = urlsplit(rt.cfg.resource_uri).path or "/"
        return rt

    @classmethod
    def from_env(cls, prefix: str = "AUTHSEC_", *, manual_clock: bool = False) -> "Runtime":
        """A runtime from the ``AUTHSEC_*`` environment (the core's reader, see :func:`from_env`)."""
        from .config import from_env

        return cls(from_env(prefix), manual_clock=manual_clock)

    @classmethod
    async def create(cls, cfg: Config) -> "Runtime":
        """Build and run :meth:`startup` (the AuthSec SDK's factory)."""
        rt = cls(cfg)
        await rt.startup()
        return rt

    # ------------------------------------------------------------------ lifecycle

    def _ptr(self) -> int:
        if self._rt is None:
            raise AuthsecError(3, "the runtime is closed")
        return self._rt

    def _cptr(self) -> Any:
        """The runtime's ``authsec_runtime *`` for the extension's calls."""
        if self._rt is None:
            raise AuthsecError(3, "the runtime is closed")
        return self._c

    def close(self) -> None:
        """Drop the native runtime. Decisions already made stay readable."""
        with self._lock:
            if self._rt is not None:
                _native.lib.authsec_runtime_free(self._rt)
                self._rt = None
                self._c = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def startup_blocking(self) -> list[str]:
        """The first remote policy fetch and its mode rules (blocks). Returns warnings; raises
        :class:`PolicyIncompleteError` or :class:`StartupError` when the mode makes it fatal."""
        out = ctypes.c_void_p()
        try:
            _native.call(_native.lib.authsec_runtime_startup, self._ptr(), ctypes.byref(out))
        except AuthsecError as e:
            if e.code == "startup_failed":
                if "policy incomplete" in e.message:
                    incomplete = PolicyIncompleteError(e.message, error="policy_unavailable")
                    incomplete.code = e.code
                    raise incomplete from None
                raise StartupError(e.message) from None
            raise
        warnings = _native.take_json(out) if out.value else []
        return [str(w) for w in warnings]

    async def startup(self) -> list[str]:
        """:meth:`startup_blocking` in a worker thread; each warning is logged at WARNING on
        ``authsec.runtime`` and returned."""
        warnings = await asyncio.to_thread(self.startup_blocking)
        for w in warnings:
            _LOG.warning("%s", w)
        return warnings

    # ------------------------------------------------------------------ requests

    def _check(self, mode: int, method: str, path: str, headers: HeaderPairs, body: bytes) -> tuple[int, Any]:
        """One ``authsec_py_check`` call: (status, its ``authsec_py_check_out``)."""
        blob, lens, count = _flat_headers(headers)
        m = _METHODS.get(method) or method.encode()
        p = path.encode()
        out = ffi.new("authsec_py_check_out *")
        status = fast.authsec_py_check(
            self._cptr(), mode, m, len(m), p, len(p), blob, len(blob), lens, len(lens), count, body, len(body), out
        )
        return status, out

    def _decided(self, status: int, out: Any) -> Decision:
        if status != 0:
            raise _native.cerror(status, out.error)
        return Decision(out)

    def check(self, method: str, path: str, headers: HeaderPairs, body: bytes = b"") -> Decision:
        """Decide one request (may block for a JWKS fetch or an introspection)."""
        return self._decided(*self._check(_CHECK_BLOCKING, method, path, headers, body))

    async def check_async(self, method: str, path: str, headers: HeaderPairs, body: bytes = b"") -> Decision:
        """The decision without stalling the event loop: on the loop when the core decides from
        memory (``authsec_runtime_try_check_request``: every request of a session after its
        first), else :meth:`check` in a worker thread (a key fetch or an introspection)."""
        decision = self._check_from_memory(method, path, headers, body)
        if decision is not None:
            return decision
        return await asyncio.to_thread(self.check, method, path, headers, body)

    def _check_from_memory(self, method: str, path: str, headers: HeaderPairs, body: bytes) -> Optional[Decision]:
        """:meth:`check_async`'s first step, a plain call (no coroutine for the usual request):
        the decision when the core decides from memory, ``None`` when it needs a key fetch or an
        introspection (then :meth:`check` in a worker thread)."""
        status, out = self._check(_CHECK_TRY, method, path, headers, body)
        if status == 0:
            return Decision(out)
        if out.error != ffi.NULL:
            fast.authsec_error_free(out.error)
        if status != ErrorCode.WOULD_BLOCK:
            # Any other refusal: the blocking call reports it the usual way (typed error).
            return self.check(method, path, headers, body)
        return None

    def check_oversized(self, method: str, path: str, headers: HeaderPairs) -> Decision:
        """The decision for a body over :attr:`max_body_bytes` that was not read (413, or the
        metadata document on its route)."""
        return self._decided(*self._check(_CHECK_OVERSIZED, method, path, headers, b""))

    def filter_response(self, decision: Decision, content_type: Optional[str], body: bytes) -> FilterResult:
        """Filter the handler's ``tools/list`` answer (JSON or SSE) for an allow decision."""
        ct = _latin1(content_type) if content_type is not None else ffi.NULL
        ct_len = len(ct) if content_type is not None else 0
        box = ffi.new("authsec_filter_result **")
        _native.ccall(
            fast.authsec_runtime_filter_response, self._cptr(), decision.handle(), ct, ct_len, bytes(body), len(body), box
        )
        out = box[0]
        try:
            kind = fast.authsec_filter_result_get_kind(out)
            if kind == _native.FILTER_UNCHANGED:
                return FilterResult("unchanged")
            if kind == _native.FILTER_REWRITTEN:
                return FilterResult("rewritten", body=_native.cview(fast.authsec_filter_result_body(out)))
            return FilterResult("respond", response=_native.response_parts(fast.authsec_filter_result_response(out)))
        finally:
            fast.authsec_filter_result_free(out)

    def response_filter(
        self, decision: Decision, content_type: Optional[str], content_encoding: Optional[str]
    ) -> ResponseFilter:
        """Start the core's streaming filter of the handler's answer to an allow decision (SSE
        events forwarded as they complete, a JSON answer held to the end, gzip/deflate/br
        decoded)."""
        ct = ffi.NULL if content_type is None else _latin1(content_type)
        ce = ffi.NULL if content_encoding is None else _latin1(content_encoding)
        out = ffi.new("authsec_response_filter **")
        _native.ccall(
            fast.authsec_runtime_response_filter, self._cptr(), decision.handle(),
            ct, 0 if content_type is None else len(ct), ce, 0 if content_encoding is None else len(ce), out,
        )
        return ResponseFilter(out[0], decision)

    @staticmethod
    def internal_error_response() -> AuthsecResponse:
        """The core's answer when a call into the library failed (500 ``server_error``)."""
        return _native.owned_response(fast.authsec_response_internal_error)

    @staticmethod
    def startup_failed_response() -> AuthsecResponse:
        """The core's answer while startup has failed (503 ``temporarily_unavailable``)."""
        return _native.owned_response(fast.authsec_response_startup_failed)

    def metadata(self) -> AuthsecResponse:
        """The RFC 9728 protected-resource metadata answer (status, headers, body)."""
        out = ffi.new("authsec_response **")
        _native.ccall(fast.authsec_runtime_metadata, self._cptr(), out)
        try:
            return _native.response_parts(out[0])
        finally:
            fast.authsec_response_free(out[0])

    def user_info_json(self, decision: Decision) -> str:
        """The core's ``user_info`` document of an allow decision, as JSON text (docs/rbac.md):
        ``sub``, ``email``, ``tenant_id`` and the effective RBAC sets."""
        out = ffi.new("authsec_text **")
        _native.ccall(fast.authsec_runtime_user_info, self._cptr(), decision.handle(), out)
        try:
            return _native.cview(fast.authsec_text_str(out[0])).decode("utf-8")
        finally:
            fast.authsec_text_free(out[0])

    def user_info(self, decision: Decision) -> dict[str, Any]:
        """:meth:`user_info_json` parsed: what a protected tool receives as ``_user_info``."""
        value: dict[str, Any] = json.loads(self.user_info_json(decision))
        return value

    # ------------------------------------------------------------------ service credentials

    def _service(self, export: str, session_id: str, service_name: str) -> str:
        sid = str(session_id).encode("utf-8")
        name = str(service_name).encode("utf-8")
        out = ctypes.c_void_p()
        _native.call(getattr(_native.lib, export), self._ptr(), sid, len(sid), name, len(name),
                     ctypes.byref(out))
        return _native.take_text(out)

    def service_credentials(self, session_id: str, service_name: str) -> dict[str, Any]:
        """The credentials of ``service_name`` for the user of ``session_id`` from the AuthSec
        services API (``services_url``), as the core read them: ``service_id``,
        ``service_name``, ``service_type``, ``auth_type``, ``url``, ``credentials``,
        ``metadata``, ``retrieved_at``. Blocks for the call; :class:`AuthsecError`
        ``services_error`` (never carrying a credential) on failure."""
        value: dict[str, Any] = json.loads(
            self._service("authsec_runtime_service_credentials", session_id, service_name))
        return value

    def service_token(self, session_id: str, service_name: str) -> str:
        """The service's ``credentials.access_token``; ``services_error`` "No access token
        available for <name>" when there is none."""
        return self._service("authsec_runtime_service_token", session_id, service_name)

    def service_user_details(self, session_id: str, service_name: str) -> dict[str, Any]:
        """The user's details at the service, as the services API answers them."""
        value: dict[str, Any] = json.loads(
            self._service("authsec_runtime_service_user_details", session_id, service_name))
        return value

    def wait_policy_refresh(self) -> None:
        """Block until a background policy refresh, if one runs, has finished (tests)."""
        _native.call(_native.lib.authsec_runtime_wait_policy_refresh, self._ptr())

    def advance_clock(self, millis: int) -> None:
        """Move a ``manual_clock`` runtime's clock forward (tests)."""
        _native.call(_native.lib.authsec_runtime_advance_clock, self._ptr(), int(millis))

    # ------------------------------------------------------------------ audit trail and metrics

    def add_audit_callback(self, fn: Callable[[str], None]) -> None:
        """Call ``fn(line)`` with every later audit line (one JSON object and its newline,
        written by the core; schema: docs/audit.md), on the runtime's audit thread, in order.
        The queue in front of it is bounded and never delays a request; an exception in ``fn``
        loses that line only. There is no removal; :meth:`close` delivers what is queued, then
        stops."""
        if not callable(fn):
            raise AuthsecError(ErrorCode.INVALID_INPUT, "add_audit_callback needs a callable")

        def deliver(_ud: Any, line: Any, length: int) -> None:
            try:
                fn(ctypes.string_at(line, length).decode("utf-8", "replace"))
            except Exception:
                pass  # the audit trail never breaks the server

        cb = _native.AUDIT_CALLBACK(deliver)
        with self._lock:
            _native.call(_native.lib.authsec_runtime_add_audit_callback, self._ptr(), cb, None)
            # The library calls it until the runtime is freed: keep it alive as long.
            if not self._audit_callbacks:
                # The audit thread must not call into an interpreter that is shutting down (a
                # thread entering Python then is ended mid-call, through the library's frames:
                # the process aborts). Free the runtime at exit: queued lines are delivered,
                # then the callbacks are detached.
                atexit.register(_close_at_exit, weakref.ref(self))
            self._audit_callbacks.append(cb)

    def add_audit_logger(self, logger: logging.Logger, level: int = logging.INFO) -> None:
        """Log every later audit event to ``logger`` at ``level``: the message is the JSON line
        (without its newline) and the record's ``authsec_event`` attribute the parsed event."""

        def log(line: str) -> None:
            text = line.rstrip("\n")
            logger.log(level, "%s", text, extra={"authsec_event": json.loads(text)})

        self.add_audit_callback(log)

    def flush_audit(self, timeout: float = 5.0) -> bool:
        """Block until every audit line queued before the call has reached every callback (and
        the ``audit_log`` file), at most ``timeout`` seconds; whether it completed. Never call
        it from an audit callback."""
        if not timeout >= 0:
            raise AuthsecError(ErrorCode.INVALID_INPUT, "timeout must be a non-negative number")
        done = ctypes.c_bool(False)
        millis = min(int(timeout * 1000), 2**63)
        _native.call(_native.lib.authsec_runtime_flush_audit, self._ptr(), millis, ctypes.byref(done))
        return bool(done.value)

    def metrics(self) -> str:
        """The runtime's metrics in the Prometheus text format 0.0.4 (serve with
        :data:`METRICS_CONTENT_TYPE`)."""
        out = ctypes.c_void_p()
        _native.call(_native.lib.authsec_runtime_metrics, self._ptr(), ctypes.byref(out))
        return _native.take_text(out)

    # ------------------------------------------------------------------ the SDK's helpers

    def _bearer(self, token: str) -> list[tuple[str, str]]:
        headers = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")]
        if token:
            headers.append(("authorization", f"Bearer {token}"))
        return headers

    async def validate_token(self, token: str) -> Principal:
        """Validate a bearer token (and its audience). Raises :class:`TokenInvalidError` or
        :class:`TokenInactiveError` with the core's description."""
        # tools/list: not a handshake method, so a refused token is never passed through.
        body = b'{"jsonrpc":"2.0","id":0,"method":"tools/list"}'
        d = await self.check_async("POST", self.resource_path, self._bearer(token), body)
        try:
            if d.kind == "allow" and d.principal is not None:
                return d.principal
            raise _denial(d, tool="")
        finally:
            d.close()

    async def authorize(self, token: str, tool: str) -> "AuthorizeResult":
        """The AuthSec SDK's ``authorize``: validate ``token`` and authorize a ``tools/call`` of
        ``tool``; never raises for a denial. ``result.allowed`` with ``result.principal``, or
        ``result.denial`` (code, description, status, www_authenticate, scopes, tool, reason) as
        the core answered."""
        try:
            return AuthorizeResult(allowed=True, principal=await self.authorize_or_raise(token, tool))
        except AuthorizationError as e:
            return AuthorizeResult(allowed=False, denial=AuthorizeDenial.from_error(e))

    async def authorize_or_raise(self, token: str, tool: str) -> Principal:
        """Validate ``token`` and authorize a ``tools/call`` of ``tool``. Returns the principal or
        raises the SDK's exception for the core's denial: :class:`TokenInvalidError`,
        :class:`TokenInactiveError` (401), :class:`InsufficientScopeError` (403),
        :class:`PolicyUnavailableError`, :class:`PolicyIncompleteError` (503)."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": 0, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
        ).encode()
        d = await self.check_async("POST", self.resource_path, self._bearer(token), body)
        try:
            if d.kind == "allow" and d.principal is not None:
                return d.principal
            raise _denial(d, tool=tool)
        finally:
            d.close()

    # ------------------------------------------------------------------ manifest

    def publish_manifest_blocking(self, tools: list[Any]) -> dict[str, Any]:
        """PUT the manifest built from ``tools`` (``ManifestTool``, MCP tool dicts or models).
        Returns the core's report ``{"tools_sent", "tools_seen", "generation"}``."""
        text = json.dumps([tool_to_json(t) for t in tools]).encode()
        out = ctypes.c_void_p()
        _native.call(_native.lib.authsec_runtime_publish_manifest, self._ptr(), text, len(text), ctypes.byref(out))
        report: dict[str, Any] = _native.take_json(out)
        return report

    async def publish_manifest(self, tools: list[Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self.publish_manifest_blocking, tools)

    async def publish_manifest_handshake(self, rpc: RpcHandler) -> dict[str, Any]:
        """Publish the manifest by enumerating the tools through ``rpc`` (initialize,
        notifications/initialized, tools/list pages), which runs on the calling event loop."""
        loop = asyncio.get_running_loop()
        failure: list[BaseException] = []

        def callback(_ud: Any, req: Any, req_len: int, session: Any, answer: Any) -> int:
            # Never let an exception cross into C (ctypes would report 0, i.e. success).
            try:
                request = json.loads(ctypes.string_at(req, req_len))
                sid = _native.view(session).decode()
                fut = asyncio.run_coroutine_threadsafe(_call_rpc(rpc, request, sid), loop)
                status, ctype, body, new_sid = fut.result()
                ct = ctype.encode("latin-1")
                s = new_sid.encode("latin-1") if new_sid else None
                st = _native.lib.authsec_rpc_answer_set(
                    answer, status, ct, len(ct), body, len(body), s, len(s or b"")
                )
                return int(st)
            except BaseException as e:  # noqa: BLE001 - reported after the call
                failure.append(e)
                return 1

        cb = _native.RPC_CALLBACK(callback)

        def run() -> dict[str, Any]:
            out = ctypes.c_void_p()
            _native.call(
                _native.lib.authsec_runtime_publish_manifest_handshake, self._ptr(), cb, None, ctypes.byref(out)
            )
            report: dict[str, Any] = _native.take_json(out)
            return report

        try:
            return await asyncio.to_thread(run)
        except AuthsecError as e:
            if failure:
                raise AuthsecError(e.status, f"{e.message} ({type(failure[0]).__name__}: {failure[0]})") from None
            raise

    @property
    def policy_mode(self) -> PolicyMode:
        """The effective policy mode (the core's inference)."""
        return self.cfg.effective_policy_mode()


@dataclass
class AuthorizeDenial:
    """A denial as :meth:`Runtime.authorize` reports it (the AuthSec SDK's shape). ``code`` is
    the SDK's ``DenialCode``: ``invalid_token``, ``invalid_audience``, ``scope_insufficient`` or
    ``policy_unavailable``; ``www_authenticate`` is the core's challenge."""

    code: str
    description: str
    status: int
    www_authenticate: str
    required_scopes: Optional[list[str]] = None
    granted_scopes: Optional[list[str]] = None
    tool: Optional[str] = None
    reason: Optional[str] = None

    @classmethod
    def from_error(cls, e: AuthorizationError) -> "AuthorizeDenial":
        challenge = ""
        if e.response is not None:
            challenge = next((v for k, v in e.response[1] if k == "www-authenticate"), "")
        code = "scope_insufficient" if e.error == "insufficient_scope" else (e.error or "invalid_token")
        scoped = isinstance(e, InsufficientScopeError)
        return cls(
            code=code,
            description=e.description,
            status=e.status,
            www_authenticate=challenge,
            required_scopes=list(e.required) if scoped else None,  # type: ignore[attr-defined]
            granted_scopes=list(e.granted) if scoped else None,  # type: ignore[attr-defined]
            tool=e.tool if scoped else None,  # type: ignore[attr-defined]
            reason=e.reason or None,
        )


@dataclass
class AuthorizeResult:
    """The result of :meth:`Runtime.authorize`: check ``allowed`` first."""

    allowed: bool
    principal: Optional[Principal] = None
    denial: Optional[AuthorizeDenial] = None


def _close_at_exit(ref: "weakref.ref[Runtime]") -> None:
    rt = ref()
    if rt is not None:
        rt.close()


async def _call_rpc(rpc: RpcHandler, request: dict[str, Any], sid: str) -> RpcAnswer:
    return await rpc(request, sid)


def _authsec_meta(status: int, body: bytes) -> dict[str, Any]:
    """The denial object of a core answer: the HTTP error body, or the in-band ``_meta.authsec``
    / ``error.data.authsec`` of a JSON-RPC answer."""
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if not isinstance(doc, dict):
        return {}
    if status == 200:
        inner = (doc.get("result") or {}).get("_meta", {}).get("authsec") if isinstance(doc.get("result"), dict) else None
        if inner is None and isinstance(doc.get("error"), dict):
            inner = (doc["error"].get("data") or {}).get("authsec")
        return inner if isinstance(inner, dict) else {}
    return doc


def _denial(d: Decision, *, tool: str) -> AuthorizationError:
    """The SDK exception for a non-allow decision."""
    resp = d.response
    if resp is None:
        # pass-through (a handshake without a usable token) is not an authorization
        return TokenInvalidError("token not accepted", error="invalid_token", response=None)
    status, _, body = resp
    meta = _authsec_meta(status, body)
    error = str(meta.get("error", ""))
    desc = str(meta.get("error_description", "")) or f"request refused (HTTP {status})"
    reason = str(meta.get("reason", ""))
    if error == "insufficient_scope":
        return InsufficientScopeError(
            str(meta.get("tool", tool)),
            [str(s) for s in meta.get("required_scopes", [])],
            [str(s) for s in meta.get("granted_scopes", [])],
            description=desc,
            response=resp,
        )
    if error == "policy_unavailable":
        cls = PolicyIncompleteError if "policy incomplete" in desc else PolicyUnavailableError
        return cls(desc, error=error, response=resp)
    if error == "invalid_token" and (reason == "token_revoked" or "active=false" in desc):
        return TokenInactiveError(desc, error=error, reason=reason, response=resp)
    return TokenInvalidError(desc, error=error or "invalid_token", reason=reason, response=resp)

"""The two layers over libauthsec (include/authsec.h) and the few helpers every call needs.

- ``fast`` and ``ffi``: the compiled cffi (API mode) extension ``authsec_sdk._authsec_cffi``
  (built by the package build, see ``_build/authsec_cffi_build.py``) for everything a request
  runs: the check, the decision accessors, ``authsec_decision_filter_reads``, the response
  filter, the responses and errors they return. About a third of ctypes' cost per call, and
  the ``authsec_header[]`` is built in C.
- ``lib``: ctypes declarations for the calls a process makes a few times (configuration,
  runtime construction and startup, manifest publishing, metrics, the audit and handshake
  callbacks, the SPIFFE workload). ctypes is kept there on purpose: those calls are not on the
  request path, and its ``CFUNCTYPE`` callbacks are the only callbacks this package needs (an
  API-mode cffi callback would need ``extern "Python"`` declarations compiled in for each one).

Nothing here decides anything: it moves bytes across the C ABI and turns a non-OK status into an
:class:`AuthsecError` carrying the core's stable code name and message. Both layers release the
GIL for the duration of every foreign call, so a call that blocks on I/O (a JWKS fetch, an
introspection, the startup policy fetch) never stops other Python threads.

The library is the one the package build put into ``authsec_sdk/_lib/``; ``AUTHSEC_LIBRARY``
names another file (a development build). It is loaded once, with ``RTLD_GLOBAL``, before the
extension is imported: the extension is not linked against a path, the dynamic loader resolves
its symbols against this library, so both layers always call the same one.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from ctypes import POINTER, Structure, c_bool, c_char_p, c_size_t, c_uint16, c_uint32, c_uint64
from ctypes import c_void_p
from pathlib import Path
from typing import Any, Callable

from ._codes import NAMES, ErrorCode


class AuthsecError(Exception):
    """A libauthsec call that did not run. ``code`` is the stable name (``"config_invalid"``),
    ``status`` its number. The message never contains a token or a secret."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = NAMES.get(status, "unknown")
        self.message = message


class ConfigError(AuthsecError, ValueError):
    """``config_invalid``: the configuration is unusable. A ``ValueError`` (the AuthSec SDK's
    type for it) whose message is the reference SDK's."""


def error_for(status: int, message: str) -> AuthsecError:
    """The exception for a status: :class:`ConfigError` for ``config_invalid``."""
    if NAMES.get(status) == "config_invalid":
        return ConfigError(status, message)
    return AuthsecError(status, message)


class _Str(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


_P = c_void_p  # every opaque handle
_PP = POINTER(c_void_p)  # every out-parameter of a handle

#: authsec_rpc_callback: (userdata, request_body, request_len, session_id, answer) -> status
# authsec_audit_callback: (user_data, line, len), called on the runtime's audit thread.
AUDIT_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, POINTER(ctypes.c_char), c_size_t)
RPC_CALLBACK = ctypes.CFUNCTYPE(c_uint32, c_void_p, POINTER(ctypes.c_uint8), c_size_t, _Str, c_void_p)

DECISION_ALLOW = 1
DECISION_RESPOND = 2
DECISION_PASS_THROUGH = 3
FILTER_UNCHANGED = 1
FILTER_REWRITTEN = 2
FILTER_RESPOND = 3


def _library_path() -> str:
    override = os.environ.get("AUTHSEC_LIBRARY")
    if override:
        return override
    name = "libauthsec.dylib" if sys.platform == "darwin" else "libauthsec.so"
    return str(Path(__file__).resolve().parent / "_lib" / name)


def _load() -> ctypes.CDLL:
    path = _library_path()
    try:
        # RTLD_GLOBAL: the cffi extension's symbols resolve against this library (see above).
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        raise ImportError(
            f"authsec_sdk: cannot load libauthsec from {path} ({e}); "
            "reinstall with pip install ./bindings/python or set AUTHSEC_LIBRARY"
        ) from e
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "authsec_text_str": (_Str, [_P]),
        "authsec_text_free": (None, [_P]),
        "authsec_status_name": (c_char_p, [c_uint32]),
        "authsec_version": (_Str, []),
        "authsec_config_from_env": (c_uint32, [c_char_p, c_size_t, _PP, _PP]),
        "authsec_config_resolve": (c_uint32, [c_char_p, c_size_t, _PP, _PP]),
        "authsec_config_validate": (c_uint32, [c_char_p, c_size_t, _PP]),
        "authsec_runtime_new": (c_uint32, [c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_new_with_manual_clock": (c_uint32, [c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_from_env": (c_uint32, [c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_free": (None, [_P]),
        "authsec_runtime_startup": (c_uint32, [_P, _PP, _PP]),
        "authsec_runtime_service_credentials": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_service_token": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_service_user_details": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_max_body_bytes": (c_uint64, [_P]),
        "authsec_runtime_metadata_path": (_Str, [_P]),
        "authsec_runtime_wait_policy_refresh": (c_uint32, [_P, _PP]),
        "authsec_runtime_advance_clock": (c_uint32, [_P, c_uint64, _PP]),
        "authsec_runtime_add_audit_callback": (c_uint32, [_P, AUDIT_CALLBACK, c_void_p, _PP]),
        "authsec_runtime_flush_audit": (c_uint32, [_P, c_uint64, POINTER(c_bool), _PP]),
        "authsec_runtime_metrics": (c_uint32, [_P, _PP, _PP]),
        "authsec_runtime_publish_manifest": (c_uint32, [_P, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_publish_manifest_handshake": (c_uint32, [_P, RPC_CALLBACK, c_void_p, _PP, _PP]),
        "authsec_rpc_answer_set": (
            c_uint32, [c_void_p, c_uint16, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t],
        ),
        "authsec_workload_start": (c_uint32, [c_char_p, c_size_t, c_char_p, c_size_t, c_uint32, _PP, _PP]),
        "authsec_workload_version": (c_uint64, [_P]),
        "authsec_workload_wait_update": (c_uint64, [_P, c_uint64, c_uint32]),
        "authsec_workload_connected": (c_bool, [_P]),
        "authsec_workload_current": (c_uint32, [_P, _PP, _PP]),
        "authsec_workload_dir": (_Str, [_P]),
        "authsec_workload_cert_file": (_Str, [_P]),
        "authsec_workload_key_file": (_Str, [_P]),
        "authsec_workload_bundle_file": (_Str, [_P]),
        "authsec_workload_fetch_jwt_svid": (c_uint32, [_P, c_char_p, c_size_t, _PP, _PP]),
        "authsec_workload_shutdown": (c_uint32, [_P, _PP]),
        "authsec_workload_free": (None, [_P]),
        "authsec_svid_spiffe_id": (_Str, [_P]),
        "authsec_svid_certificate_pem": (_Str, [_P]),
        "authsec_svid_private_key_pem": (_Str, [_P]),
        "authsec_svid_bundle_pem": (_Str, [_P]),
        "authsec_svid_expires_at": (c_uint64, [_P]),
        "authsec_svid_version": (c_uint64, [_P]),
        "authsec_svid_free": (None, [_P]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()

try:
    from . import _authsec_cffi
except ImportError as e:  # pragma: no cover - a broken install
    raise ImportError(
        f"authsec_sdk: the compiled extension authsec_sdk._authsec_cffi is missing or does not "
        f"match libauthsec ({e}); reinstall with pip install ./bindings/python"
    ) from e

ffi: Any = _authsec_cffi.ffi
fast: Any = _authsec_cffi.lib
_NULL = ffi.NULL


def cview(s: Any) -> bytes:
    """Copy a borrowed ``authsec_str``/``authsec_bytes`` (cffi) out of the library."""
    n = s.len
    if not n:
        return b""
    return ffi.buffer(s.data, n)[:]  # type: ignore[no-any-return]


def cerror(status: int, err: Any) -> AuthsecError:
    """Turn ``err`` (an ``authsec_error *``, possibly NULL) into an :class:`AuthsecError` and
    free it. Every error of both layers is read here."""
    if err != _NULL:
        message = cview(fast.authsec_error_message(err)).decode("utf-8", "replace")
        fast.authsec_error_free(err)
    else:
        message = NAMES.get(status, "unknown")
    return error_for(status, message)


def ccall(fn: Callable[..., int], *args: Any) -> None:
    """Call a fallible export of the extension whose last parameter is ``err_out``."""
    err = ffi.new("authsec_error **")
    status = fn(*args, err)
    if status != 0:
        raise cerror(status, err[0])


def view(s: _Str) -> bytes:
    """Copy a borrowed ``authsec_str``/``authsec_bytes`` out of the library."""
    if not s.len:
        return b""
    return ctypes.string_at(s.data, s.len)


def call(fn: Callable[..., int], *args: Any) -> None:
    """Call a fallible export whose last parameter is ``err_out``; raise on a non-OK status."""
    err = c_void_p()
    status = fn(*args, ctypes.byref(err))
    if status != ErrorCode.OK:
        raise take_error(status, err)


def take_error(status: int, err: c_void_p) -> AuthsecError:
    """Turn a ctypes ``err`` (possibly NULL) into an :class:`AuthsecError` and free it."""
    return cerror(status, ffi.cast("authsec_error *", err.value or 0))


def take_text(handle: c_void_p) -> str:
    """The text of an owned ``authsec_text``, which is freed."""
    try:
        return view(lib.authsec_text_str(handle)).decode("utf-8")
    finally:
        lib.authsec_text_free(handle)


def take_json(handle: c_void_p) -> Any:
    return json.loads(take_text(handle))


def response_parts(resp: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a borrowed or owned ``authsec_response *`` (cffi)."""
    if resp == _NULL:
        raise AuthsecError(ErrorCode.INTERNAL, "the library returned no response")
    status = int(fast.authsec_response_status(resp))
    headers: list[tuple[str, str]] = []
    name, value = ffi.new("authsec_str *"), ffi.new("authsec_str *")
    for i in range(int(fast.authsec_response_header_count(resp))):
        st = fast.authsec_response_header(resp, i, name, value)
        if st != ErrorCode.OK:
            raise AuthsecError(st, "response header out of range")
        headers.append((cview(name[0]).decode("latin-1"), cview(value[0]).decode("latin-1")))
    return status, headers, cview(fast.authsec_response_body(resp))


def owned_response(fn: Callable[..., int]) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an owned response built by ``fn(response_out, err_out)``
    (an export of the extension)."""
    out = ffi.new("authsec_response **")
    ccall(fn, out)
    try:
        return response_parts(out[0])
    finally:
        fast.authsec_response_free(out[0])


def version() -> str:
    return view(lib.authsec_version()).decode()

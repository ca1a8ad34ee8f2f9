"""ctypes declarations of libauthsec (include/authsec.h) and the few helpers every call needs.

Nothing here decides anything: it moves bytes across the C ABI and turns a non-OK status into an
:class:`AuthsecError` carrying the core's stable code name and message. ``ctypes.CDLL`` releases
the GIL for the duration of every foreign call, so a call that blocks on I/O (a JWKS fetch, an
introspection, the startup policy fetch) never stops other Python threads.

The library is the one the package build put into ``authsec_sdk/_lib/``; ``AUTHSEC_LIBRARY``
names another file (a development build).
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


class _Header(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("name_len", c_size_t),
        ("value", c_char_p),
        ("value_len", c_size_t),
    ]


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
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"authsec_sdk: cannot load libauthsec from {path} ({e}); "
            "reinstall with pip install ./bindings/python or set AUTHSEC_LIBRARY"
        ) from e
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "authsec_error_code": (c_uint32, [_P]),
        "authsec_error_message": (_Str, [_P]),
        "authsec_error_free": (None, [_P]),
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
        "authsec_runtime_check_request": (
            c_uint32,
            [_P, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_Header), c_size_t, c_char_p,
             c_size_t, _PP, _PP],
        ),
        "authsec_runtime_check_oversized": (
            c_uint32,
            [_P, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_Header), c_size_t, _PP, _PP],
        ),
        "authsec_runtime_metadata": (c_uint32, [_P, _PP, _PP]),
        "authsec_runtime_user_info": (c_uint32, [_P, _P, _PP, _PP]),
        "authsec_runtime_service_credentials": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_service_token": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_service_user_details": (
            c_uint32, [_P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_max_body_bytes": (c_uint64, [_P]),
        "authsec_runtime_metadata_path": (_Str, [_P]),
        "authsec_runtime_try_check_request": (
            c_uint32,
            [_P, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_Header), c_size_t, c_char_p,
             c_size_t, _PP, _PP],
        ),
        "authsec_runtime_wait_policy_refresh": (c_uint32, [_P, _PP]),
        "authsec_runtime_advance_clock": (c_uint32, [_P, c_uint64, _PP]),
        "authsec_runtime_add_audit_callback": (c_uint32, [_P, AUDIT_CALLBACK, c_void_p, _PP]),
        "authsec_runtime_flush_audit": (c_uint32, [_P, c_uint64, POINTER(c_bool), _PP]),
        "authsec_runtime_metrics": (c_uint32, [_P, _PP, _PP]),
        "authsec_runtime_filter_response": (
            c_uint32, [_P, _P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP],
        ),
        "authsec_runtime_publish_manifest": (c_uint32, [_P, c_char_p, c_size_t, _PP, _PP]),
        "authsec_runtime_publish_manifest_handshake": (c_uint32, [_P, RPC_CALLBACK, c_void_p, _PP, _PP]),
        "authsec_rpc_answer_set": (
            c_uint32, [c_void_p, c_uint16, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t],
        ),
        "authsec_decision_get_kind": (c_uint32, [_P]),
        "authsec_decision_filter_tools_list": (c_bool, [_P]),
        "authsec_decision_filter_reads": (c_bool, [_P, c_char_p, c_size_t]),
        "authsec_decision_subject": (_Str, [_P]),
        "authsec_decision_principal_json": (_Str, [_P]),
        "authsec_decision_client_id": (_Str, [_P]),
        "authsec_decision_spiffe_id": (_Str, [_P]),
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
        "authsec_decision_expires_at": (c_bool, [_P, POINTER(c_uint64)]),
        "authsec_decision_response": (_P, [_P]),
        "authsec_decision_free": (None, [_P]),
        "authsec_response_status": (c_uint16, [_P]),
        "authsec_response_header_count": (c_size_t, [_P]),
        "authsec_response_header": (c_uint32, [_P, c_size_t, POINTER(_Str), POINTER(_Str)]),
        "authsec_response_body": (_Str, [_P]),
        "authsec_response_free": (None, [_P]),
        "authsec_filter_result_get_kind": (c_uint32, [_P]),
        "authsec_filter_result_body": (_Str, [_P]),
        "authsec_filter_result_response": (_P, [_P]),
        "authsec_filter_result_free": (None, [_P]),
        "authsec_runtime_response_filter": (
            c_uint32, [_P, _P, c_char_p, c_size_t, c_char_p, c_size_t, _PP, _PP],
        ),
        "authsec_response_filter_feed": (c_uint32, [_P, c_char_p, c_size_t, POINTER(_Str), _PP, _PP]),
        "authsec_response_filter_finish": (c_uint32, [_P, POINTER(_Str), _PP, _PP]),
        "authsec_response_filter_passthrough": (c_bool, [_P]),
        "authsec_response_filter_drops_content_encoding": (c_bool, [_P]),
        "authsec_response_filter_holds_body": (c_bool, [_P]),
        "authsec_response_filter_free": (None, [_P]),
        "authsec_response_startup_failed": (c_uint32, [_PP, _PP]),
        "authsec_response_internal_error": (c_uint32, [_PP, _PP]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()


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
    """Turn ``err`` (possibly NULL) into an :class:`AuthsecError` and free it."""
    if err.value:
        message = view(lib.authsec_error_message(err)).decode("utf-8", "replace")
        lib.authsec_error_free(err)
    else:
        message = NAMES.get(status, "unknown")
    return error_for(status, message)


def take_text(handle: c_void_p) -> str:
    """The text of an owned ``authsec_text``, which is freed."""
    try:
        return view(lib.authsec_text_str(handle)).decode("utf-8")
    finally:
        lib.authsec_text_free(handle)


def take_json(handle: c_void_p) -> Any:
    return json.loads(take_text(handle))


def headers_array(headers: list[tuple[bytes, bytes]]) -> Any:
    """An ``authsec_header[]`` over the given byte pairs (the caller keeps them alive)."""
    # One tuple per element, converted by ctypes in C: several times cheaper than setting the
    # four fields one by one. Exactly bytes (not a subclass, whose len() could lie about the
    # buffer): anything else is a TypeError (the caller converts str pairs and retries).
    elements: list[Any] = [
        (n, len(n), v, len(v)) for n, v in headers if type(n) is bytes and type(v) is bytes
    ]
    if len(elements) != len(headers):
        raise TypeError("header names and values must be bytes")
    return (_Header * len(headers))(*elements)


def response_parts(resp: int | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a borrowed or owned ``authsec_response``."""
    if not resp:
        raise AuthsecError(ErrorCode.INTERNAL, "the library returned no response")
    status = int(lib.authsec_response_status(resp))
    headers: list[tuple[str, str]] = []
    for i in range(int(lib.authsec_response_header_count(resp))):
        name, value = _Str(), _Str()
        st = lib.authsec_response_header(resp, i, ctypes.byref(name), ctypes.byref(value))
        if st != ErrorCode.OK:
            raise AuthsecError(st, "response header out of range")
        headers.append((view(name).decode("latin-1"), view(value).decode("latin-1")))
    return status, headers, view(lib.authsec_response_body(resp))


def owned_response(fn: Callable[..., int]) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an owned response built by ``fn(response_out, err_out)``."""
    out = c_void_p()
    call(fn, ctypes.byref(out))
    try:
        return response_parts(out.value)
    finally:
        lib.authsec_response_free(out)


def version() -> str:
    return view(lib.authsec_version()).decode()

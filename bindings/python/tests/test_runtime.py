"""The lower-level Runtime API against the fixture backend: the five SDK exceptions with the
status the core answers (401, 401, 403, 503, 503), validate_token, startup (fatal in
remote_required with the core's message), metadata, oversized bodies, filtering, manifest
publishing, and the fail-closed paths (closed runtime, bad header bytes)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from authsec_sdk.runtime import (
    AuthsecError,
    Config,
    InsufficientScopeError,
    ManifestTool,
    PolicyIncompleteError,
    PolicyMode,
    PolicyUnavailableError,
    Runtime,
    StartupError,
    TokenInactiveError,
    TokenInvalidError,
    ValidationMode,
)

from conftest import Backend

RES = "https://mcp.example.com/mcp"
READY = {
    "state": "ready", "policy_complete": True, "generation": 3, "scopes_supported": ["issues:read", "issues:write"],
    "tool_policy": [
        {"name": "list_issues", "is_public": False, "required_scopes": ["issues:read"]},
        {"name": "create_issue", "is_public": False, "required_scopes": ["issues:write"]},
    ],
    "tools": {"list_issues": ["issues:read"], "create_issue": ["issues:write"]}, "rs_id": "rs-1", "ttl_seconds": 300,
}


def local(backend: Backend, **kw: Any) -> Config:
    base: dict[str, Any] = dict(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=RES,
                                tool_scopes={"list_issues": ["issues:read"], "create_issue": ["issues:write"]})
    base.update(kw)
    return Config(**base)


def remote(backend: Backend, **kw: Any) -> Config:
    base: dict[str, Any] = dict(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=RES,
                                introspection_client_id="rs-1", introspection_client_secret="secret-1",
                                resource_server_id="rs-1", validation_mode=ValidationMode.JWT_ONLY)
    base.update(kw)
    return Config(**base)


def token(backend: Backend, scope: str = "issues:read", **claims: Any) -> str:
    c: dict[str, Any] = {"iss": backend.base, "sub": "user-1", "aud": RES, "scope": scope, "exp": {"$now": 3600}}
    c.update(claims)
    return backend.mint(c)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_authorize_allows_and_returns_the_principal(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend))
    p = run(rt.authorize_or_raise(token(backend), "list_issues"))
    assert (p.subject, p.issuer, p.audience, p.scopes, p.active) == ("user-1", backend.base, [RES], ["issues:read"], True)
    assert p.claims["sub"] == "user-1" and p.has_any_scope(["x", "issues:read"]) and not p.has_any_scope(["x"])
    assert run(rt.validate_token(token(backend))).subject == "user-1"


def test_token_invalid_error_401(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend))
    with pytest.raises(TokenInvalidError) as e:
        run(rt.authorize_or_raise("", "list_issues"))
    assert (e.value.status, e.value.description, e.value.reason) == (401, "missing bearer token", "no_token")
    assert e.value.response is not None and e.value.response[0] == 401
    assert type(e.value) is TokenInvalidError
    with pytest.raises(TokenInvalidError) as e:
        run(rt.authorize_or_raise(token(backend, exp={"$now": -60}), "list_issues"))
    assert e.value.status == 401 and e.value.reason == "token_expired" and "expired" in e.value.description
    with pytest.raises(TokenInvalidError) as e:
        run(rt.validate_token(token(backend, aud="https://other.example.com/mcp")))
    assert e.value.error == "invalid_audience" and e.value.status == 401


def test_token_inactive_error_401(backend: Backend) -> None:
    backend.reset()  # introspection answers {"active": false} by default
    cfg = Config(issuer=backend.base, introspection_url=f"{backend.base}/introspect", introspection_client_id="rs-1",
                 introspection_client_secret="secret-1", resource_uri=RES, policy_mode=PolicyMode.OPEN)
    rt = Runtime(cfg)
    with pytest.raises(TokenInactiveError) as e:
        run(rt.authorize_or_raise("opaque-token-1", "anything"))
    assert e.value.status == 401
    assert e.value.description == ("introspection returned active=false \u2014 token revoked, suspended, expired, "
                                   "or principal membership inactive")
    assert isinstance(e.value, TokenInvalidError)


def test_insufficient_scope_error_403(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend))
    with pytest.raises(InsufficientScopeError) as e:
        run(rt.authorize_or_raise(token(backend), "create_issue"))
    err = e.value
    assert (err.status, err.tool, err.required, err.granted) == (403, "create_issue", ["issues:write"], ["issues:read"])
    assert err.description.startswith("Tool 'create_issue' requires scope: issues:write. Your token has: issues:read.")
    with pytest.raises(InsufficientScopeError) as e:
        run(rt.authorize_or_raise(token(backend), "unknown_tool"))
    assert e.value.tool == "unknown_tool"


def test_policy_unavailable_and_incomplete_503(backend: Backend) -> None:
    # remote_required + publish_manifest: a failed first fetch starts in deny-all (503)
    backend.reset()
    rt = Runtime(remote(backend, publish_manifest=True))
    warnings = run(rt.startup())
    assert len(warnings) == 1 and "deny-all" in warnings[0]
    with pytest.raises(PolicyUnavailableError) as e:
        run(rt.authorize_or_raise(token(backend), "list_issues"))
    assert e.value.status == 503 and e.value.error == "policy_unavailable"
    assert not isinstance(e.value, PolicyIncompleteError)
    # an incomplete policy (needs setup): PolicyIncompleteError, 503
    backend.reset(policy={"status": 200, "body": {"state": "needs_setup", "policy_complete": False, "reason": "rs_needs_setup"}})
    rt = Runtime(remote(backend, publish_manifest=True))
    run(rt.startup())
    with pytest.raises(PolicyIncompleteError) as e2:
        run(rt.authorize_or_raise(token(backend), "list_issues"))
    assert e2.value.status == 503
    assert e2.value.description == "authsec policy incomplete: state=needs_setup reason=rs_needs_setup"


def test_remote_policy_ready(backend: Backend) -> None:
    backend.reset(policy={"status": 200, "body": READY})
    rt = Runtime(remote(backend))
    assert run(rt.startup()) == []
    assert run(rt.authorize_or_raise(token(backend), "list_issues")).subject == "user-1"
    with pytest.raises(InsufficientScopeError):
        run(rt.authorize_or_raise(token(backend), "create_issue"))
    doc = json.loads(rt.metadata()[2])
    assert doc["scopes_supported"] == ["issues:read", "issues:write"]


def test_startup_fatal_in_remote_required(backend: Backend) -> None:
    backend.reset()  # the policy endpoint answers 404
    rt = Runtime(remote(backend))
    with pytest.raises(StartupError) as e:
        run(rt.startup())
    assert str(e.value).startswith("remote_required initial scope matrix fetch failed: ")
    assert isinstance(e.value, RuntimeError)
    backend.reset(policy={"status": 200, "body": {"state": "scan_failed", "policy_complete": False, "reason": "rs_scan_failed"}})
    rt = Runtime(remote(backend))
    with pytest.raises(PolicyIncompleteError) as e2:
        run(rt.startup())
    assert str(e2.value) == ("remote_required initial scope matrix fetch failed: "
                             "authsec policy incomplete: state=scan_failed reason=rs_scan_failed")
    # remote_with_local_fallback: not fatal, a warning
    backend.reset()
    rt = Runtime(remote(backend, policy_mode=PolicyMode.REMOTE_WITH_LOCAL_FALLBACK, tool_scopes={"list_issues": []}))
    warnings = run(rt.startup())
    assert len(warnings) == 1 and warnings[0].endswith("using the local tool_scopes")


def test_metadata_and_oversized(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend, max_body_bytes=64, supported_scopes=["issues:read"]))
    status, headers, body = rt.metadata()
    assert status == 200 and ("content-type", "application/json") in headers
    assert json.loads(body) == {"resource": RES, "authorization_servers": [backend.base], "resource_name": "AuthSec Protected MCP Resource",
                                "scopes_supported": ["issues:read"], "bearer_methods_supported": ["header"]}
    assert rt.max_body_bytes == 64
    d = rt.check_oversized("POST", "/mcp", [("content-length", "1000")])
    assert d.kind == "respond" and d.response is not None and d.response[0] == 413
    assert json.loads(d.response[2]) == {"error": "invalid_request", "error_description": "request body exceeds max_body_bytes (64)"}
    d = rt.check("POST", "/mcp", [], b"x" * 65)
    assert d.response is not None and d.response[0] == 413
    d = rt.check("GET", rt.metadata_path, [])
    assert d.kind == "respond" and d.response == rt.metadata()


def test_filter_response_json(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend))
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    d = rt.check("POST", "/mcp", [("authorization", f"Bearer {token(backend)}"), ("content-type", "application/json")], body)
    assert d.kind == "allow" and d.filter_tools_list
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "list_issues"}, {"name": "create_issue"}]}}
    r = rt.filter_response(d, "application/json", json.dumps(answer).encode())
    assert r.kind == "rewritten"
    out = json.loads(r.body)
    assert [t["name"] for t in out["result"]["tools"]] == ["list_issues"]
    d.close()
    with pytest.raises(AuthsecError) as e:
        rt.filter_response(d, "application/json", b"{}")
    assert e.value.code == "invalid_argument"


def test_fail_closed_paths(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend))
    with pytest.raises(AuthsecError) as e:
        rt.check("POST", "/mcp", [(b"authorization", b"Bearer \xff\xfe")], b"")
    assert e.value.code == "invalid_utf8" and e.value.status == 2
    with pytest.raises(TypeError):
        rt.check("POST", "/mcp", [("x", 1)], b"")
    rt.close()
    with pytest.raises(AuthsecError, match="the runtime is closed"):
        rt.check("GET", "/mcp", [], b"")
    rt.close()  # twice is fine


def test_manual_clock(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(local(backend), manual_clock=True)
    tok = token(backend, exp={"$now": 30})
    assert run(rt.authorize_or_raise(tok, "list_issues")).subject == "user-1"
    rt.advance_clock(31_000)
    with pytest.raises(TokenInvalidError) as e:
        run(rt.authorize_or_raise(tok, "list_issues"))
    assert e.value.reason == "token_expired"
    with pytest.raises(AuthsecError) as e2:
        Runtime(local(backend)).advance_clock(1)
    assert e2.value.code == "invalid_argument"


def test_publish_manifest_tools_and_errors(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(remote(backend, tool_scope_suggestions={"b": ["cfg:b"]}))
    report = run(rt.publish_manifest([ManifestTool(name="a", description="A", input_schema={"type": "object"}, suggested_scopes=["own:a"]),
                                      {"name": "b", "title": "B"}]))
    assert report["tools_sent"] == 2 and report["tools_seen"] == 2 and report["generation"] == 1
    sent = backend.control("last", method="GET")["manifest"]["json"]
    assert sent["tools"] == [
        {"name": "a", "description": "A", "input_schema": {"type": "object"}, "suggested_scopes": ["own:a"]},
        {"name": "b", "title": "B", "suggested_scopes": ["cfg:b"]},
    ]
    with pytest.raises(AuthsecError) as e:
        run(rt.publish_manifest([]))
    assert e.value.code == "invalid_input"
    backend.control("outage", {"endpoint": "manifest", "status": 503})
    with pytest.raises(AuthsecError) as e:
        run(rt.publish_manifest([ManifestTool(name="a")]))
    assert e.value.code == "backend_error"
    assert "secret-1" not in str(e.value)


def test_publish_manifest_handshake_callback_failure_is_reported(backend: Backend) -> None:
    backend.reset()
    rt = Runtime(remote(backend))

    async def broken(request: dict[str, Any], session: str) -> Any:
        raise RuntimeError("handler exploded")

    with pytest.raises(AuthsecError) as e:
        run(rt.publish_manifest_handshake(broken))
    assert e.value.code == "invalid_input" and "handler exploded" in str(e.value)
    assert backend.control("counters", method="GET")["manifest"] == 0


def test_authorize_result_shape_of_the_seed(backend: Backend) -> None:
    """Runtime.authorize never raises for a denial: AuthorizeResult with the core's challenge."""
    backend.reset()
    rt = Runtime(local(backend))
    ok = run(rt.authorize(token(backend), "list_issues"))
    assert ok.allowed and ok.principal is not None and ok.principal.subject == "user-1" and ok.denial is None
    no = run(rt.authorize(token(backend), "create_issue"))
    assert not no.allowed and no.principal is None and no.denial is not None
    d = no.denial
    assert (d.code, d.status, d.tool, d.required_scopes, d.granted_scopes) == (
        "scope_insufficient", 403, "create_issue", ["issues:write"], ["issues:read"])
    assert d.www_authenticate == ""  # an in-band answer (tools/call with a token) carries no challenge
    missing = run(rt.authorize("", "list_issues")).denial
    assert missing is not None and (missing.code, missing.status, missing.reason) == ("invalid_token", 401, "no_token")
    assert missing.www_authenticate == ('Bearer realm="AuthSec Protected MCP Resource", resource_metadata='
                                        '"https://mcp.example.com/.well-known/oauth-protected-resource/mcp", '
                                        'error="invalid_token", error_description="missing bearer token"')


def test_a_blocking_check_releases_the_gil(backend: Backend) -> None:
    """While one thread is inside a check that waits for introspection, another Python thread
    runs: it sees the introspection arrive at the backend before the check has returned. With
    the GIL held for the call it could only look after the call returned."""
    import threading
    import time

    backend.reset(introspection_default={"active": True, "sub": "u", "aud": RES})
    backend.control("latency", {"endpoint": "introspection", "ms": 3000})
    cfg = Config(issuer=backend.base, introspection_url=f"{backend.base}/introspect", introspection_client_id="rs-1",
                 introspection_client_secret="secret-1", resource_uri=RES, policy_mode=PolicyMode.OPEN)
    rt = Runtime(cfg)
    done = threading.Event()
    seen_while_blocked: list[bool] = []

    def blocked() -> None:
        rt.check("GET", "/mcp", [("authorization", "Bearer opaque-gil")], b"")
        done.set()

    def watcher() -> None:
        while not done.is_set():
            if backend.control("counters", method="GET")["introspection"] == 1:
                seen_while_blocked.append(not done.is_set())
                return
            time.sleep(0.01)

    a = threading.Thread(target=blocked)
    b = threading.Thread(target=watcher)
    a.start()
    b.start()
    a.join(30)
    b.join(30)
    assert seen_while_blocked == [True]


def test_lazy_principal_reads_the_core_once_and_behaves_as_a_principal(backend: Backend) -> None:
    """mount_mcp hands the handler a principal read from the core on first use: the same fields
    as the eager one, a Principal for isinstance/==/repr/asdict, assignable, and readable after
    the request (it keeps the decision alive); a closed decision refuses to build one."""
    import dataclasses

    from authsec_sdk.runtime import Principal

    backend.reset()
    rt = Runtime(local(backend))
    headers = [(b"authorization", f"Bearer {token(backend)}".encode()), (b"content-type", b"application/json")]
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}'
    eager = rt.check("POST", "/mcp", headers, body).principal
    d = rt.check("POST", "/mcp", headers, body)
    lazy = d.lazy_principal()
    assert lazy is d.lazy_principal() and isinstance(lazy, Principal)
    del d  # the principal alone keeps the decision (and its handle) alive
    assert eager is not None and lazy == eager and eager == lazy
    assert dataclasses.asdict(lazy) == dataclasses.asdict(eager)
    assert repr(lazy) == repr(eager) and repr(lazy).startswith("Principal(subject='user-1'")
    assert "claims" not in repr(lazy)
    assert (lazy.client_id, lazy.expires_at) == (eager.client_id, eager.expires_at)
    lazy.subject = "changed"
    assert lazy.subject == "changed" and lazy.scopes == ["issues:read"]

    closed = rt.check("POST", "/mcp", headers, body)
    p = closed.lazy_principal()
    closed.close()
    with pytest.raises(AuthsecError) as e:
        p.subject  # noqa: B018
    assert e.value.code == "invalid_argument"
    with pytest.raises(AuthsecError):
        p.scopes  # noqa: B018 (still refused on a second read, never a half-built principal)
    assert closed.lazy_principal() is p
    denied = rt.check("POST", "/mcp", [], body)
    assert denied.kind == "respond" and denied.lazy_principal() is None and denied.principal is None


def test_an_allowed_decision_and_its_lazy_principal_are_no_reference_cycle(backend: Backend) -> None:
    """The decision remembers its lazy principal weakly: when the request's last reference goes,
    both go at once (refcounting), never left for the cyclic garbage collector with the native
    handle still held."""
    import gc

    backend.reset()
    rt = Runtime(local(backend))
    headers = [(b"authorization", f"Bearer {token(backend)}".encode()), (b"content-type", b"application/json")]
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}'
    rt.check("POST", "/mcp", headers, body).close()  # warm: nothing first-use below
    gc.collect()
    gc.disable()
    try:
        d = rt.check("POST", "/mcp", headers, body)
        p = d.lazy_principal()
        assert p is not None and d.lazy_principal() is p
        del d, p
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_header_pairs_of_any_text_type_decide_alike(backend: Backend) -> None:
    """ASGI byte pairs go to the core as they are; str, bytearray and bytes subclasses (even
    one whose len() lies) are converted first, so every form gets the same decision; a value
    that is not text is a TypeError, never a guess."""

    class Lying(bytes):
        def __len__(self) -> int:
            return 4096

    backend.reset()
    rt = Runtime(local(backend))
    tok = token(backend)
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}'
    forms: list[list[tuple[Any, Any]]] = [
        [(b"authorization", f"Bearer {tok}".encode())],
        [("authorization", f"Bearer {tok}")],
        [(bytearray(b"authorization"), bytearray(f"Bearer {tok}".encode()))],
        [(Lying(b"authorization"), Lying(f"Bearer {tok}".encode()))],
        [(b"authorization", f"Bearer {tok}")],
    ]
    for headers in forms:
        d = rt.check("POST", "/mcp", headers, body)
        assert d.kind == "allow" and d.principal is not None and d.principal.subject == "user-1", headers
    d = rt.check("POST", "/mcp", [(Lying(b"authorization"), Lying(b"Bearer nope"))], body)
    # tools/call with a bad token: the core's in-band denial (never an allow)
    assert d.kind == "respond" and d.response is not None and b'"error":"invalid_token"' in d.response[2]
    with pytest.raises(TypeError):
        rt.check("POST", "/mcp", [(b"authorization", 12345)], body)


def test_many_headers_are_all_given_to_the_core(backend: Backend) -> None:
    """More headers than the extension keeps on its stack (32) take its heap path: the core
    still sees every one, the Authorization header after 40 others included (allowed with a good
    token, the core's denial with a bad one), in a list or any other iterable of pairs."""
    backend.reset()
    rt = Runtime(local(backend))
    tok = token(backend)
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}'
    noise = [(f"x-noise-{i}".encode(), b"v" * i) for i in range(40)]
    d = rt.check("POST", "/mcp", noise + [(b"authorization", f"Bearer {tok}".encode())], body)
    assert d.kind == "allow" and d.principal is not None and d.principal.subject == "user-1"
    d = rt.check("POST", "/mcp", iter(noise + [(b"authorization", b"Bearer nope")]), body)
    assert d.kind == "respond" and d.response is not None and b'"error":"invalid_token"' in d.response[2]
    d = run(rt.check_async("POST", "/mcp", tuple(noise), body))
    assert d.kind == "respond" and d.response is not None and d.response[0] == 401


def test_the_check_helper_refuses_header_lengths_that_do_not_describe_the_block(backend: Backend) -> None:
    """``authsec_py_check`` (the cffi helper every check goes through) reads the headers' lengths
    from packed ``size_t`` bytes: a length buffer of the wrong size, or lengths that do not add
    up to the header block, is INVALID_ARGUMENT and nothing is decided (no decision, no error
    object); the lengths ``_flat_headers`` packs are accepted."""
    import struct

    from authsec_sdk._codes import ErrorCode
    from authsec_sdk._native import fast, ffi
    from authsec_sdk.runtime.engine import _flat_headers

    backend.reset()
    rt = Runtime(local(backend))
    headers = [(b"authorization", f"Bearer {token(backend)}".encode()), (b"content-type", b"application/json")]
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}'
    blob, lens, count = _flat_headers(headers)
    assert lens == struct.pack("4N", *(len(x) for pair in headers for x in pair)) and count == 2

    def call(lens: bytes, count: int, blob: bytes = blob) -> tuple[int, Any]:
        out = ffi.new("authsec_py_check_out *")
        st = fast.authsec_py_check(rt._cptr(), 1, b"POST", 4, b"/mcp", 4, blob, len(blob), lens, len(lens), count,
                                   body, len(body), out)
        return int(st), out

    st, out = call(lens, count)
    assert st == 0 and out.decision != ffi.NULL
    fast.authsec_decision_free(out.decision)
    real = [len(x) for pair in headers for x in pair]
    short = struct.pack("4N", *real[:3], real[3] - 1)  # one byte short of the block
    long = struct.pack("4N", *real[:3], real[3] + 1)  # one byte past its end
    for bad_lens, bad_count in [(lens[:-1], count), (lens, count + 1), (lens, count - 1), (short, 2), (long, 2),
                                (struct.pack("2N", 2**64 - 1, 1), 1)]:
        st, out = call(bad_lens, bad_count)
        assert st == ErrorCode.INVALID_ARGUMENT and out.decision == ffi.NULL and out.error == ffi.NULL
    rt.close()

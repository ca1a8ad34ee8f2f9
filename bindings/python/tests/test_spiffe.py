"""Workload identity against a real SPIRE server and agent on loopback (tests/spire/harness.py:
SPIRE v1.13.3 built from the Go module proxy, join-token node attestation, the unix workload
attestor, one registration entry made with ``spire-server entry create`` for this uid with a
20 s X.509-SVID TTL).

In order (one SPIRE for the module): disabled and agent-down-at-start errors; the SVID's SPIFFE
ID against the entry, the files and their modes; an mTLS round trip between this process and a
server process, both with QuickStartSVID contexts; rotation (files, counter, the update callback,
a new connection presenting the new certificate); a JWT-SVID from the agent accepted by the
runtime as a bearer token (the JWT bundle streamed from the Workload API), one for another
audience refused; the agent stopped: the last SVID keeps serving until it expires, then
``svid_expired``; the agent back: a new SVID.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from authsec_sdk.runtime import Config, Runtime
from authsec_sdk.spiffe import (
    QuickStartSVID,
    SvidExpiredError,
    WorkloadApiUnavailableError,
    WorkloadIdentityDisabled,
    peer_spiffe_id,
)

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "spire"))
import harness  # noqa: E402

RES = "https://mcp.example.com/mcp"
TTL = 20


@pytest.fixture(scope="module")
def spire() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="authsec-spire-") as d:
        s = harness.Spire(d, x509_ttl=TTL).start()
        try:
            yield s
        finally:
            s.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def decode_cert(path: Path) -> dict[str, Any]:
    """The certificate's fields as ssl reads them (subjectAltName, serialNumber, notAfter)."""
    return ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined,no-any-return]


def test_disabled_without_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIFFE_ENDPOINT_SOCKET", raising=False)
    assert run(QuickStartSVID.initialize()) is None
    with pytest.raises(WorkloadIdentityDisabled) as e:
        run(QuickStartSVID.initialize(raise_on_disabled=True))
    assert e.value.code == "workload_not_configured"
    assert str(e.value) == "no Workload API socket given and SPIFFE_ENDPOINT_SOCKET is not set"


def test_agent_down_at_start_is_the_documented_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-agent.sock"
    t0 = time.monotonic()
    with pytest.raises(WorkloadApiUnavailableError) as e:
        run(QuickStartSVID.initialize(socket_path=str(missing), timeout=1.0))
    assert isinstance(e.value, RuntimeError)
    assert e.value.code == "workload_api_unavailable"
    msg = str(e.value)
    assert msg.startswith(f"no X.509-SVID from the Workload API at unix://{missing} within 1000 ms: connect failed"), msg
    assert time.monotonic() - t0 < 10
    assert QuickStartSVID._instance is None


def test_svid_matches_the_entry_and_files_have_their_modes(spire: Any, tmp_path: Path) -> None:
    cert_dir = tmp_path / "certs"
    svid = run(QuickStartSVID.initialize(socket_path=spire.endpoint, cert_dir=str(cert_dir)))
    assert svid is not None
    assert run(QuickStartSVID.initialize(socket_path=spire.endpoint)) is svid  # singleton
    assert svid.spiffe_id == harness.WORKLOAD_ID
    assert svid.version >= 1 and svid.connected
    assert svid.cert_file_path == cert_dir / "svid.crt"
    assert svid.key_file_path == cert_dir / "svid.key"
    assert svid.ca_file_path == cert_dir / "ca.crt"
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(cert_dir) == 0o700
    assert mode(svid.key_file_path) == 0o600
    assert mode(svid.cert_file_path) == 0o644
    assert mode(svid.ca_file_path) == 0o644
    assert sorted(os.listdir(cert_dir)) == ["ca.crt", "svid.crt", "svid.key"]
    assert svid.cert_file_path.read_text() == svid.certificate
    assert svid.key_file_path.read_text() == svid.private_key
    assert svid.ca_file_path.read_text() == svid.trust_bundle
    assert svid.certificate.startswith("-----BEGIN CERTIFICATE-----\n")
    assert svid.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")
    leaf = decode_cert(svid.cert_file_path)
    assert ("URI", harness.WORKLOAD_ID) in leaf["subjectAltName"]
    assert "PRIVATE KEY" not in repr(svid.current())
    # The key is loadable with the certificate (they match).
    ssl.create_default_context().load_cert_chain(str(svid.cert_file_path), str(svid.key_file_path))


SERVER = textwrap.dedent('''
    import asyncio, json, socket, ssl, sys
    from authsec_sdk.spiffe import QuickStartSVID, peer_spiffe_id
    async def main():
        svid = await QuickStartSVID.initialize(socket_path=sys.argv[1], cert_dir=sys.argv[2])
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        print("READY", srv.getsockname()[1], flush=True)
        while True:
            conn, _ = srv.accept()
            # A fresh context per connection: it loads the files as they are now.
            ctx = svid.create_ssl_context_for_server()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    peer = tls.getpeercert()
                    tls.sendall(json.dumps({"client": peer_spiffe_id(tls), "serial": peer["serialNumber"]}).encode() + b"\\n")
            except (ssl.SSLError, OSError) as e:
                print("handshake refused:", type(e).__name__, file=sys.stderr, flush=True)
    asyncio.run(main())
''')


@pytest.fixture(scope="module")
def mtls_server(spire: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    # Its files go under pytest's temporary directory: the process is ended by SIGTERM.
    cert_dir = tmp_path_factory.mktemp("server") / "certs"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, spire.endpoint, str(cert_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"mTLS server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(10)


def call_server(port: int, ctx: ssl.SSLContext) -> tuple[dict[str, Any], str | None]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            server_id = peer_spiffe_id(tls)
            data = b""
            while not data.endswith(b"\n"):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
    return json.loads(data), server_id


def test_mtls_round_trip_between_two_processes(spire: Any, mtls_server: int) -> None:
    svid = run(QuickStartSVID.get())
    answer, server_id = call_server(mtls_server, svid.create_ssl_context_for_client())
    assert server_id == harness.WORKLOAD_ID
    assert answer["client"] == harness.WORKLOAD_ID
    # A client without a certificate is refused by the server context (mTLS required).
    bare = ssl.create_default_context(cafile=str(svid.ca_file_path))
    bare.check_hostname = False
    with pytest.raises((ssl.SSLError, ConnectionError, json.JSONDecodeError)):
        call_server(mtls_server, bare)
    # A client that trusts another CA refuses the server.
    other = ssl.create_default_context()
    other.check_hostname = False
    with pytest.raises(ssl.SSLCertVerificationError):
        call_server(mtls_server, other)


def test_rotation_updates_files_counter_and_new_connections(spire: Any, mtls_server: int) -> None:
    svid = run(QuickStartSVID.get())
    seen: list[int] = []
    svid.on_update(lambda s: seen.append(s.version))
    v0 = svid.version
    cert0 = svid.cert_file_path.read_text()
    serial0 = decode_cert(svid.cert_file_path)["serialNumber"]
    v1 = run(svid.wait_for_update(v0, TTL * 2))
    assert v1 > v0, "no rotation within two SVID lifetimes"
    assert svid.cert_file_path.read_text() != cert0
    assert svid.current().version == v1
    serial1 = decode_cert(svid.cert_file_path)["serialNumber"]
    assert serial1 != serial0
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen and seen[-1] >= v1
    # A new connection with a context built now presents the new certificate.
    answer, _ = call_server(mtls_server, svid.create_ssl_context_for_client())
    if svid.version == v1:  # not rotated again meanwhile
        assert answer["serial"] == serial1
    assert answer["client"] == harness.WORKLOAD_ID


def test_jwt_svid_is_a_bearer_token_for_its_audience_only(spire: Any) -> None:
    svid = run(QuickStartSVID.get())
    cfg = Config(
        issuer="https://as.example.com", jwks_url="https://as.example.com/jwks", resource_uri=RES,
        tool_scopes={"list_issues": ["issues:read"], "create_issue": ["issues:write"]},
        spiffe_trust_domain="example.org", spiffe_endpoint_socket=spire.endpoint,
        tool_workloads={"list_issues": [harness.WORKLOAD_ID]},
    )
    rt = Runtime(cfg)
    try:
        assert run(rt.startup()) == []
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_issues"}}).encode()
        headers = lambda t: [("authorization", f"Bearer {t}"), ("content-type", "application/json")]  # noqa: E731
        token = run(svid.fetch_jwt_svid(RES))
        d = rt.check("POST", "/mcp", headers(token), body)
        assert d.kind == "allow"
        assert d.principal is not None
        assert d.principal.spiffe_id == harness.WORKLOAD_ID
        assert d.principal.subject == harness.WORKLOAD_ID
        assert d.principal.scopes == []
        # The same workload may not call a tool tool_workloads does not list for it.
        other_tool = json.dumps({"method": "tools/call", "params": {"name": "create_issue"}}).encode()
        d = rt.check("POST", "/mcp", headers(token), other_tool)
        assert d.kind == "respond" and d.response is not None and d.response[0] == 403
        # A JWT-SVID the agent issued for another audience is refused.
        foreign = run(svid.fetch_jwt_svid("https://other.example.com/mcp"))
        d = rt.check("POST", "/mcp", headers(foreign), json.dumps({"method": "tools/call", "params": {"name": "list_issues"}}).encode())
        assert d.kind == "respond" and d.response is not None
        status, hdrs, resp_body = d.response
        assert status == 401
        assert json.loads(resp_body) == {
            "error": "invalid_audience",
            "error_description": 'audience mismatch: token aud=["https://other.example.com/mcp"] does not include resource_uri=https://mcp.example.com/mcp',
        }
    finally:
        rt.close()


def test_agent_down_keeps_the_last_svid_until_it_expires_then_recovers(spire: Any) -> None:
    svid = run(QuickStartSVID.get())
    spire.stop_agent()
    deadline = time.monotonic() + 10
    while svid.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not svid.connected
    last = svid.current()  # still served
    assert last.spiffe_id == harness.WORKLOAD_ID
    assert svid.cert_file_path.read_text() == last.certificate
    wait = last.expires_at - time.time() + 1
    assert 0 < wait <= TTL + 1
    time.sleep(wait)
    with pytest.raises(SvidExpiredError) as e:
        svid.current()
    assert e.value.code == "svid_expired"
    assert f"the X.509-SVID of {harness.WORKLOAD_ID} expired at {last.expires_at}" in str(e.value)
    # The agent comes back (it re-attests with its stored agent SVID): a new SVID arrives.
    spire.start_agent()
    v = run(svid.wait_for_update(last.version, 30))
    assert v > last.version
    assert svid.current().expires_at > time.time()


def test_shutdown_removes_the_files_and_the_singleton(spire: Any) -> None:
    svid = run(QuickStartSVID.get())
    files = [svid.cert_file_path, svid.key_file_path, svid.ca_file_path]
    run(QuickStartSVID.shutdown())
    assert not any(f.exists() for f in files)
    assert QuickStartSVID._instance is None
    run(QuickStartSVID.shutdown())  # idempotent
    with pytest.raises(RuntimeError):
        run(QuickStartSVID.get())

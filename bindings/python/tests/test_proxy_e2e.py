"""``authsec proxy`` (the command line, cli/) in front of MCP servers that have no protection of
their own, driven by the official ``mcp`` client with oidc-provider tokens:

- an ``MCPServer`` on uvicorn (Streamable HTTP, SSE answers) behind ``authsec proxy --upstream``:
  filtered list, allowed call, the caller's identity in the upstream's headers (never the
  token), in-band denial, 401 with the metadata URL, and a raw SSE answer filtered event by event;
- the SDK's stdio quickstart server behind ``authsec proxy --stdio``: the same flow through a
  session of its own, and that session refused to another caller;
- in both, ``/metrics`` read by the official Prometheus client's text-format parser
  (``prometheus_client.parser``, pinned in requirements-test.txt): valid exposition text, every
  family once, and the counts of what the test did.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer

from conftest import ROOT, AuthServer, Served, _ready_line, free_port, http

TOOL_SCOPES = {"echo": ["mcp:read"], "add": ["mcp:read"], "whoami": [], "admin_reset": ["mcp:admin"]}
HERE = Path(__file__).resolve().parent


def authsec_exe() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "authsec"


class ProxyProc:
    """``authsec proxy`` on 127.0.0.1:``port`` with the config in the environment."""

    def __init__(self, issuer: str, port: int, args: list[str]) -> None:
        self.url = f"http://127.0.0.1:{port}/mcp"
        env = {
            **os.environ,
            "AUTHSEC_ISSUER": issuer,
            "AUTHSEC_JWKS_URL": f"{issuer}/jwks",
            "AUTHSEC_RESOURCE_URI": self.url,
            "AUTHSEC_RESOURCE_NAME": "Proxied MCP",
            "AUTHSEC_TOOL_SCOPES_JSON": json.dumps(TOOL_SCOPES),
            "AUTHSEC_POLICY_MODE": "local_only",
        }
        self.log = open(ROOT / "target" / f"proxy-e2e-{port}.log", "w")
        self.proc = subprocess.Popen(
            [str(authsec_exe()), "proxy", "--listen", f"127.0.0.1:{port}", *args],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        _ready_line(self.proc, "authsec proxy")

    def close(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0, "graceful shutdown exits 0"
        self.log.close()


@pytest.fixture(scope="module")
def proxy_ports(mcp_ports: dict[str, int]) -> dict[str, int]:
    return {"http": mcp_ports["proxy_http"], "stdio": mcp_ports["proxy_stdio"]}


def upstream_server() -> MCPServer:
    server = MCPServer("unprotected")

    @server.tool()
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool()
    def whoami(ctx: Context) -> str:
        # The proxy's identity headers (the caller's token never reaches this server).
        h = ctx.request_context.request.headers  # type: ignore[union-attr]
        return json.dumps({"subject": h.get("x-authsec-subject"), "client": h.get("x-authsec-client-id"),
                           "scopes": h.get("x-authsec-scopes"), "authorization": h.get("authorization")})

    @server.tool()
    def admin_reset() -> str:
        return "reset"

    return server


async def session_run(url: str, token: str, fn: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await fn(session)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def check_denial(result: Any) -> None:
    assert result.is_error is True
    assert "Tool 'admin_reset' cannot be called with this token." in text_of(result)
    meta = (result.meta or {}).get("authsec", {})
    assert meta.get("error") == "insufficient_scope" and meta.get("required_scopes") == ["mcp:admin"]


def check_challenge(url: str, issuer: str) -> None:
    status, headers, body = http("POST", url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                 {"Accept": "application/json, text/event-stream"})
    assert status == 401
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="Proxied MCP", resource_metadata="')
    assert json.loads(body) == {"error": "invalid_token", "error_description": "missing bearer token", "reason": "no_token"}
    m = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert m is not None
    status, _, body = http("GET", m.group(1))
    assert status == 200
    doc = json.loads(body)
    assert doc["resource"] == url and doc["authorization_servers"] == [issuer]


def check_metrics(url: str, at_least: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Parse ``/metrics`` of the proxy serving ``url`` with the Prometheus client's parser; every
    ``(decision, reason)`` of ``at_least`` counted at least that many times. Returns the families
    by name."""
    base = url.rsplit("/", 1)[0]
    status, headers, body = http("GET", f"{base}/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = list(text_string_to_metric_families(body.decode("utf-8")))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), f"a family appears twice: {sorted(names)}"
    by_name = {f.name: f for f in families}
    for f in families:
        assert f.type in ("counter", "gauge", "histogram"), (f.name, f.type)
        assert f.documentation, f"{f.name} has no HELP"
        for s in f.samples:
            assert s.name.startswith(f.name), (f.name, s.name)
        if f.type == "histogram":
            series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
            counts: dict[tuple[tuple[str, str], ...], float] = {}
            for s in f.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                if s.name.endswith("_bucket"):
                    series.setdefault(key, []).append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    counts[key] = s.value
            for key, buckets in series.items():
                values = [v for _, v in sorted(buckets)]
                assert values == sorted(values), f"{f.name}{key}: buckets not cumulative"
                assert sorted(buckets)[-1][0] == float("inf") and values[-1] == counts[key], f.name
    requests = {(s.labels["decision"], s.labels["reason"]): s.value
                for s in by_name["authsec_proxy_requests"].samples}
    for key, n in at_least.items():
        assert requests.get(key, 0) >= n, (key, requests)
    assert by_name["authsec_proxy_upstream_seconds"].type == "histogram"
    # The core's own metrics follow the proxy's, in the same exposition.
    decisions = {s.labels["outcome"] for s in by_name["authsec_decisions"].samples}
    assert {"allow", "deny"} <= decisions, decisions
    return by_name


def test_python_mcpserver_behind_authsec_proxy(oidc: AuthServer, proxy_ports: dict[str, int]) -> None:
    up_port = free_port()
    server = upstream_server()
    app = server.streamable_http_app()
    with Served(app, up_port):
        proxy = ProxyProc(oidc.issuer, proxy_ports["http"], ["--upstream", f"http://127.0.0.1:{up_port}/mcp"])
        try:
            url = proxy.url
            token = oidc.token("mcp-es256", url, "mcp:read")

            async def flow(session: ClientSession) -> dict[str, Any]:
                listed = await session.list_tools()
                echo = await session.call_tool("echo", {"text": "hi"})
                who = await session.call_tool("whoami", {})
                denied = await session.call_tool("admin_reset", {})
                return {"names": sorted(t.name for t in listed.tools), "echo": echo, "who": who, "denied": denied}

            out = asyncio.run(session_run(url, token, flow))
            assert out["names"] == ["echo", "whoami"]  # admin_reset filtered out (needs mcp:admin)
            assert text_of(out["echo"]) == "echo: hi"
            who = json.loads(text_of(out["who"]))
            assert who == {"subject": "mcp-es256", "client": "mcp-es256", "scopes": "mcp:read", "authorization": None}
            check_denial(out["denied"])
            check_challenge(url, oidc.issuer)

            # The answer is SSE: it went through the streaming filter, event by event.
            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
            auth = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
            status, headers, _ = http("POST", url, init, auth)
            assert status == 200
            sid = headers["mcp-session-id"]
            status, headers, raw = http("POST", url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                                        {**auth, "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"})
            assert status == 200 and headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[5:]) for line in raw.decode().splitlines() if line.startswith("data:") and line[5:].strip()]
            assert [sorted(t["name"] for t in e["result"]["tools"]) for e in events if "result" in e] == [["echo", "whoami"]]
            check_metrics(url, {("allow", "ok"): 5, ("deny", "no_token"): 1,
                                ("deny", "insufficient_scope"): 1, ("metadata", "metadata"): 1})
        finally:
            proxy.close()
        log = (ROOT / "target" / f"proxy-e2e-{proxy_ports['http']}.log").read_text()
        assert 'decision=allow reason="ok" client="mcp-es256"' in log
        assert 'status=401 decision=deny reason="no_token"' in log
        assert token not in log and token.split(".")[2] not in log


def test_stdio_server_behind_authsec_proxy(oidc: AuthServer, proxy_ports: dict[str, int]) -> None:
    proxy = ProxyProc(oidc.issuer, proxy_ports["stdio"], ["--stdio", "--", sys.executable, str(HERE / "stdio_server.py")])
    try:
        url = proxy.url
        reader = oidc.token("mcp-rs256", url, "mcp:read")

        async def flow(session: ClientSession) -> dict[str, Any]:
            listed = await session.list_tools()
            added = await session.call_tool("add", {"a": 2, "b": 40})
            denied = await session.call_tool("admin_reset", {})
            return {"names": sorted(t.name for t in listed.tools), "added": added, "denied": denied}

        out = asyncio.run(session_run(url, reader, flow))
        assert out["names"] == ["add", "echo"]
        assert text_of(out["added"]) == "42"
        check_denial(out["denied"])
        check_challenge(url, oidc.issuer)

        # A session belongs to its caller: another client's valid token cannot use it.
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        status, headers, _ = http("POST", url, init, {**accept, "Authorization": f"Bearer {reader}"})
        assert status == 200
        sid = headers["mcp-session-id"]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}
        other = oidc.token("mcp-eddsa", url, "mcp:read")
        status, _, body = http("POST", url, call, {**accept, "Authorization": f"Bearer {other}", "Mcp-Session-Id": sid})
        assert status == 404, body
        status, _, body = http("POST", url, call, {**accept, "Authorization": f"Bearer {reader}", "Mcp-Session-Id": sid})
        assert status == 200 and b"echo: x" in body
        families = check_metrics(url, {("allow", "ok"): 3, ("deny", "no_token"): 1})
        started = [s.value for s in families["authsec_proxy_stdio_sessions"].samples if s.name.endswith("_total")]
        assert started and started[0] >= 2, started  # the client's session and the raw one
    finally:
        proxy.close()

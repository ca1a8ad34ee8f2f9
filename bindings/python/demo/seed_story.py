"""The seed's own story, walked through over real HTTP and checked step by step: the AuthSec SDK's
five-line quickstart (an ``mcp`` ``MCPServer`` behind ``mount_mcp`` on FastAPI/uvicorn) protected
by the authsec core, with a development issuer on loopback (the project's fixture backend: it
serves the JWKS and mints tokens with the committed test keys), driven by the official ``mcp``
client. No external account. Exits non-zero when a step differs.

Run by ``bash scripts/demo.sh`` (through ``bindings/python/demo.sh``, which builds the venv).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer

from authsec_sdk.runtime import Config, PolicyMode, ValidationMode, mount_mcp

ROOT = Path(os.environ.get("AUTHSEC_ROOT", Path(__file__).resolve().parents[3]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(n: int, what: str, ok: bool, detail: str = "") -> None:
    print(f"{n}. {what}\n   {'ok' if ok else 'FAILED'}{': ' + detail if detail else ''}")
    if not ok:
        raise SystemExit(1)


def start_issuer() -> tuple[subprocess.Popen[str], str]:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    proc = subprocess.Popen([str(target / "debug" / "authsec-fixture"), "--port", "0", "--ignore-stdin"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"the development issuer did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def mint(issuer: str, scope: str, aud: str) -> str:
    spec = {"kid": "rsa-1", "header": {"typ": "at+jwt"},
            "claims": {"iss": issuer, "sub": "demo-user", "aud": aud, "scope": scope, "exp": {"$now": 3600}}}
    req = urllib.request.Request(f"{issuer}/_control/mint", data=json.dumps(spec).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        return str(json.load(r)["token"])


def issues_server() -> MCPServer:
    """What an application already has, knowing nothing about auth."""
    server = MCPServer("issues")

    @server.tool()
    def list_issues() -> str:
        return "#1 tokens must be bound to this server"

    @server.tool()
    def create_issue(title: str) -> str:
        return f"created: {title}"

    @server.tool()
    def whoami(ctx: Context) -> str:
        p = getattr(ctx.request_context.request.state, "authsec_principal", None)
        return "" if p is None else str(p.subject)

    return server


class Served:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


async def session(url: str, token: str, fn: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                return await fn(s)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def quiet() -> None:
    """Only warnings from the HTTP client, the MCP SDK and uvicorn: the steps are the output."""
    for name in ("", "httpx", "httpx2", "mcp", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    issuer_proc, issuer = start_issuer()
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}/mcp"
        # The seed's quickstart, unchanged but for the URLs and the policy source (a local map
        # here; the seed's remote AuthSec policy needs the hosted backend).
        cfg = Config(issuer=issuer, authorization_server=issuer, jwks_url=f"{issuer}/jwks",
                     resource_uri=url, resource_name="Issues MCP",
                     tool_scopes={"list_issues": ["issues:read"], "create_issue": ["issues:write"], "whoami": []},
                     policy_mode=PolicyMode.LOCAL_ONLY, validation_mode=ValidationMode.JWT_ONLY,
                     audit_log="stderr")  # every decision as one JSON line on stderr
        app = FastAPI()
        mount_mcp(app, "/mcp", issues_server(), cfg)
        quiet()
        with Served(app, port):
            print(f"Python: the seed's quickstart (MCPServer behind mount_mcp) on {url}, issuer {issuer}\n")
            r = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"accept": "application/json, text/event-stream"})
            challenge = r.headers.get("www-authenticate", "")
            step(1, "no token: 401 with the challenge",
                 r.status_code == 401 and 'error="invalid_token"' in challenge and "resource_metadata=" in challenge,
                 challenge)
            meta_url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
            path = meta_url.split("/.well-known/", 1)[1]
            meta = httpx2.get(f"http://127.0.0.1:{port}/.well-known/{path}").json()
            step(2, "the RFC 9728 document the challenge names",
                 meta.get("resource") == url and meta.get("authorization_servers") == [issuer], json.dumps(meta))
            reader = mint(issuer, "issues:read", url)

            async def flow(s: ClientSession) -> dict[str, Any]:
                return {"names": sorted(t.name for t in (await s.list_tools()).tools),
                        "listed": await s.call_tool("list_issues", {}),
                        "who": await s.call_tool("whoami", {}),
                        "denied": await s.call_tool("create_issue", {"title": "x"})}

            out = asyncio.run(session(url, reader, flow))
            step(3, "the official mcp client with scope issues:read: tools/list filtered",
                 out["names"] == ["list_issues", "whoami"], str(out["names"]))
            step(4, "tools/call list_issues: allowed",
                 out["listed"].is_error is not True and text_of(out["listed"]).startswith("#1"), text_of(out["listed"]))
            step(5, "the tool sees the principal (request.state.authsec_principal)",
                 text_of(out["who"]) == "demo-user", text_of(out["who"]))
            step(6, "tools/call create_issue: denied in-band by the core (isError)",
                 out["denied"].is_error is True and "issues:write" in text_of(out["denied"]), text_of(out["denied"]))
            other = mint(issuer, "issues:read issues:write", "https://other.example.com/mcp")
            r = httpx2.post(url, json={"method": "tools/call", "params": {"name": "list_issues"}},
                            headers={"authorization": f"Bearer {other}"})
            step(7, "a token for another server: 401 invalid_audience",
                 r.status_code == 401 and 'error="invalid_audience"' in r.headers.get("www-authenticate", ""),
                 r.headers.get("www-authenticate", ""))
        print("\nauthsec Python demo: all 7 steps behaved as expected.")
    finally:
        issuer_proc.kill()
        issuer_proc.wait()


if __name__ == "__main__":
    sys.exit(main())

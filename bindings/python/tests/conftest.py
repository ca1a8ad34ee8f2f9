"""Real parts on loopback for the Python suite: the conformance fixture backend (authorization
server + AuthSec backend with control endpoints), oidc-provider (tests/interop/oidc), and
uvicorn serving the app under test in a thread."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import uvicorn

ROOT = Path(os.environ.get("AUTHSEC_ROOT", Path(__file__).resolve().parents[3]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (urllib): (status, lower-case headers, body)."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _ready_line(proc: subprocess.Popen[str], what: str, timeout: float = 60) -> str:
    result: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        result.append(proc.stdout.readline())
        for _ in proc.stdout:  # keep draining so the child never blocks
            pass

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        time.sleep(0.05)
    if not result or not result[0].startswith("READY "):
        proc.kill()
        raise RuntimeError(f"{what} did not start (first line {result[:1]!r})")
    return result[0]


class Backend:
    """The fixture backend (tests/conformance/README.md)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def control(self, path: str, body: Any = None, method: str = "POST") -> Any:
        status, _, raw = http(method, f"{self.base}/_control/{path}", body if body is not None else ({} if method == "POST" else None))
        assert status == 200, (path, status, raw)
        return json.loads(raw)

    def reset(self, **backend: Any) -> None:
        self.control("reset", backend)

    def mint(self, claims: dict[str, Any], kid: str = "rsa-1") -> str:
        return str(self.control("mint", {"kid": kid, "claims": claims})["token"])


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    exe = ROOT / "target" / "debug" / "authsec-fixture"
    if os.environ.get("CARGO_TARGET_DIR"):
        exe = Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "authsec-fixture"
    proc = subprocess.Popen([str(exe), "--port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = _ready_line(proc, "authsec-fixture")
        yield Backend(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mcp_ports() -> dict[str, int]:
    """Ports of the MCP servers under test, known before oidc-provider starts (it must list
    their resource URIs)."""
    return {"mcpserver": free_port(), "fastmcp": free_port(), "quickstart": free_port(),
            "proxy_http": free_port(), "proxy_stdio": free_port(), "blog": free_port(),
            "blog_fastmcp": free_port(), "signin": free_port(),
            "mcpserver_app": free_port(), "fastmcp_app": free_port(), "session": free_port()}


class AuthServer:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def token(self, client: str, resource: str, scope: str = "mcp:read mcp:write") -> str:
        import base64
        import urllib.parse

        auth = base64.b64encode(f"{client}:{client}-secret".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope, "resource": resource}).encode()
        status, _, raw = http("POST", f"{self.issuer}/token", form, {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, raw
        return str(json.loads(raw)["access_token"])

    def revoke(self, client: str, token: str) -> None:
        import base64
        import urllib.parse

        auth = base64.b64encode(f"{client}:{client}-secret".encode()).decode()
        form = urllib.parse.urlencode({"token": token}).encode()
        status, _, raw = http("POST", f"{self.issuer}/token/revocation", form, {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, raw


@pytest.fixture(scope="session")
def oidc(mcp_ports: dict[str, int]) -> Iterator[AuthServer]:
    d = ROOT / "tests" / "interop" / "oidc"
    if not (d / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["bash", str(ROOT / "scripts" / "npm-ci.sh"), str(d)], check=True)
    resources = ",".join(f"http://127.0.0.1:{p}/mcp" for p in mcp_ports.values())
    # The sign-in server (test_oauth_browser.py) serves MCP at / and its callback route.
    signin = mcp_ports["signin"]
    env = {**os.environ, "MCP_RESOURCES": f"{resources},http://127.0.0.1:{signin}/",
           "SIGNIN_REDIRECT_URI": f"http://127.0.0.1:{signin}/oauth/callback"}
    proc = subprocess.Popen(["node", "as.mjs", "0"], cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        line = _ready_line(proc, "oidc-provider")
        yield AuthServer(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Served:
    """uvicorn serving ``app`` on 127.0.0.1:``port`` in a thread (lifespan on)."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.exit_code: Optional[int] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit as e:  # uvicorn exits 3 when the app's startup fails
            self.exit_code = int(e.code or 0)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start (exit {self.exit_code})")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

"""Sign-in (issue 19) end to end with real parts on loopback: oidc-provider as the authorization
server (tests/interop/oidc/as.mjs, client ``mcp-signin``: authorization code + PKCE, its
devInteractions login and consent pages, the resource indicator, RBAC claims in the access
token, revocation), the quickstart server (examples/oauth_server.py) served by
``build_mcp_app_with_oauth``, the official ``mcp`` client, and Debian's Chromium driven headless
through chromedriver's WebDriver HTTP API (W3C WebDriver, plain JSON over HTTP: no client
library) for the user's part: load the authorization URL, sign in, consent, land on the
success page."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from typing import Any, Callable, Iterator, Optional

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from authsec_sdk import build_mcp_app_with_oauth
from authsec_sdk.runtime import Config

from conftest import AuthServer, Served, free_port, http
from test_oauth_server import OAUTH_TOOLS, text_of

import oauth_server  # noqa: E402  (examples/, put on sys.path by test_oauth_server)

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # W3C WebDriver's web element identifier key
WAIT = 60.0  # seconds a page may take on a loaded machine before the test gives up


class Browser:
    """Headless Chromium (temporary profile) behind chromedriver on a free loopback port. Both are
    stopped by PID at the end. Chromium is kept off every address but loopback: a proxy on a
    closed loopback port for everything Chromium does not bypass (it bypasses loopback), a
    resolver that maps every other name to nothing, and background networking off."""

    def __init__(self) -> None:
        chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if not chromium or not driver:
            raise RuntimeError("chromium and chromium-driver are not installed (bindings/python/test.sh installs them)")
        self.profile = tempfile.mkdtemp(prefix="authsec-chromium-")
        self.base = f"http://127.0.0.1:{free_port()}"
        port = self.base.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.session: Optional[str] = None
        try:
            self._wait_for(lambda: self._ready(), "chromedriver to listen")
            caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", f"--user-data-dir={self.profile}",
                         "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
                         "--proxy-server=http://127.0.0.1:9",
                         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]}}}}
            self.session = str(self._call("POST", "/session", caps)["sessionId"])
        except BaseException:
            self.close()
            raise

    def _ready(self) -> bool:
        try:
            status, _, raw = http("GET", f"{self.base}/status")
        except OSError:
            return False
        return status == 200 and bool(json.loads(raw)["value"].get("ready"))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        status, _, raw = http(method, f"{self.base}{path}", body)
        value = json.loads(raw)["value"]
        if status != 200:
            raise RuntimeError(f"WebDriver {method} {path}: {status} {value.get('error')}: {value.get('message', '')[:300]}")
        return value

    def _wait_for(self, cond: Callable[[], Any], what: str) -> Any:
        deadline = time.monotonic() + WAIT
        while True:
            got = cond()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"the browser did not reach {what} (at {self._url_or_none()})")
            time.sleep(0.1)

    def _url_or_none(self) -> Optional[str]:
        try:
            return self.url() if self.session else None
        except (OSError, RuntimeError):
            return None

    def s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def go(self, url: str) -> None:
        self._call("POST", self.s("/url"), {"url": url})

    def url(self) -> str:
        return str(self._call("GET", self.s("/url")))

    def source(self) -> str:
        return str(self._call("GET", self.s("/source")))

    def text(self) -> str:
        body = self._call("POST", self.s("/element"), {"using": "css selector", "value": "body"})[ELEMENT]
        return str(self._call("GET", self.s(f"/element/{body}/text")))

    def find(self, css: str) -> Optional[str]:
        found = self._call("POST", self.s("/elements"), {"using": "css selector", "value": css})
        return str(found[0][ELEMENT]) if found else None

    def wait_element(self, css: str, what: str) -> str:
        return str(self._wait_for(lambda: self.find(css), what))

    def type(self, element: str, text: str) -> None:
        self._call("POST", self.s(f"/element/{element}/value"), {"text": text})

    def click(self, element: str) -> None:
        self._call("POST", self.s(f"/element/{element}/click"), {})

    def wait_url(self, prefix: str, what: str) -> str:
        return str(self._wait_for(lambda: (u := self.url()).startswith(prefix) and u, what))

    def close(self) -> None:
        try:
            if self.session:
                self._call("DELETE", self.s(""))
        except (OSError, RuntimeError):
            pass
        finally:
            self.proc.kill()  # chromedriver, by PID; Chromium is its child, ended by DELETE above
            self.proc.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture()
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def sign_in_in_the_browser(browser: Browser, authorization_url: str, issuer: str, callback: str) -> tuple[str, str, str]:
    """The user's part: the authorization URL, oidc-provider's devInteractions login (any login
    and password), its consent page, then the server's callback page. Returns the landing URL,
    the page's text and its source."""
    browser.go(authorization_url)
    login = browser.wait_element("form input[name=login]", "the login page")
    assert browser.url().startswith(f"{issuer}/interaction/"), browser.url()
    browser.type(login, "signin-user")
    browser.type(browser.wait_element("form input[name=password]", "the password field"), "any-password")
    browser.click(browser.wait_element("form button[type=submit]", "the sign-in button"))
    # The consent page: its form says prompt=consent (the login form's says prompt=login).
    browser.click(browser.wait_element("form:has(input[name=prompt][value=consent]) button[type=submit]", "the consent page"))
    landed = browser.wait_url(callback, "the callback page")
    browser.wait_element("h1", "the callback page's heading")
    return landed, browser.text(), browser.source()


def replay_in_the_browser(browser: Browser, landed: str) -> str:
    """The same callback URL (code and state) loaded again: the page's text."""
    browser.go(landed)
    browser.wait_element("h1", "the replayed callback's page")
    return browser.text()


def test_sign_in_in_a_real_browser_against_oidc_provider(oidc: AuthServer, mcp_ports: dict[str, int], browser: Browser) -> None:
    port = mcp_ports["signin"]
    url = f"http://127.0.0.1:{port}/"
    callback = f"http://127.0.0.1:{port}/oauth/callback"
    cfg = Config(issuer=oidc.issuer, jwks_url=f"{oidc.issuer}/jwks", resource_uri=url,
                 sign_in={"redirect_uri": callback, "scopes": ["openid", "email", "mcp:read"]})
    app = build_mcp_app_with_oauth(oauth_server, client_id="mcp-signin", app_name="Quickstart", port=port, config=cfg)

    async def flow() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with httpx2.AsyncClient(timeout=60) as client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    out["before"] = sorted(t.name for t in (await session.list_tools()).tools)
                    started = json.loads(text_of(await session.call_tool("oauth_start", {})))
                    assert "session_id" in started, started
                    sid = started["session_id"]
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(started["authorization_url"]).query)
                    out["request"] = {k: v[0] for k, v in query.items()}
                    out["browser"] = await asyncio.to_thread(
                        sign_in_in_the_browser, browser, started["authorization_url"], oidc.issuer, callback)
                    out["sid"] = sid
                    out["replay"] = await asyncio.to_thread(replay_in_the_browser, browser, out["browser"][0])
                    out["status"] = json.loads(text_of(await session.call_tool("oauth_status", {"session_id": sid})))
                    # No _meta: the MCP session bound at oauth_start names the sign-in.
                    out["after"] = sorted(t.name for t in (await session.list_tools()).tools)
                    prof = await session.call_tool("get_profile", {"session_id": sid})
                    assert text_of(prof).startswith("{"), (prof, out)
                    out["profile"] = json.loads(text_of(prof))
                    out["admin"] = json.loads(text_of(await session.call_tool("admin_report", {"session_id": sid})))
                    out["billing"] = await session.call_tool("billing", {"session_id": sid})
                    out["logout"] = json.loads(text_of(await session.call_tool("oauth_logout", {"session_id": sid})))
                    out["final"] = sorted(t.name for t in (await session.list_tools()).tools)
                    out["after_logout"] = await session.call_tool("get_profile", {"session_id": sid})
        return out

    with Served(app, port):
        out = asyncio.run(flow())

    # The authorization request the core built (docs/sign-in.md, step 1).
    req = out["request"]
    assert req["response_type"] == "code" and req["client_id"] == "mcp-signin"
    assert req["redirect_uri"] == callback and req["resource"] == url
    assert req["code_challenge_method"] == "S256" and len(req["code_challenge"]) == 43
    assert req["scope"] == "openid email mcp:read" and req["state"] and req["nonce"]
    # The browser landed on the callback and the success page; nothing secret in it.
    landed, text, source = out["browser"]
    back = urllib.parse.urlsplit(landed)
    assert f"{back.scheme}://{back.netloc}{back.path}" == callback, landed
    answer = urllib.parse.parse_qs(back.query)
    assert answer["state"] == [req["state"]] and answer["code"][0] and "error" not in answer, answer
    assert "You are signed in to Quickstart" in text, text
    assert "eyJ" not in source and out["sid"] not in source and "access_token" not in source
    # The same code and state again (a replayed callback): refused, the session stays signed in.
    assert "Sign-in failed" in out["replay"] and "already used" in out["replay"], out["replay"]
    assert out["status"]["authenticated"] is True and out["status"]["user_id"] == "signin-user", out["status"]
    # Before: only the sign-in tools. After: per RBAC (roles ["admin"] from oidc-provider's token).
    assert out["before"] == OAUTH_TOOLS
    assert out["after"] == ["admin_report", "echo", "get_profile"], out["after"]
    # The handler saw _user_info with the account's claims from the real access token.
    assert out["profile"] == {"email": "signin-user@example.com", "roles": ["admin"]}
    assert out["admin"] == {"report": "ok", "by": "signin-user@example.com"}
    assert out["billing"].is_error is True
    # oidc-provider's revocation endpoint (RFC 7009) accepted the public client's revocation.
    assert out["logout"]["logged_out"] is True and out["logout"]["revoked"] is True, out["logout"]
    assert out["final"] == OAUTH_TOOLS
    assert out["after_logout"].is_error is True

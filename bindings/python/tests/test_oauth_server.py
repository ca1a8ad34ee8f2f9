"""Sign-in for clients without OAuth (issue 19) in Python: the quickstart server
(examples/oauth_server.py) served by ``build_mcp_app_with_oauth`` (what
``run_mcp_server_with_oauth`` serves), the fixture as the authorization server, driven by the
official ``mcp`` client: oauth_start, the authorization request followed as a browser does,
the callback page, then tools/list (per RBAC), a protected tool that sees ``_user_info``,
oauth_logout (tools hidden again)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from authsec_sdk import build_mcp_app_with_oauth
from authsec_sdk.runtime import Config

from conftest import ROOT, Backend, Served, free_port, http

sys.path.insert(0, str(ROOT / "bindings" / "python" / "examples"))
import oauth_server  # noqa: E402

OAUTH_TOOLS = ["oauth_authenticate", "oauth_logout", "oauth_start", "oauth_status", "oauth_user_info"]


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def serve(backend: Backend) -> tuple[Served, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri=url,
                 sign_in={"redirect_uri": f"http://127.0.0.1:{port}/oauth/callback", "scopes": ["openid", "email"]})
    app = build_mcp_app_with_oauth(oauth_server, client_id="mcp-client", app_name="Quickstart", port=port, config=cfg)
    return Served(app, port), url


def test_sign_in_with_the_official_client(backend: Backend) -> None:
    served, url = serve(backend)

    async def flow() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with httpx2.AsyncClient(timeout=30) as client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    out["before"] = sorted(t.name for t in (await session.list_tools()).tools)
                    started = json.loads(text_of(await session.call_tool("oauth_start", {})))
                    assert "session_id" in started, started
                    sid = started["session_id"]
                    # The browser: the authorization server redirects to the callback route.
                    status, headers, _ = await asyncio.to_thread(http_no_redirect, started["authorization_url"])
                    assert status == 302, status
                    status, headers, page = await asyncio.to_thread(http, "GET", headers["location"])
                    out["page"] = (status, page.decode())
                    out["after"] = sorted(t.name for t in (await session.list_tools()).tools)
                    prof = await session.call_tool("get_profile", {"session_id": sid})
                    assert text_of(prof).startswith("{"), (prof, out)
                    out["profile"] = json.loads(text_of(prof))
                    out["billing"] = await session.call_tool("billing", {"session_id": sid})
                    out["no_session"] = await session.call_tool("get_profile", {})
                    out["logout"] = json.loads(text_of(await session.call_tool("oauth_logout", {"session_id": sid})))
                    out["final"] = sorted(t.name for t in (await session.list_tools()).tools)
        return out

    with served:
        out = asyncio.run(flow())
        status, _, info = http("GET", url)
    assert out["before"] == OAUTH_TOOLS
    assert out["page"][0] == 200 and "You are signed in to Quickstart" in out["page"][1]
    assert "eyJ" not in out["page"][1]
    # RBAC: the fixture's user has role admin, not finance.
    assert out["after"] == ["admin_report", "echo", "get_profile"], out["after"]
    assert out["profile"] == {"email": "signin-user@example.com", "roles": ["admin"]}
    assert out["billing"].isError is True
    assert out["no_session"].isError is True
    assert out["logout"]["logged_out"] is True
    assert out["final"] == OAUTH_TOOLS
    assert status == 200 and json.loads(info)["protocol"] == "mcp-with-oauth"


def http_no_redirect(url: str) -> tuple[int, dict[str, str], bytes]:
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_a_bad_configuration_is_refused(backend: Backend) -> None:
    cfg = Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks", resource_uri="http://127.0.0.1:1/",
                 sign_in={"redirect_uri": "not a url"})
    with pytest.raises(ValueError, match="sign_in.redirect_uri must be an http"):
        build_mcp_app_with_oauth(oauth_server, client_id="mcp-client", app_name="x", config=cfg)

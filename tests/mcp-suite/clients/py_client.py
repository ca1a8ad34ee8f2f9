"""The official Python MCP client (`mcp` 2.x, the version pinned in bindings/python) against one
MCP server behind authsec: list the tools, an allowed call, a denied call, and a connection
without a token. Prints one JSON object with what the client saw; clients.test.mjs asserts on it.

    python py_client.py URL MODE        MODE: legacy | auto | 2026-07-28 (mcp.Client's `mode`)
    env MCP_TOKEN: the bearer token (never printed)
"""

import asyncio
import json
import os
import sys
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def tool_result(result: Any) -> dict[str, Any]:
    meta = result.meta or {}
    return {"isError": bool(result.is_error), "text": text_of(result), "authsec": meta.get("authsec")}


async def flow(url: str, mode: str, token: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client:
            out["protocolVersion"] = client.protocol_version
            listed = await client.list_tools()
            out["list"] = {"names": [t.name for t in listed.tools]}
            out["allowed"] = tool_result(await client.call_tool("list_issues", {}))
            try:
                out["denied"] = tool_result(await client.call_tool("create_issue", {"title": "nope"}))
            except Exception as e:  # the client refused the answer (see KNOWN GAP in clients.test.mjs)
                out["denied"] = {"error": f"{type(e).__name__}: {e}"}
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client:
                await client.list_tools()
        out["noToken"] = "connected"
    except BaseException as e:  # the client raises (an ExceptionGroup from its task group) on 401
        out["noToken"] = f"{type(e).__name__}: {flatten(e)}"
    return out


def flatten(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(flatten(x) for x in e.exceptions)
    return str(e)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flow(sys.argv[1], sys.argv[2], os.environ["MCP_TOKEN"]))))

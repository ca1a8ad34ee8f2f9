"""Drive one of the Python load apps in process (raw ASGI calls, no sockets, no uvicorn), for a
count of instructions per request under ``valgrind --tool=callgrind`` (``LOAD_CALLGRIND=1 bash
scripts/load.sh`` runs it twice with two request counts and divides the difference: what
start-up and the warm-up cost cancels out).

    python instructions.py {trivial,mcp} {protected,unprotected} N

Builds the app as ``server.py`` / ``mcp_server.py`` do, runs its lifespan on uvloop (as uvicorn), sends 100 warm-up
requests and then ``N`` requests: each the load benchmark's allowed ``tools/call`` with the
bearer token ``LOAD_TOKEN`` and the headers wrk sends, each answer checked to be 200 with the
body ``LOAD_EXPECT`` (exit 1 otherwise, so a count is never of refusals). Configuration from the
environment, as the servers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues","arguments":{}}}'
WARMUP = 100


def scope(token: str) -> dict[str, Any]:
    """The request wrk sends (scripts/load/tools_call.lua) as uvicorn hands it to the app."""
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/mcp", "raw_path": b"/mcp", "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-length", str(len(REQUEST)).encode()),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"authorization", b"Bearer " + token.encode()),
        ],
        "state": {},
    }


async def one(app: Any, base: dict[str, Any], expect: bytes) -> None:
    sent = False
    never = asyncio.Event()
    out: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": REQUEST, "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        out.append(msg)

    s = dict(base)
    s["state"] = {}
    await app(s, receive, send)
    status = next((m["status"] for m in out if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    if status != 200 or body != expect:
        raise SystemExit(f"unexpected answer: {status} {body[:200]!r}")


async def main(kind: str, mode: str, n: int) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import server

    server.ready = lambda: None  # no READY line: nobody waits for one here
    if kind == "mcp":
        import mcp_server

        app = mcp_server.build(mode == "protected")
    else:
        app = server.build(mode == "protected")
    base = scope(os.environ["LOAD_TOKEN"])
    expect = os.environ["LOAD_EXPECT"].encode()
    async with app.router.lifespan_context(app):
        for _ in range(WARMUP + n):
            await one(app, base, expect)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("trivial", "mcp") or sys.argv[2] not in ("protected", "unprotected"):
        raise SystemExit("usage: instructions.py {trivial,mcp} {protected,unprotected} N")
    try:
        import uvloop  # the loop uvicorn runs the servers on (scripts/load/python/requirements.txt)
    except ImportError:
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    else:
        uvloop.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))

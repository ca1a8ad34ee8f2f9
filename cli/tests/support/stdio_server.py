"""A minimal stdio MCP server (no dependencies) for cli/tests/stdio.rs: newline-delimited
JSON-RPC on stdin/stdout. Tools: ``echo`` (sends a progress notification first), ``env`` (the
names of its AUTHSEC_* environment variables, and whether PATH is set), ``exit`` (ends the
process), ``pid``."""

import json
import os
import sys


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method = msg.get("method")
    mid = msg.get("id")
    if mid is None:
        continue  # notifications
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
            "serverInfo": {"name": "stdio-test", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "env", "exit", "pid", "secret_tool")]}})
    elif method == "tools/call":
        name = msg["params"]["name"]
        if name == "echo":
            send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}})
            text = "echo: " + str(msg["params"].get("arguments", {}).get("text", ""))
        elif name == "env":
            text = json.dumps({"authsec": sorted(k for k in os.environ if k.startswith("AUTHSEC_")), "path": "PATH" in os.environ})
        elif name == "pid":
            text = str(os.getpid())
        elif name == "exit":
            sys.exit(0)
        else:
            text = "ran " + name
        send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": text}]}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})

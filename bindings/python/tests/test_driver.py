"""The conformance driver's protocol edges (the runner covers the vectors): hello and its
version check, errors as answers with stable codes (protocol_error, config_invalid with the
core's message, startup_failed), one runtime at a time, and exit 0 at end of input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).resolve().parent / "conformance_driver.py"


def session(*commands: object) -> list[dict[str, object]]:
    lines = "".join((c if isinstance(c, str) else json.dumps(c)) + "\n" for c in commands)
    p = subprocess.run([sys.executable, str(DRIVER)], input=lines, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_protocol_edges() -> None:
    cfg = json.dumps({"issuer": "http://127.0.0.1:9", "jwks_url": "http://127.0.0.1:9/jwks", "resource_uri": "https://m/mcp"})
    remote = json.dumps({"issuer": "http://127.0.0.1:9", "jwks_url": "http://127.0.0.1:9/jwks", "resource_uri": "https://m/mcp",
                         "introspection_client_id": "rs", "introspection_client_secret": "s", "resource_server_id": "rs",
                         "request_timeout_seconds": 2})
    out = session(
        {"op": "hello", "protocol": 1},
        {"op": "hello", "protocol": 2},
        "not json",
        {"op": "nope"},
        {"op": "startup"},
        {"op": "create", "config": '{"jwks_uri": "x"}'},
        {"op": "create", "config": cfg},
        {"op": "create", "config": cfg},
        {"op": "check", "request": {"method": "POST", "path": "/mcp", "headers": [], "body_base64": ""}},
        {"op": "filter", "handle": 99, "content_type": None, "body_base64": ""},
        {"op": "close"},
        {"op": "create", "config": remote},
        {"op": "startup"},
    )
    assert out[0] == {"ok": True, "protocol": 1, "binding": "python"}
    codes = [a.get("error", {}).get("code") for a in out]  # type: ignore[union-attr]
    assert codes[1:6] == ["protocol_error", "protocol_error", "protocol_error", "protocol_error", "config_invalid"]
    assert str(out[5]["error"]["message"]).startswith("invalid config JSON: unknown field `jwks_uri`")  # type: ignore[index]
    assert out[6] == {"ok": True}
    assert codes[7] == "protocol_error"
    decision = out[8]["decision"]
    assert decision["kind"] == "respond" and decision["status"] == 401  # type: ignore[index]
    assert codes[9] == "protocol_error"
    assert out[10] == {"ok": True} and out[11] == {"ok": True}
    assert codes[12] == "startup_failed"
    assert str(out[12]["error"]["message"]).startswith("remote_required initial scope matrix fetch failed")  # type: ignore[index]

"""The audit trail and metrics through the Python API: a callable and a ``logging`` logger
receive the core's lines in order, ``flush_audit`` waits for them, a raising callable loses
only its line, ``metrics()`` is the core's Prometheus text, and misuse is a typed error."""

from __future__ import annotations

import json
import logging

import pytest

from authsec_sdk.runtime import METRICS_CONTENT_TYPE, AuthsecError, Config, ConfigError, Runtime

ISS = "https://as.example.com"
CALL = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_issues"}}'


def runtime(**kw: object) -> Runtime:
    return Runtime(
        Config(issuer=ISS, jwks_url=f"{ISS}/jwks", resource_uri="https://mcp.example.com/mcp",
               tool_scopes={"list_issues": ["issues:read"]}, **kw)  # type: ignore[arg-type]
    )


def deny(rt: Runtime, i: int) -> None:
    d = rt.check("POST", "/mcp", [("x-request-id", f"r-{i}")], CALL % i)
    assert d.kind == "respond" and d.response is not None and d.response[0] == 401


def test_callable_and_logger_get_every_line_in_order(caplog: pytest.LogCaptureFixture) -> None:
    rt = runtime()
    lines: list[str] = []
    rt.add_audit_callback(lines.append)

    def broken(_line: str) -> None:
        raise RuntimeError("a broken callback loses its line only")

    rt.add_audit_callback(broken)
    logger = logging.getLogger("authsec.audit.test")
    rt.add_audit_logger(logger)
    with caplog.at_level(logging.INFO, logger="authsec.audit.test"):
        for i in range(1, 6):
            deny(rt, i)
        assert rt.flush_audit() is True
    assert len(lines) == 5
    for i, line in enumerate(lines, start=1):
        assert line.endswith("\n")
        e = json.loads(line)
        assert (e["v"], e["type"], e["rpc_id"], e["reason"]) == (1, "decision", i, "no_token")
        assert e["http_request_id"] == f"r-{i}"
    records = [r for r in caplog.records if r.name == "authsec.audit.test"]
    assert [r.getMessage() for r in records] == [line.rstrip("\n") for line in lines]
    assert records[0].authsec_event["rpc_id"] == 1  # type: ignore[attr-defined]
    m = rt.metrics()
    assert 'authsec_decisions_total{outcome="deny",reason="no_token"} 5\n' in m
    assert "authsec_audit_events_total 5\n" in m
    assert METRICS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    rt.close()


def test_audit_misuse_is_typed() -> None:
    rt = runtime()
    with pytest.raises(AuthsecError) as e:
        rt.add_audit_callback("nope")  # type: ignore[arg-type]
    assert e.value.code == "invalid_input"
    with pytest.raises(AuthsecError):
        rt.flush_audit(-1)
    assert rt.flush_audit(0.01) is True  # no sink: completes at once
    rt.close()
    for call in (rt.metrics, rt.flush_audit, lambda: rt.add_audit_callback(print)):
        with pytest.raises(AuthsecError):
            call()
    with pytest.raises(ConfigError) as c:
        runtime(audit_sample_allowed=2.0)
    assert str(c.value) == "audit_sample_allowed must be between 0 and 1"

"""The Python conformance driver: each command of the driver protocol (tests/conformance/README.md) through the
public API of authsec_sdk.runtime, no vector logic. cargo run -p authsec-conformance -- python <this file>"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from authsec_sdk.runtime import AuthsecError, Decision, Runtime

class ProtocolError(Exception):
    code = "protocol_error"


class Driver:
    def __init__(self) -> None:
        self.rt: Optional[Runtime] = None
        self.allowed: dict[int, Decision] = {}
        self.next_handle = 1
        self.audit_lines: list[str] = []
        self.audit_lock = threading.Lock()

    def runtime(self) -> Runtime:
        if self.rt is None:
            raise ProtocolError("no runtime: send create first")
        return self.rt

    @staticmethod
    def response(r: tuple[int, list[tuple[str, str]], bytes]) -> dict[str, Any]:
        status, headers, body = r
        return {"status": status, "headers": [[k, v] for k, v in headers], "body_base64": base64.b64encode(body).decode()}

    def decision(self, d: Decision) -> dict[str, Any]:
        if d.kind == "allow":
            p = d.principal
            assert p is not None
            handle, self.next_handle = self.next_handle, self.next_handle + 1
            self.allowed[handle] = d
            principal = {"subject": p.subject, "issuer": p.issuer, "audience": p.audience, "scopes": p.scopes, "claims": p.claims, "active": p.active}
            info = base64.b64encode(self.runtime().user_info_json(d).encode("utf-8")).decode("ascii")
            return {"kind": "allow", "principal": principal, "filter_tools_list": d.filter_tools_list,
                    "user_info_base64": info, "handle": handle}
        if d.kind == "respond":
            assert d.response is not None
            return {"kind": "respond", **self.response(d.response)}
        return {"kind": "pass_through"}

    @staticmethod
    def request(r: Any) -> tuple[str, str, list[tuple[str, str]], bytes]:
        if not isinstance(r, dict):
            raise ProtocolError("request must be an object")
        headers = [(str(k), str(v)) for k, v in r.get("headers", [])]
        return str(r.get("method", "GET")), str(r.get("path", "/")), headers, base64.b64decode(r.get("body_base64", ""))

    def check(self, req: Any) -> dict[str, Any]:
        try:
            method, path, headers, body = self.request(req)
            if req.get("oversized") is True:  # the host stopped reading the body: none is passed
                d = self.runtime().check_oversized(method, path, headers)
            else:
                d = self.runtime().check(method, path, headers, body)
            return {"ok": True, "decision": self.decision(d)}
        except Exception as e:  # a refused check is an error answer
            return failure(e)

    def create(self, build: Callable[[], Runtime]) -> dict[str, Any]:
        if self.rt is not None:
            raise ProtocolError("a runtime is open: send close first")
        self.rt = build()
        lines: list[str] = []
        self.audit_lines = lines

        def collect(line: str) -> None:
            with self.audit_lock:
                lines.append(line)

        self.rt.add_audit_callback(collect)
        return {}

    def op_hello(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd.get("protocol") != 1:
            raise ProtocolError(f"protocol {cmd.get('protocol')!r} is not supported (this driver speaks 1)")
        return {"protocol": 1, "binding": "python"}

    def op_create(self, cmd: dict[str, Any]) -> dict[str, Any]:
        text = cmd.get("config")
        if not isinstance(text, str):
            raise ProtocolError("config must be JSON text")
        return self.create(lambda: Runtime.from_json(text, manual_clock=True))

    def op_create_from_env(self, cmd: dict[str, Any]) -> dict[str, Any]:
        env = cmd.get("env", {})
        if not isinstance(env, dict):
            raise ProtocolError("env must be an object")
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update({str(k): str(v) for k, v in env.items()})
        try:
            return self.create(lambda: Runtime.from_env(str(cmd.get("prefix", "AUTHSEC_")), manual_clock=True))
        finally:  # restore the environment as it was
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def op_startup(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {"warnings": self.runtime().startup_blocking()}

    def op_check(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return self.check(cmd.get("request"))  # {"ok": ..., "decision" or "error"}

    def op_check_many(self, cmd: dict[str, Any]) -> dict[str, Any]:
        count = int(cmd.get("count", 1))
        self.runtime()
        # One thread per check, all submitted before any result is read (ctypes releases the GIL).
        with ThreadPoolExecutor(max_workers=max(1, count)) as pool:
            futures = [pool.submit(self.check, cmd.get("request")) for _ in range(count)]
            return {"answers": [f.result() for f in futures]}

    def op_filter(self, cmd: dict[str, Any]) -> dict[str, Any]:
        rt, d = self.runtime(), self.allowed.get(cmd.get("handle"))  # type: ignore[arg-type]
        if d is None:
            raise ProtocolError(f"unknown handle {cmd.get('handle')!r}")
        r = rt.filter_response(d, cmd.get("content_type"), base64.b64decode(cmd.get("body_base64", "")))
        if r.kind == "rewritten":
            return {"result": {"kind": "rewritten", "body_base64": base64.b64encode(r.body).decode()}}
        if r.kind == "respond":
            assert r.response is not None
            return {"result": {"kind": "respond", **self.response(r.response)}}
        return {"result": {"kind": "unchanged"}}

    def op_filter_stream(self, cmd: dict[str, Any]) -> dict[str, Any]:
        d = self.allowed.get(cmd.get("handle"))  # type: ignore[arg-type]
        if d is None or not isinstance(cmd.get("chunks_base64"), list):
            raise ProtocolError(f"unknown handle {cmd.get('handle')!r} or chunks_base64 not a list")
        f = self.runtime().response_filter(d, cmd.get("content_type"), cmd.get("content_encoding"))
        forwarded, respond = [], None
        steps = [lambda c=c: f.feed(base64.b64decode(c)) for c in cmd["chunks_base64"]] + [f.finish]
        for step in steps:
            kind, out = step()
            if kind == "respond":
                respond = self.response(out)
                break
            forwarded.append(out)
        f.close()
        return {"forwarded_base64": base64.b64encode(b"".join(forwarded)).decode(), "drops_content_encoding": f.drops_content_encoding, "respond": respond}

    def op_canned(self, cmd: dict[str, Any]) -> dict[str, Any]:
        answers = {"startup_failed": Runtime.startup_failed_response, "internal_error": Runtime.internal_error_response}
        if cmd.get("which") not in answers:
            raise ProtocolError(f"unknown canned answer {cmd.get('which')!r}")
        return {"response": self.response(answers[cmd["which"]]())}

    def op_metadata(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {"response": self.response(self.runtime().metadata())}

    def op_publish_manifest(self, cmd: dict[str, Any]) -> dict[str, Any]:
        tools = cmd.get("tools")
        if not isinstance(tools, list):
            raise ProtocolError("tools must be a list")
        return {"report": self.runtime().publish_manifest_blocking(tools)}

    def op_advance_clock(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.runtime().advance_clock(round(float(cmd.get("seconds", 0)) * 1000))
        return {}

    def op_wait_policy_refresh(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.runtime().wait_policy_refresh()
        return {}

    def op_events(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if not self.runtime().flush_audit(30.0):
            raise RuntimeError("flush_audit timed out")
        with self.audit_lock:
            events = list(self.audit_lines)
            self.audit_lines.clear()
        return {"events": events}

    def op_close(self, cmd: dict[str, Any]) -> dict[str, Any]:
        for d in self.allowed.values():
            d.close()
        self.allowed.clear()
        if self.rt is not None:
            self.rt.close()
        self.rt = None
        return {}


def failure(e: BaseException) -> dict[str, Any]:
    code = getattr(e, "code", "") or ("internal" if not isinstance(e, AuthsecError) else e.code)
    message = e.message if isinstance(e, AuthsecError) else str(e)
    return {"ok": False, "error": {"code": code, "message": message}}


def main() -> int:
    driver = Driver()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ProtocolError("a command is a JSON object")
            handler = getattr(driver, f"op_{cmd.get('op')}", None)
            if handler is None:
                raise ProtocolError(f"unknown op {cmd.get('op')!r}")
            answer = {"ok": True, **handler(cmd)}
        except json.JSONDecodeError as e:
            answer = failure(ProtocolError(f"not JSON: {e}"))
        except Exception as e:  # every failure is an answer, never a crash
            answer = failure(e)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

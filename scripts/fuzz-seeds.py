#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target (fuzz/seeds/<target>/) from the conformance vectors.

Each seed is in the input format its target documents (fuzz/fuzz_targets/<target>.rs): request
bodies for the envelope reader, handler answers (JSON and SSE) for the tools/list filter, JOSE
headers and claims for the JWT parser, challenge attributes, configurations (JSON and as an
environment), and C ABI call programs. `{{base}}` becomes a loopback URL, tokens are built from
the vectors' claims (the signature is a placeholder: the targets parse, they do not verify).
Deterministic: the same vectors give the same files, named after the vector id. `--check` fails
when the committed seeds differ from a fresh generation.

Usage: python3 scripts/fuzz-seeds.py [--check]
"""
import base64
import glob
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VECTORS = os.path.join(ROOT, "tests", "conformance", "vectors")
BASE = "http://127.0.0.1:9"
TARGETS = ["jsonrpc_envelope", "tools_list_filter", "jwt_header", "challenge", "config", "c_abi"]


def subst(x):
    """`{{base}}` replaced everywhere in a JSON value; `{"$now": n}` becomes a fixed time."""
    if isinstance(x, str):
        return x.replace("{{base}}", BASE)
    if isinstance(x, list):
        return [subst(v) for v in x]
    if isinstance(x, dict):
        if set(x) == {"$now"}:
            return 1_900_000_000 + int(x["$now"])
        return {k: subst(v) for k, v in x.items()}
    return x


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def body_of(d):
    """The body bytes of a request or filter description, or None."""
    if "body_json" in d:
        return compact(subst(d["body_json"]))
    if "body" in d:
        return subst(d["body"]).encode()
    if "body_base64" in d:
        return base64.b64decode(d["body_base64"])
    return None


def token_for(spec):
    header = {"alg": spec.get("alg", "RS256"), "typ": spec.get("typ", "JWT")}
    if "kid" in spec:
        header["kid"] = spec["kid"]
    header.update(subst(spec.get("header", {})))
    return compact(header), compact(subst(spec.get("claims", {})))


def blob(b):
    """A c_abi blob: a length byte, or 0xFE and a 16-bit length, then the bytes."""
    if len(b) < 0xF0:
        return bytes([len(b)]) + b
    return b"\xfe" + struct.pack("<H", min(len(b), 0xFFFF)) + b[:0xFFFF]


def seeds():
    out = {t: {} for t in TARGETS}

    def add(target, name, data):
        out[target].setdefault(data, name)

    for path in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        v = json.load(open(path))
        vid = v["id"]
        cfg = subst(v.get("config", {}))
        cfg_bytes = compact(cfg)
        add("config", f"{vid}-json", b"\x00" + cfg_bytes)
        env = "".join(
            f"AUTHSEC_{k.upper()}={json.dumps(val) if isinstance(val, (dict, list)) else str(val).lower() if isinstance(val, bool) else val}\n"
            for k, val in cfg.items()
        )
        add("config", f"{vid}-env", b"\x01" + env.encode())
        for name, spec in sorted(v.get("tokens", {}).items()):
            if not isinstance(spec, dict):
                continue
            h, c = token_for(spec)
            add("jwt_header", f"{vid}-{name}-parts", b"\x01" + h + b"\n" + c + b"\nc2ln")
            add("jwt_header", f"{vid}-{name}-token", b"\x00" + f"{b64(h)}.{b64(c)}.c2ln".encode())
        resource = cfg.get("resource_uri", "")
        realm = cfg.get("resource_name", "")
        for i, step in enumerate(v.get("steps", [])):
            req = step.get("request")
            exp = step.get("expect", {})
            if req:
                body = body_of(req) or b""
                add("jsonrpc_envelope", f"{vid}-{i}", body)
                headers = [(subst(k), subst(x)) for k, x in req.get("headers", [])]
                headers = [(k, x.replace("{{token:", "").replace("}}", "")) for k, x in headers]
                prog = b"\x02" + blob(cfg_bytes) + b"\x04\x00" + blob(req["method"].encode())
                prog += blob(req["path"].encode()) + bytes([min(len(headers), 3)])
                for k, x in headers[:3]:
                    prog += blob(k.encode()) + blob(x.encode())
                prog += blob(body[:0xFFFF]) + blob(b"application/json") + blob(b"{}")
                add("c_abi", f"{vid}-{i}", prog)
            bj = exp.get("body_json")
            if isinstance(bj, dict) and isinstance(bj.get("error_description"), str):
                fields = [realm, resource + "/.well-known", bj.get("error", ""),
                          bj["error_description"], bj.get("scope", "")]
                add("challenge", f"{vid}-{i}", b"\xff".join(subst(f).encode() for f in fields))
            f = step.get("filter")
            if f and "content_encoding" not in f:
                body = body_of(f)
                if body is None:
                    continue
                sse = (f.get("content_type") or "").startswith("text/event-stream")
                seed = hashlib.sha256(body).digest()[0]
                add("tools_list_filter", f"{vid}-{i}", bytes([1 if sse else 0, seed]) + body)
    return out


def write(dest):
    for target, files in seeds().items():
        d = os.path.join(dest, target)
        os.makedirs(d, exist_ok=True)
        for data, name in sorted(files.items(), key=lambda kv: kv[1]):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(data)


def main():
    dest = os.path.join(ROOT, "fuzz", "seeds")
    if "--check" in sys.argv[1:]:
        tmp = tempfile.mkdtemp()
        try:
            write(tmp)
            fresh = {os.path.relpath(p, tmp): open(p, "rb").read()
                     for p in glob.glob(os.path.join(tmp, "*", "*"))}
            have = {os.path.relpath(p, dest): open(p, "rb").read()
                    for p in glob.glob(os.path.join(dest, "*", "*"))}
            if fresh != have:
                print("fuzz/seeds differ from the vectors: run python3 scripts/fuzz-seeds.py", file=sys.stderr)
                sys.exit(1)
            print(f"fuzz seeds: {len(have)} files match the vectors")
        finally:
            shutil.rmtree(tmp)
        return
    shutil.rmtree(dest, ignore_errors=True)
    write(dest)
    for t in TARGETS:
        print(f"{t}: {len(os.listdir(os.path.join(dest, t)))} seeds")


if __name__ == "__main__":
    main()

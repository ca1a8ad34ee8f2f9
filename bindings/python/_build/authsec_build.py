"""A small PEP 517 build backend for authsec-sdk: the standard library, cargo and a C compiler.

Why not maturin or setuptools-rust: the package is Python over the C ABI, so the native
artefacts are ``libauthsec``, which cargo already builds, and one small cffi extension compiled
from a generated C file; a backend of our own needs one pinned build dependency (``cffi``, which
is also the extension's runtime), so ``pip install ./bindings/python`` needs nothing else from
the package index and the pinned test install (``--no-build-isolation``) resolves nothing.

``build_wheel`` runs ``cargo build --locked --release -p authsec-ffi`` in the repository this
directory belongs to (``AUTHSEC_CARGO_PROFILE=dev`` builds the debug library instead, for the
test suite's speed), copies the shared library into ``authsec_sdk/_lib/``, compiles the cffi
extension ``authsec_sdk._authsec_cffi`` against ``include/authsec.h`` (authsec_cffi_build.py)
and writes a wheel for this interpreter (``cp311-cp311-<platform>``). There is no sdist: the
library is built from the repository, not from an archive of this folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from authsec_cffi_build import build_extension  # _build/ is the backend-path (pyproject.toml)

HERE = Path(__file__).resolve().parent.parent  # bindings/python
PACKAGE = "authsec_sdk"
#: The extension's runtime (its ``_cffi_backend``); the build pins cffi==2.1.1 (pyproject.toml).
CFFI_RUNTIME = "cffi>=1.17"


def _project() -> dict[str, str]:
    """name, version, description and requires-python of pyproject.toml's [project] table."""
    text = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    table = text.split("[project]", 1)[1].split("\n[", 1)[0]
    out = {}
    for key in ("name", "version", "description", "requires-python"):
        m = re.search(rf'^{re.escape(key)}\s*=\s*"([^"]*)"', table, re.M)
        if m is None:
            raise RuntimeError(f"pyproject.toml: [project] has no {key}")
        out[key] = m.group(1)
    return out


def _repo_root() -> Path:
    root = Path(os.environ.get("AUTHSEC_SOURCE_ROOT", HERE.parent.parent)).resolve()
    manifest = root / "Cargo.toml"
    if not manifest.is_file() or "[workspace]" not in manifest.read_text(encoding="utf-8"):
        raise RuntimeError(
            f"authsec-sdk builds libauthsec from the authsec repository, not found at {root}: "
            "install from a clone (pip install ./bindings/python) or set AUTHSEC_SOURCE_ROOT"
        )
    return root


def _cargo_build() -> Path:
    """Build libauthsec with cargo and return the path of the shared library."""
    profile = os.environ.get("AUTHSEC_CARGO_PROFILE", "release")
    if profile not in ("release", "dev"):
        raise RuntimeError(f"AUTHSEC_CARGO_PROFILE must be release or dev (got {profile!r})")
    cmd = ["cargo", "build", "--locked", "-p", "authsec-ffi", "--message-format=json-render-diagnostics"]
    if profile == "release":
        cmd.insert(2, "--release")
    print(" ".join(cmd), file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, cwd=_repo_root(), stdout=subprocess.PIPE, text=True, check=False)
    except FileNotFoundError as e:
        raise RuntimeError("cargo is required to build authsec-sdk (https://rustup.rs)") from e
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build failed (exit {proc.returncode})")
    suffixes = (".so", ".dylib")
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or msg.get("target", {}).get("name") != "authsec":
            continue
        for f in msg.get("filenames", []):
            if f.endswith(suffixes):
                return Path(f)
    raise RuntimeError("cargo build did not report the libauthsec shared library")


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _wheel_tag() -> str:
    """``cpXY-cpXY<flags>-<platform>``: the cffi extension is built for this interpreter."""
    if sys.implementation.name != "cpython":
        raise RuntimeError("authsec-sdk's compiled extension is built for CPython only")
    version = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{version}-{version}{getattr(sys, 'abiflags', '')}-{platform}"


def _metadata(p: dict[str, str]) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {p['name']}\n"
        f"Version: {p['version']}\n"
        f"Summary: {p['description']}\n"
        f"Requires-Python: {p['requires-python']}\n"
        "License: Apache-2.0\n"
        f"Requires-Dist: {CFFI_RUNTIME}\n"
        "Provides-Extra: starlette\n"
        "Requires-Dist: starlette>=0.27; extra == \"starlette\"\n"
    )


def get_requires_for_build_wheel(config_settings: object = None) -> list[str]:
    return []  # the build-system requirement (cffi) is all


def build_wheel(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    p = _project()
    lib = _cargo_build()
    dist = p["name"].replace("-", "_")
    tag = _wheel_tag()
    name = f"{dist}-{p['version']}-{tag}.whl"
    info = f"{dist}-{p['version']}.dist-info"
    files: list[tuple[str, bytes]] = []
    src = HERE / "src"
    for path in sorted((src / PACKAGE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed", ".pyi"):
            files.append((path.relative_to(src).as_posix(), path.read_bytes()))
    files.append((f"{PACKAGE}/_lib/{lib.name}", lib.read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        ext = build_extension(_repo_root(), Path(tmp))
        files.append((f"{PACKAGE}/{ext.name}", ext.read_bytes()))
    files.append((f"{info}/METADATA", _metadata(p).encode()))
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: authsec_build\nRoot-Is-Purelib: false\nTag: {tag}\n"
    files.append((f"{info}/WHEEL", wheel_meta.encode()))
    record = [_record_line(a, d) for a, d in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    out = Path(wheel_directory) / name
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files:
            zi = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = (0o755 if arcname.endswith((".so", ".dylib")) else 0o644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return name


def build_sdist(sdist_directory: str, config_settings: object = None) -> str:
    raise RuntimeError(
        "authsec-sdk has no sdist: libauthsec is built from the authsec repository "
        "(pip install ./bindings/python from a clone)"
    )

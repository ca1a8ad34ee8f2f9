"""The compiled cffi extension (built by the package build, _build/authsec_cffi_build.py):
``ffi`` (its FFI object) and ``lib`` (the declared exports of libauthsec and ``authsec_py_check``)."""

from typing import Any

ffi: Any
lib: Any

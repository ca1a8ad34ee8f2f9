"""The compiled cffi (API mode) extension ``authsec_sdk._authsec_cffi``: the per-request calls.

``CDEF`` declares the exports of ``include/authsec.h`` that run on every request (the check,
the decision accessors, ``authsec_decision_filter_reads``, the response filter and what reads
their answers). In API mode the C compiler sees the real header next to these declarations, so
a declaration that drifts from the ABI is a build error, never a silent mismatch. ``SOURCE``
adds one helper, ``authsec_py_check``: the headers arrive flattened (one bytes object and the
lengths), the ``authsec_header[]`` is built in C, and the kind and the filter flag come back
with the decision, so an allowed request costs one foreign call where ctypes needed three plus
a converted array.

The extension is not linked against libauthsec: ``authsec_sdk._native`` loads the library first
(``AUTHSEC_LIBRARY`` or the packaged ``_lib/``, with ``RTLD_GLOBAL``) and the dynamic loader
resolves the extension's symbols against it, so both layers always use the same library.

Used by ``authsec_build.build_wheel``; needs ``cffi`` (build-system requirement) and a C compiler.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

MODULE = "authsec_sdk._authsec_cffi"

#: What ``authsec_py_check`` returns besides its status (declared for cffi and compiled alike).
CHECK_OUT = """
typedef struct authsec_py_check_out {
    struct authsec_decision *decision;
    struct authsec_error *error;
    uint32_t kind;
    bool filter_tools_list;
} authsec_py_check_out;
"""

CDEF = (
    """
typedef uint32_t authsec_status;
typedef uint32_t authsec_decision_kind;
typedef uint32_t authsec_filter_kind;
typedef struct authsec_decision authsec_decision;
typedef struct authsec_error authsec_error;
typedef struct authsec_filter_result authsec_filter_result;
typedef struct authsec_response authsec_response;
typedef struct authsec_response_filter authsec_response_filter;
typedef struct authsec_runtime authsec_runtime;
typedef struct authsec_text authsec_text;
typedef struct authsec_str { const char *data; size_t len; } authsec_str;
typedef struct authsec_bytes { const uint8_t *data; size_t len; } authsec_bytes;

authsec_status authsec_error_code(const struct authsec_error *err);
struct authsec_str authsec_error_message(const struct authsec_error *err);
void authsec_error_free(struct authsec_error *err);

authsec_decision_kind authsec_decision_get_kind(const struct authsec_decision *decision);
bool authsec_decision_filter_reads(const struct authsec_decision *decision, const char *content_type, size_t content_type_len);
struct authsec_str authsec_decision_spiffe_id(const struct authsec_decision *decision);
struct authsec_str authsec_decision_client_id(const struct authsec_decision *decision);
bool authsec_decision_expires_at(const struct authsec_decision *decision, uint64_t *expires_at_out);
struct authsec_str authsec_decision_principal_json(const struct authsec_decision *decision);
const struct authsec_response *authsec_decision_response(const struct authsec_decision *decision);
void authsec_decision_free(struct authsec_decision *decision);

uint16_t authsec_response_status(const struct authsec_response *response);
size_t authsec_response_header_count(const struct authsec_response *response);
authsec_status authsec_response_header(const struct authsec_response *response, size_t index, struct authsec_str *name_out, struct authsec_str *value_out);
struct authsec_bytes authsec_response_body(const struct authsec_response *response);
void authsec_response_free(struct authsec_response *response);
authsec_status authsec_response_startup_failed(struct authsec_response **response_out, struct authsec_error **err_out);
authsec_status authsec_response_internal_error(struct authsec_response **response_out, struct authsec_error **err_out);

authsec_filter_kind authsec_filter_result_get_kind(const struct authsec_filter_result *result);
struct authsec_bytes authsec_filter_result_body(const struct authsec_filter_result *result);
const struct authsec_response *authsec_filter_result_response(const struct authsec_filter_result *result);
void authsec_filter_result_free(struct authsec_filter_result *result);
authsec_status authsec_runtime_filter_response(const struct authsec_runtime *rt, const struct authsec_decision *decision, const char *content_type, size_t content_type_len, const uint8_t *body, size_t body_len, struct authsec_filter_result **result_out, struct authsec_error **err_out);

authsec_status authsec_runtime_response_filter(const struct authsec_runtime *rt, const struct authsec_decision *decision, const char *content_type, size_t content_type_len, const char *content_encoding, size_t content_encoding_len, struct authsec_response_filter **filter_out, struct authsec_error **err_out);
authsec_status authsec_response_filter_feed(struct authsec_response_filter *filter, const uint8_t *chunk, size_t chunk_len, struct authsec_bytes *forward_out, const struct authsec_response **response_out, struct authsec_error **err_out);
authsec_status authsec_response_filter_finish(struct authsec_response_filter *filter, struct authsec_bytes *forward_out, const struct authsec_response **response_out, struct authsec_error **err_out);
bool authsec_response_filter_passthrough(const struct authsec_response_filter *filter);
bool authsec_response_filter_drops_content_encoding(const struct authsec_response_filter *filter);
bool authsec_response_filter_holds_body(const struct authsec_response_filter *filter);
void authsec_response_filter_free(struct authsec_response_filter *filter);

authsec_status authsec_runtime_metadata(const struct authsec_runtime *rt, struct authsec_response **response_out, struct authsec_error **err_out);
authsec_status authsec_runtime_user_info(const struct authsec_runtime *rt, const struct authsec_decision *decision, struct authsec_text **user_info_out, struct authsec_error **err_out);
struct authsec_str authsec_text_str(const struct authsec_text *text);
void authsec_text_free(struct authsec_text *text);

"""
    + CHECK_OUT
    + """
authsec_status authsec_py_check(const struct authsec_runtime *rt, int mode,
    const char *method, size_t method_len, const char *path, size_t path_len,
    const char *headers, size_t headers_len, const char *lens, size_t lens_len, size_t header_count,
    const uint8_t *body, size_t body_len, authsec_py_check_out *out);
"""
)

SOURCE = (
    r"""
#include <stdlib.h>
#include <string.h>
#include "authsec.h"

"""
    + CHECK_OUT
    + r"""
#define AUTHSEC_PY_STACK_HEADERS 32

/* One check. mode 0: authsec_runtime_try_check_request (on the event loop; WOULD_BLOCK when a
   key fetch or an introspection is needed), 1: authsec_runtime_check_request (blocking, in a
   worker thread), 2: authsec_runtime_check_oversized (the body was not read). `headers` holds
   name0 value0 name1 value1 ... back to back, `lens` their 2 * header_count lengths as native
   size_t values packed into bytes (Python's struct format "N": one bytes object crosses, not a
   list converted item by item), which must add up to headers_len (else
   AUTHSEC_STATUS_INVALID_ARGUMENT: nothing is decided). */
static authsec_status authsec_py_check(const struct authsec_runtime *rt, int mode,
    const char *method, size_t method_len, const char *path, size_t path_len,
    const char *headers, size_t headers_len, const char *lens, size_t lens_len, size_t header_count,
    const uint8_t *body, size_t body_len, authsec_py_check_out *out)
{
    authsec_header stack[AUTHSEC_PY_STACK_HEADERS];
    authsec_header *hs = stack;
    size_t i, off = 0;
    authsec_status st;

    out->decision = NULL;
    out->error = NULL;
    out->kind = AUTHSEC_DECISION_KIND_RESPOND;
    out->filter_tools_list = false;
    if (header_count > ((size_t)-1) / (2 * sizeof(size_t)) || lens_len != 2 * header_count * sizeof(size_t))
        return AUTHSEC_STATUS_INVALID_ARGUMENT;
    if (header_count > AUTHSEC_PY_STACK_HEADERS) {
        if (header_count > ((size_t)-1) / sizeof(authsec_header))
            return AUTHSEC_STATUS_INVALID_ARGUMENT;
        hs = malloc(header_count * sizeof(authsec_header));
        if (hs == NULL)
            return AUTHSEC_STATUS_INTERNAL;
    }
    for (i = 0; i < header_count; i++) {
        size_t n, v;
        memcpy(&n, lens + 2 * i * sizeof(size_t), sizeof n); /* bytes carry no alignment promise */
        memcpy(&v, lens + (2 * i + 1) * sizeof(size_t), sizeof v);
        if (n > headers_len - off || v > headers_len - off - n) {
            st = AUTHSEC_STATUS_INVALID_ARGUMENT;
            goto done;
        }
        hs[i].name = headers + off;
        hs[i].name_len = n;
        hs[i].value = headers + off + n;
        hs[i].value_len = v;
        off += n + v;
    }
    if (off != headers_len) {
        st = AUTHSEC_STATUS_INVALID_ARGUMENT;
        goto done;
    }
    if (mode == 0)
        st = authsec_runtime_try_check_request(rt, method, method_len, path, path_len, hs,
            header_count, body, body_len, &out->decision, &out->error);
    else if (mode == 1)
        st = authsec_runtime_check_request(rt, method, method_len, path, path_len, hs,
            header_count, body, body_len, &out->decision, &out->error);
    else
        st = authsec_runtime_check_oversized(rt, method, method_len, path, path_len, hs,
            header_count, &out->decision, &out->error);
    if (st == AUTHSEC_STATUS_OK) {
        out->kind = authsec_decision_get_kind(out->decision);
        out->filter_tools_list = authsec_decision_filter_tools_list(out->decision);
    }
done:
    if (hs != stack)
        free(hs);
    return st;
}
"""
)


def build_extension(root: Path, out_dir: Path) -> Path:
    """Compile the extension against ``root/include/authsec.h`` into ``out_dir``; its path."""
    try:
        import cffi  # the build-system requirement (pyproject.toml)
    except ImportError as e:
        raise RuntimeError("authsec-sdk's build needs cffi (pip install cffi==2.1.1)") from e
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE, SOURCE)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out = out_dir / (MODULE.rsplit(".", 1)[1] + suffix)
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "_authsec_cffi.c"
        ffi.emit_c_code(str(c_file))
        cc = os.environ.get("CC", "cc").split()
        cmd = [
            *cc, "-shared", "-fPIC", "-O2", "-std=c99", "-Wall",
            f"-I{root / 'include'}", f"-I{sysconfig.get_paths()['include']}",
            str(c_file), "-o", str(out),
        ]
        if sys.platform == "darwin":
            cmd[len(cc):len(cc)] = ["-undefined", "dynamic_lookup"]
        print(" ".join(cmd), file=sys.stderr, flush=True)
        try:
            subprocess.run(cmd, check=True)
        except FileNotFoundError as e:
            raise RuntimeError(f"a C compiler is required to build authsec-sdk ({cc[0]} not found)") from e
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"compiling {MODULE} failed (exit {e.returncode})") from e
    return out

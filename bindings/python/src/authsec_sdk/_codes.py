"""The stable codes of authsec, generated from include/authsec_codes.json by
scripts/gen_codes.py; do not edit (test.sh fails on drift).
"""

from __future__ import annotations

from typing import Final


class ErrorCode:
    """Status numbers of the C ABI, by their stable names (upper case)."""

    OK: Final = 0
    """The call ran."""
    NULL_PARAMETER: Final = 1
    """A required pointer argument was NULL."""
    INVALID_UTF8: Final = 2
    """A text argument was not valid UTF-8."""
    INVALID_ARGUMENT: Final = 3
    """An argument was out of range or not usable here."""
    FORKED_PROCESS: Final = 4
    """Called in a forked child; create runtimes after fork."""
    WRONG_THREAD_CONTEXT: Final = 5
    """A blocking call was made from a thread that runs a tokio runtime."""
    RUNTIME_UNAVAILABLE: Final = 6
    """The library's hidden runtime could not be started or was shut down."""
    WOULD_BLOCK: Final = 7
    """The decision needs I/O (a key fetch or an introspection): ask again where the call may block."""
    INVALID_INPUT: Final = 100
    """The host passed input the API cannot use."""
    CONFIG_INVALID: Final = 200
    """The configuration is invalid."""
    WORKLOAD_NOT_CONFIGURED: Final = 240
    """No SPIFFE Workload API socket was given and SPIFFE_ENDPOINT_SOCKET is not set (workload identity disabled)."""
    STARTUP_FAILED: Final = 300
    """Startup failed in a way the policy mode declares fatal."""
    BACKEND_ERROR: Final = 301
    """A call to the authorization server or the AuthSec backend failed."""
    WORKLOAD_API_UNAVAILABLE: Final = 340
    """The SPIFFE Workload API could not be reached, refused the workload, or sent no SVID in time."""
    SVID_EXPIRED: Final = 341
    """The last X.509-SVID has expired and the Workload API has not sent a new one."""
    SESSION_STORE_UNAVAILABLE: Final = 350
    """The sign-in session store could not be read or written (the sign-in tools answer with an error; no session is trusted)."""
    SERVICES_ERROR: Final = 360
    """A call to the AuthSec services API (service credentials) failed, was refused, or answered something unusable."""
    INTERNAL: Final = 900
    """An internal invariant did not hold; treat as a denial."""
    PANIC: Final = 901
    """A panic was caught at a binding boundary; treat as a denial and report the bug."""


#: number -> stable lower-case name (the name the core and the vectors use).
NAMES: Final[dict[int, str]] = {
    0: "ok",
    1: "null_parameter",
    2: "invalid_utf8",
    3: "invalid_argument",
    4: "forked_process",
    5: "wrong_thread_context",
    6: "runtime_unavailable",
    7: "would_block",
    100: "invalid_input",
    200: "config_invalid",
    240: "workload_not_configured",
    300: "startup_failed",
    301: "backend_error",
    340: "workload_api_unavailable",
    341: "svid_expired",
    350: "session_store_unavailable",
    360: "services_error",
    900: "internal",
    901: "panic",
}

"""Workload identity (SPIFFE/SPIRE) with the AuthSec SDK's ``QuickStartSVID`` API, over the
core's Workload API client (libauthsec ``authsec_workload_*``).

.. code-block:: python

    from authsec_sdk.spiffe import QuickStartSVID

    svid = await QuickStartSVID.initialize(socket_path="unix:///run/spire/agent.sock")
    if svid is None:            # no socket given and SPIFFE_ENDPOINT_SOCKET unset: SPIRE disabled
        ...
    print(svid.spiffe_id)
    ctx = svid.create_ssl_context_for_client()   # mTLS to internal services
    await QuickStartSVID.shutdown()

What the core does for every binding alike: follows the Workload API's update stream (a new SVID
is on disk and in memory as soon as the agent rotates it, not on a 30-minute timer), writes
``svid.crt``, ``svid.key`` (0600) and ``ca.crt`` atomically into a private directory, counts
updates (:attr:`QuickStartSVID.version`, :meth:`QuickStartSVID.on_update`), keeps the last SVID
while the agent is down until it expires (then :class:`SvidExpiredError`), and stops cleanly.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .. import _native
from .._codes import ErrorCode
from .._native import AuthsecError

__all__ = [
    "QuickStartSVID",
    "WorkloadIdentity",
    "Svid",
    "WorkloadIdentityDisabled",
    "WorkloadApiUnavailableError",
    "SvidExpiredError",
    "ENDPOINT_ENV",
    "peer_spiffe_id",
]

logger = logging.getLogger("authsec_sdk.spiffe")

#: The SPIFFE Workload API endpoint variable, read when no socket is given.
ENDPOINT_ENV = "SPIFFE_ENDPOINT_SOCKET"


class WorkloadIdentityDisabled(AuthsecError):
    """``workload_not_configured``: no Workload API socket given and ``SPIFFE_ENDPOINT_SOCKET``
    unset (raised by :meth:`QuickStartSVID.initialize` only with ``raise_on_disabled=True``)."""


class WorkloadApiUnavailableError(AuthsecError, RuntimeError):
    """``workload_api_unavailable``: the agent did not answer, refused this workload, or sent no
    SVID in time. A ``RuntimeError``, as the reference SDK raises for a failed fetch."""


class SvidExpiredError(AuthsecError, RuntimeError):
    """``svid_expired``: the last X.509-SVID expired and the agent has not sent a new one."""


_ERRORS: dict[int, type[AuthsecError]] = {
    ErrorCode.WORKLOAD_NOT_CONFIGURED: WorkloadIdentityDisabled,
    ErrorCode.WORKLOAD_API_UNAVAILABLE: WorkloadApiUnavailableError,
    ErrorCode.SVID_EXPIRED: SvidExpiredError,
}


def _call(fn: Callable[..., int], *args: object) -> None:
    err = ctypes.c_void_p()
    status = fn(*args, ctypes.byref(err))
    if status != ErrorCode.OK:
        e = _native.take_error(status, err)
        cls = _ERRORS.get(status)
        raise cls(e.status, e.message) if cls else e


@dataclass(frozen=True)
class Svid:
    """One X.509-SVID as PEM text (``private_key`` is secret: it is kept out of ``repr()``)."""

    spiffe_id: str
    certificate: str
    private_key: str
    trust_bundle: str
    expires_at: int
    version: int

    def __repr__(self) -> str:
        return f"Svid(spiffe_id={self.spiffe_id!r}, expires_at={self.expires_at}, version={self.version})"


class WorkloadIdentity:
    """The synchronous handle over ``authsec_workload``: started once, read from any thread.
    Blocking calls release the GIL (ctypes)."""

    def __init__(self, endpoint: str = "", cert_dir: Optional[str] = None, timeout: float = 10.0) -> None:
        ep = endpoint.encode()
        d = (cert_dir or "").encode()
        ms = max(1, int(timeout * 1000))
        out = ctypes.c_void_p()
        _call(_native.lib.authsec_workload_start, ep, len(ep), d, len(d), ms, ctypes.byref(out))
        self._handle: Optional[int] = out.value
        lib = _native.lib
        self.dir = Path(_native.view(lib.authsec_workload_dir(self._handle)).decode())
        self.cert_file = Path(_native.view(lib.authsec_workload_cert_file(self._handle)).decode())
        self.key_file = Path(_native.view(lib.authsec_workload_key_file(self._handle)).decode())
        self.bundle_file = Path(_native.view(lib.authsec_workload_bundle_file(self._handle)).decode())

    def _h(self) -> int:
        if self._handle is None:
            raise AuthsecError(ErrorCode.INVALID_ARGUMENT, "the workload identity is closed")
        return self._handle

    def current(self) -> Svid:
        """The current SVID (:class:`SvidExpiredError` once it expired without a replacement)."""
        out = ctypes.c_void_p()
        _call(_native.lib.authsec_workload_current, self._h(), ctypes.byref(out))
        lib, h = _native.lib, out.value
        try:
            return Svid(
                spiffe_id=_native.view(lib.authsec_svid_spiffe_id(h)).decode(),
                certificate=_native.view(lib.authsec_svid_certificate_pem(h)).decode(),
                private_key=_native.view(lib.authsec_svid_private_key_pem(h)).decode(),
                trust_bundle=_native.view(lib.authsec_svid_bundle_pem(h)).decode(),
                expires_at=int(lib.authsec_svid_expires_at(h)),
                version=int(lib.authsec_svid_version(h)),
            )
        finally:
            lib.authsec_svid_free(h)

    @property
    def version(self) -> int:
        """The update counter: 1 after the first SVID, +1 per new SVID or bundle."""
        return int(_native.lib.authsec_workload_version(self._h()))

    @property
    def connected(self) -> bool:
        """Whether the update stream is connected to the agent now."""
        return bool(_native.lib.authsec_workload_connected(self._h()))

    def wait_update(self, after: int, timeout: float) -> int:
        """Block until the counter exceeds ``after`` (at most ``timeout`` seconds); the counter."""
        ms = max(0, min(int(timeout * 1000), 0xFFFFFFFF))
        return int(_native.lib.authsec_workload_wait_update(self._h(), after, ms))

    def fetch_jwt_svid(self, audience: str) -> str:
        """A JWT-SVID of this workload for ``audience`` (e.g. an MCP server's resource URI)."""
        a = audience.encode()
        out = ctypes.c_void_p()
        _call(_native.lib.authsec_workload_fetch_jwt_svid, self._h(), a, len(a), ctypes.byref(out))
        return _native.take_text(out)

    def shutdown(self) -> None:
        """Stop following updates and remove the files (idempotent), then release the handle."""
        if self._handle is None:
            return
        _call(_native.lib.authsec_workload_shutdown, self._handle)
        _native.lib.authsec_workload_free(self._handle)
        self._handle = None

    def __del__(self) -> None:
        try:
            if self._handle is not None:
                _native.lib.authsec_workload_free(self._handle)
                self._handle = None
        except Exception:  # interpreter shutdown
            pass


def peer_spiffe_id(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> Optional[str]:
    """The SPIFFE ID (URI SAN) of the peer of an established TLS connection, or ``None``. The
    ``ssl`` contexts check the chain against the trust bundle; use this to check *who* it is."""
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    sans: Any = cert.get("subjectAltName", ())
    for entry in sans:
        kind, value = entry[0], entry[1]
        if kind == "URI" and isinstance(value, str) and value.startswith("spiffe://"):
            return value
    return None


class QuickStartSVID:
    """The seed's one-call helper: ``await QuickStartSVID.initialize(socket_path=...)`` returns
    the process-wide instance with the SVID fetched, on disk and kept current.

    Differences from the reference (authsec-sdk 4.7.3), on purpose:

    - no ``tcp://127.0.0.1:4000`` default: without ``socket_path`` the standard
      ``SPIFFE_ENDPOINT_SOCKET`` is read, and without it SPIRE is disabled (``None``, or
      :class:`WorkloadIdentityDisabled` with ``raise_on_disabled=True``);
    - renewal follows the agent's update stream instead of a 30-minute timer;
    - files go to a new private directory (0700) unless ``cert_dir`` is given, the key is never
      readable by others, and the directory is removed by :meth:`shutdown`;
    - the certificate is PEM converted from the Workload API's DER (the reference decodes DER
      bytes as UTF-8, which fails against a real agent).
    """

    _instance: Optional["QuickStartSVID"] = None
    _lock = threading.Lock()

    def __init__(self, identity: WorkloadIdentity) -> None:
        self._identity = identity
        self._listeners: list[Callable[["QuickStartSVID"], None]] = []
        self._watcher: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    async def initialize(
        cls,
        socket_path: Optional[str] = None,
        *,
        cert_dir: Optional[str] = None,
        timeout: float = 10.0,
        raise_on_disabled: bool = False,
    ) -> Optional["QuickStartSVID"]:
        """Fetch the SVID (at most ``timeout`` seconds), write the files and keep them current;
        the same instance on later calls (singleton, as the reference). ``socket_path``:
        ``unix:///path``, an absolute path or ``tcp://ip:port``; ``None`` reads
        ``SPIFFE_ENDPOINT_SOCKET``. Returns ``None`` when SPIRE is disabled (no socket at all)
        unless ``raise_on_disabled``. Raises :class:`WorkloadApiUnavailableError` (a
        ``RuntimeError``) when the agent does not deliver an SVID in time."""
        if not (socket_path or "").strip() and not os.environ.get(ENDPOINT_ENV, "").strip():
            if raise_on_disabled:
                raise WorkloadIdentityDisabled(
                    ErrorCode.WORKLOAD_NOT_CONFIGURED,
                    f"no Workload API socket given and {ENDPOINT_ENV} is not set",
                )
            logger.info("SPIRE workload identity: disabled (no socket, %s unset)", ENDPOINT_ENV)
            return None
        return await asyncio.to_thread(cls._initialize_sync, socket_path or "", cert_dir, timeout)

    @classmethod
    def _initialize_sync(cls, socket_path: str, cert_dir: Optional[str], timeout: float) -> "QuickStartSVID":
        with cls._lock:
            if cls._instance is None:
                identity = WorkloadIdentity(socket_path, cert_dir, timeout)
                cls._instance = cls(identity)
                logger.info("SVID initialized: %s", identity.current().spiffe_id)
            return cls._instance

    @classmethod
    async def get(cls) -> "QuickStartSVID":
        """The instance (``RuntimeError`` before :meth:`initialize`)."""
        if cls._instance is None:
            raise RuntimeError("Call QuickStartSVID.initialize() first")
        return cls._instance

    @classmethod
    async def shutdown(cls) -> None:
        """Stop following updates, remove the files, and clear the singleton (a later
        :meth:`initialize` starts afresh). Idempotent."""
        with cls._lock:
            instance, cls._instance = cls._instance, None
        if instance is not None:
            await asyncio.to_thread(instance._close)

    def _close(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self._identity.shutdown()

    # ---------------------------------------------------------------- the SVID

    def current(self) -> Svid:
        """The current SVID in one consistent snapshot (:class:`SvidExpiredError` once expired)."""
        return self._identity.current()

    @property
    def spiffe_id(self) -> str:
        return self.current().spiffe_id

    @property
    def certificate(self) -> str:
        """The certificate chain, PEM, leaf first."""
        return self.current().certificate

    @property
    def private_key(self) -> str:
        """The private key, PKCS#8 PEM."""
        return self.current().private_key

    @property
    def trust_bundle(self) -> str:
        """The trust domain's X.509 authorities, PEM."""
        return self.current().trust_bundle

    @property
    def cert_file_path(self) -> Path:
        return self._identity.cert_file

    @property
    def key_file_path(self) -> Path:
        return self._identity.key_file

    @property
    def ca_file_path(self) -> Path:
        return self._identity.bundle_file

    @property
    def version(self) -> int:
        """The update counter (changes on every new SVID or bundle): reload TLS when it moves."""
        return self._identity.version

    @property
    def connected(self) -> bool:
        """Whether the agent's update stream is connected now."""
        return self._identity.connected

    async def wait_for_update(self, after: int, timeout: float) -> int:
        """Wait until :attr:`version` exceeds ``after`` (at most ``timeout`` s); the version."""
        return await asyncio.to_thread(self._identity.wait_update, after, timeout)

    def on_update(self, callback: Callable[["QuickStartSVID"], None]) -> None:
        """Call ``callback(self)`` after each update (from a library thread), e.g. to rebuild
        SSL contexts; exceptions it raises are logged."""
        self._listeners.append(callback)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="authsec-svid-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        seen = self._identity.version
        while not self._stopping.is_set():
            now = self._identity.wait_update(seen, 0.5)
            if now > seen:
                seen = now
                for cb in list(self._listeners):
                    try:
                        cb(self)
                    except Exception:
                        logger.exception("SVID update listener failed")

    async def fetch_jwt_svid(self, audience: str) -> str:
        """A JWT-SVID for ``audience`` (an MCP server's resource URI) to send as a bearer token."""
        return await asyncio.to_thread(self._identity.fetch_jwt_svid, audience)

    # ---------------------------------------------------------------- mTLS

    def create_ssl_context_for_server(self) -> ssl.SSLContext:
        """A server context that loads the SVID files (uvicorn ``ssl_context``-style) and requires
        a client certificate chaining to the trust bundle (mTLS)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile=str(self.cert_file_path), keyfile=str(self.key_file_path))
        ctx.load_verify_locations(cafile=str(self.ca_file_path))
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def create_ssl_context_for_client(self) -> ssl.SSLContext:
        """A client context presenting the SVID and verifying the server's chain against the
        trust bundle. Host names are not checked (SPIFFE IDs are URI SANs): check the peer with
        :func:`peer_spiffe_id`."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.load_cert_chain(certfile=str(self.cert_file_path), keyfile=str(self.key_file_path))
        ctx.load_verify_locations(cafile=str(self.ca_file_path))
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def get_certificate_dict(self) -> dict[str, str]:
        """``{"cert": ..., "key": ...}`` PEM text (the reference's helper)."""
        s = self.current()
        return {"cert": s.certificate, "key": s.private_key}

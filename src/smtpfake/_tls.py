"""CertificateAuthority: a trustme CA issuing the fake server's certificates."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import ssl
import tempfile
import threading
from asyncio import sslproto
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._connection import ConnectionProtocol

__all__ = ["DEFAULT_HOSTNAMES", "CertificateAuthority", "ImplicitTLS"]

DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")

_shared_lock = threading.Lock()
_shared: CertificateAuthority | None = None


class CertificateAuthority:
    """A throw-away certificate authority for tests, built on trustme.

    Generating keys is the slow part, so keys are ECDSA and ``shared()`` hands out one CA per
    process. Server contexts are cached per host-name set; a server context also answers SNI for
    any other name with a certificate issued on the fly (and cached) by the same CA, so a client
    sent to ``smtp.example.com`` that trusts this CA verifies the chain and the name.
    """

    def __init__(self) -> None:
        # Imported here, not at module level: trustme brings in ``cryptography`` (some 30 ms),
        # which a process that only ever runs plain SMTP servers never needs.
        import trustme

        self._ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
        self._lock = threading.Lock()
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self._pem_path: str | None = None

    @classmethod
    def kept_in(cls, directory: str | os.PathLike[str]) -> CertificateAuthority:
        """The CA kept in ``directory``: made there on first use, loaded from there after.

        So a CA bundle setting pointing at ``ca_pem_path`` (``DIR/ca.pem``, kept at exit)
        survives restarts. ``directory`` is created (not its parents) with mode 0700, the key
        (``DIR/ca-key.pem``) with mode 0600; a key that others may read is refused. OSError if
        the directory cannot be used, ValueError if what it holds is not a usable CA.
        """
        import fcntl

        import trustme

        folder = os.path.abspath(directory)
        cert_path, key_path = os.path.join(folder, "ca.pem"), os.path.join(folder, "ca-key.pem")
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
        self = cls()
        lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once: one CA, not a mix of two
            if os.path.exists(cert_path):  # written last: a complete CA
                if os.stat(key_path).st_mode & 0o077:
                    raise ValueError(f"{key_path} may be read by others: chmod 600 it")
                with open(cert_path, "rb") as cert, open(key_path, "rb") as key:
                    self._ca = trustme.CA.from_pem(cert.read(), key.read())
            else:
                _write_new(key_path, self._ca.private_key_pem.bytes(), 0o600)
                _write_new(cert_path, self.ca_pem, 0o644)
        finally:
            os.close(lock)
        self._pem_path = cert_path
        return self

    @classmethod
    def shared(cls) -> CertificateAuthority:
        """The process-wide CA, created on first use."""
        global _shared
        with _shared_lock:
            if _shared is None:
                _shared = cls()
            return _shared

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, PEM-encoded."""
        return bytes(self._ca.cert_pem.bytes())

    @property
    def ca_pem_path(self) -> str:
        """A file holding the CA certificate (PEM), written once and removed at exit."""
        with self._lock:
            if self._pem_path is None:
                fd, path = tempfile.mkstemp(prefix="smtpfake-ca-", suffix=".pem")
                with os.fdopen(fd, "wb") as f:
                    f.write(self.ca_pem)
                atexit.register(_remove, path)
                self._pem_path = path
            return self._pem_path

    def server_context(self, hostnames: Iterable[str] = DEFAULT_HOSTNAMES) -> ssl.SSLContext:
        """A server context for ``hostnames`` (cached), answering SNI for any other name."""
        key = tuple(hostnames)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = self._issue(key)
                ctx.sni_callback = self._sni_for(key)
                self._contexts[key] = ctx
            return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA and verifies host names."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.trust(ctx)
        return ctx

    def trust(self, ctx: ssl.SSLContext) -> None:
        """Make an existing (client) context trust this CA."""
        self._ca.configure_trust(ctx)

    def _issue(self, hostnames: tuple[str, ...]) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ca.issue_cert(*hostnames).configure_cert(ctx)
        return ctx

    def _sni_for(
        self, served: tuple[str, ...]
    ) -> Callable[[ssl.SSLObject, str | None, ssl.SSLContext], None]:
        def sni(sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
            if not name or name in served:
                return
            with self._lock:
                named = self._contexts.get((name,))
                if named is None:
                    try:
                        named = self._issue((name,))
                    except ValueError:  # not a name a certificate can hold: serve the default
                        return
                    self._contexts[(name,)] = named
            sslobj.context = named

        return sni


def _write_new(path: str, data: bytes, mode: int) -> None:
    """Write a file that appears whole or not at all, created with ``mode`` (never wider)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
            os.fchmod(f.fileno(), mode)  # (a leftover tmp file would keep its old mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class ImplicitTLS(sslproto.SSLProtocol):
    """The TLS layer of an implicit-TLS connection, telling the fake protocol about the TCP side.

    ``create_server(ssl=...)`` calls the application protocol only after a good handshake and
    says nothing at all when it fails, so a client that never finishes (or botches) its
    handshake would leave no session. Serving plaintext and wrapping each connection in this
    protocol (what asyncio does internally) lets the session be recorded at accept time and its
    failed handshake noted.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, app: ConnectionProtocol,
                 context: ssl.SSLContext, handshake_timeout: int) -> None:
        # No waiter: nobody awaits the handshake (a failed one would leave an unread error).
        super().__init__(loop, app, context, None,  # type: ignore[arg-type]
                         server_side=True, ssl_handshake_timeout=handshake_timeout)
        self._watcher = app

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tell(self._watcher.accepted, transport)
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        # After the application's own connection_lost, which asyncio schedules the same way.
        self._loop.call_soon(self._tell, self._watcher.handshake_lost, exc)

    def _tell(self, method: Callable[[Any], None], arg: Any) -> None:
        """Call the watcher; an error (a bug of ours) goes to the test, not to a log."""
        try:
            method(arg)
        except Exception as error:
            self._watcher._core.errors.add(error)


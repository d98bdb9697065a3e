"""Send every SMTP/LMTP connection of the code under test to the test's fake servers.

Both ``smtplib`` and ``smtpclient`` open their TCP connection in one method,
``SMTP._get_socket(host, port, timeout)``, whichever way the application got there (the
constructor, ``connect()`` later, a ``"host:port"`` string, a ``source_address``); ``SMTP_SSL``
calls it and wraps the socket with its context, and ``LMTP.connect`` opens unix sockets itself.
The redirect replaces those three (undone at teardown) so a connection to any host and port
reaches a fake server instead:

* ``SMTP`` -> a server offering STARTTLS (``smtp_starttls_server``),
* ``SMTP_SSL`` -> an implicit-TLS server (``smtps_server``),
* ``LMTP``, on TCP or a unix socket path -> an LMTP server (``lmtp_server``).

The host name is left alone, so TLS still checks the name the application asked for: the fake
server answers SNI for any name with a certificate from the session's test CA. For the client to
accept it, the redirect adds that CA to the trust store of the context actually used, at the
moment it is used: the context passed to ``starttls()`` or held by ``SMTP_SSL`` (when it verifies
certificates at all), and ``smtpclient``'s default context (its supported hook,
``SMTP.default_tls_context()``), replaced for the test by one that trusts the CA. Nothing
else about a context changes; host-name checking stays on. The added trust outlives the test on
a context the application keeps, and is harmless: the test CA's key lives only in this process.

A connection to one of the test's own fake servers is not redirected: on TCP, its port on its
host, ``localhost`` or a loopback address; for LMTP, its unix socket path (``lmtp_unix_server``).
The application's ``source_address`` is kept.
"""

from __future__ import annotations

import importlib
import inspect
import socket
import ssl
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import pytest

if TYPE_CHECKING:
    from smtpfake import CertificateAuthority, FakeLMTPServer, FakeSMTPServer

    from ._hosting import AnyServer


class Connection(NamedTuple):
    """One connection the code under test opened: where it asked to go, and which kind it was."""

    host: str  # as given to connect(); for LMTP over a unix socket, the socket's path
    port: int | None  # None for a unix socket
    kind: str  # "smtp", "smtps" or "lmtp": the server it reached (redirect.smtp/.smtps/.lmtp)


# Which of the test's servers each kind of connection reaches (names from _hosting.KINDS).
TARGETS = {"smtp": "starttls", "smtps": "smtps", "lmtp": "lmtp"}


class OwnServers(Protocol):
    """What the redirect needs of the test's servers (``_hosting.TestServers``)."""

    def get(self, name: str) -> AnyServer:
        """The test's server of this kind, started (or reset) on first use."""

    def passthrough(self, host: str, port: int) -> tuple[str, int] | None:
        """The address of the test's own TCP server that ``host:port`` names, or None."""

    def owns_socket(self, path: str) -> bool:
        """Whether ``path`` is the unix socket of one of the test's servers."""


class Redirect:
    """The ``smtp_redirect`` fixture's value: the servers connections reach, and what was asked.

    ``redirect.smtp``, ``redirect.smtps`` and ``redirect.lmtp`` are the same objects as the
    ``smtp_starttls_server``, ``smtps_server`` and ``lmtp_server`` fixtures in the same test;
    each is started (or reset) on first use. ``redirect.connections`` lists every redirected
    connection in order.
    """

    def __init__(self, servers: OwnServers, ca: CertificateAuthority) -> None:
        self._servers = servers
        self._ca = ca
        self._lock = threading.Lock()
        self._connections: list[Connection] = []

    @property
    def smtp(self) -> FakeSMTPServer:
        """Where ``SMTP(...)`` connections land: a server offering STARTTLS."""
        server: FakeSMTPServer = self._servers.get("starttls")  # type: ignore[assignment]
        return server

    @property
    def smtps(self) -> FakeSMTPServer:
        """Where ``SMTP_SSL(...)`` connections land: an implicit-TLS server."""
        server: FakeSMTPServer = self._servers.get("smtps")  # type: ignore[assignment]
        return server

    @property
    def lmtp(self) -> FakeLMTPServer:
        """Where ``LMTP(...)`` connections land, from TCP and unix socket paths alike."""
        server: FakeLMTPServer = self._servers.get("lmtp")  # type: ignore[assignment]
        return server

    @property
    def connections(self) -> list[Connection]:
        """Every redirected connection so far, in order (a copy)."""
        with self._lock:
            return list(self._connections)

    def __repr__(self) -> str:
        return f"<Redirect connections={self.connections!r}>"

    # -- the machinery --------------------------------------------------------------------

    def _open(
        self,
        kind: str,
        host: str,
        port: int,
        timeout: float | None,
        source_address: tuple[str, int] | None,
    ) -> socket.socket:
        address = self._servers.passthrough(host, port)
        if address is None:
            address = self._servers.get(TARGETS[kind]).address
            self._record(Connection(host, port, kind))
        return socket.create_connection(address, timeout, source_address)

    def _record(self, connection: Connection) -> None:
        with self._lock:
            self._connections.append(connection)

    def _trust(self, context: ssl.SSLContext | None) -> None:
        if context is not None and context.verify_mode != ssl.CERT_NONE:
            self._ca.trust(context)

    def install(
        self, patch: pytest.MonkeyPatch, trusting_context: Callable[[], ssl.SSLContext]
    ) -> None:
        """Patch smtplib (and smtpclient, if importable) until ``patch`` is undone.

        ``trusting_context`` gives the verified context that stands in for smtpclient's default.
        """
        self._patch_module(patch, importlib.import_module("smtplib"))
        try:
            importlib.import_module("smtpclient")
        except ImportError:  # the client is optional: code that only knows smtplib is redirected
            return
        client = importlib.import_module("smtpclient")
        self._patch_module(patch, client)
        # smtpclient's supported hook: SMTP_SSL() and starttls() without a context both ask
        # SMTP.default_tls_context() for theirs, so both get the trusting one.
        patch.setattr(client.SMTP, "default_tls_context", lambda _client: trusting_context())

    def _patch_module(self, patch: pytest.MonkeyPatch, module: ModuleType) -> None:
        """Patch the module's SMTP, SMTP_SSL and LMTP (the same seams in smtplib and smtpclient)."""
        smtp, smtp_ssl, lmtp = module.SMTP, module.SMTP_SSL, module.LMTP
        redirect = self
        # The originals, looked up before patching. SMTP_SSL's _get_socket and LMTP's connect
        # reach the base's _get_socket through super(), so they meet the redirected one.
        starttls, ssl_get_socket, lmtp_connect = smtp.starttls, smtp_ssl._get_socket, lmtp.connect
        starttls_signature = inspect.signature(starttls)

        def redirected_get_socket(
            client: Any, host: str, port: int, timeout: float | None
        ) -> socket.socket:
            if timeout is not None and not timeout:
                raise ValueError("Non-blocking socket (timeout=0) is not supported")
            if isinstance(client, smtp_ssl):
                kind = "smtps"
            elif isinstance(client, lmtp):
                kind = "lmtp"
            else:
                kind = "smtp"
            return redirect._open(kind, host, port, timeout, client.source_address)

        def trusting_starttls(client: Any, *args: Any, **kwargs: Any) -> Any:
            bound = starttls_signature.bind(client, *args, **kwargs)
            redirect._trust(bound.arguments.get("context"))
            return starttls(client, *args, **kwargs)

        def trusting_ssl_get_socket(
            client: Any, host: str, port: int, timeout: float | None
        ) -> Any:
            # Wraps the base's (redirected) socket with client.context: trust the CA first.
            redirect._trust(getattr(client, "context", None))
            return ssl_get_socket(client, host, port, timeout)

        def lmtp_connect_over_tcp(
            client: Any,
            host: str = "localhost",
            port: int = 0,
            source_address: tuple[str, int] | None = None,
        ) -> Any:
            if not host.startswith("/") or redirect._servers.owns_socket(host):
                return lmtp_connect(client, host, port, source_address)
            # A unix socket path: note it, then connect over TCP to the fake LMTP server, whose
            # own address the redirected _get_socket lets through.
            server = redirect._servers.get("lmtp")
            redirect._record(Connection(host, None, "lmtp"))
            return lmtp_connect(client, server.host, server.port, source_address)

        patch.setattr(smtp, "_get_socket", redirected_get_socket)
        patch.setattr(smtp, "starttls", trusting_starttls)
        patch.setattr(smtp_ssl, "_get_socket", trusting_ssl_get_socket)
        patch.setattr(lmtp, "connect", lmtp_connect_over_tcp)

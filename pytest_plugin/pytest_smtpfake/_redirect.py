"""Send every SMTP/LMTP connection of the code under test to the test's fake servers.

Both ``smtplib`` and ``smtpclient`` open their connection in one method,
``SMTP._get_socket(host, port, timeout)``; ``SMTP_SSL`` calls it and wraps the socket with its
context, and ``LMTP.connect`` opens unix sockets itself. The redirect replaces those (undone at
teardown) so a connection to any host and port reaches a fake server instead:

* ``SMTP`` -> a server offering STARTTLS (``smtp_starttls_server``),
* ``SMTP_SSL`` -> an implicit-TLS server (``smtps_server``),
* ``LMTP``, on TCP or a unix socket path -> an LMTP server (``lmtp_server``).

The host name is left alone, so TLS still checks the name the application asked for: the fake
server answers SNI for any name with a certificate from the session's test CA. For the client to
accept it, the redirect adds that CA to the trust store of the context actually used, at the
moment it is used: the context passed to ``starttls()`` or held by ``SMTP_SSL`` (when it verifies
certificates at all), and ``smtpclient``'s default context, replaced for the test by one that
trusts the CA. Nothing else about a context changes; host-name checking stays on. The added
trust outlives the test on a context the application keeps, and is harmless: the test CA's key
lives only in this process's memory.

A connection to the address of one of the test's own fake servers is not redirected.
"""

from __future__ import annotations

import importlib
import inspect
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

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
_TARGETS = {"smtp": "starttls", "smtps": "smtps", "lmtp": "lmtp"}


def _own(cls: type, name: str) -> Any:
    """The attribute if ``cls`` defines it itself (an inherited one is patched on its owner)."""
    return cls.__dict__.get(name)


class Redirect:
    """The ``smtp_redirect`` fixture's value: the servers connections reach, and what was asked.

    ``redirect.smtp``, ``redirect.smtps`` and ``redirect.lmtp`` are the same objects as the
    ``smtp_starttls_server``, ``smtps_server`` and ``lmtp_server`` fixtures in the same test;
    each is started (or reset) on first use. ``redirect.connections`` lists every redirected
    connection in order.
    """

    def __init__(self, servers: Callable[[str], AnyServer], ca: CertificateAuthority) -> None:
        self._servers = servers
        self._ca = ca
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._own_addresses: Callable[[], set[tuple[str, int]]] = set

    @property
    def smtp(self) -> FakeSMTPServer:
        """Where ``SMTP(...)`` connections land: a server offering STARTTLS."""
        server: FakeSMTPServer = self._servers("starttls")  # type: ignore[assignment]
        return server

    @property
    def smtps(self) -> FakeSMTPServer:
        """Where ``SMTP_SSL(...)`` connections land: an implicit-TLS server."""
        server: FakeSMTPServer = self._servers("smtps")  # type: ignore[assignment]
        return server

    @property
    def lmtp(self) -> FakeLMTPServer:
        """Where ``LMTP(...)`` connections land, from TCP and unix socket paths alike."""
        server: FakeLMTPServer = self._servers("lmtp")  # type: ignore[assignment]
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
        if (host, port) in self._own_addresses():
            return socket.create_connection((host, port), timeout, source_address)
        server = self._servers(_TARGETS[kind])
        self._record(Connection(host, port, kind))
        return socket.create_connection(server.address, timeout, source_address)

    def _record(self, connection: Connection) -> None:
        with self._lock:
            self._connections.append(connection)

    def _trust(self, context: ssl.SSLContext | None) -> None:
        if context is not None and context.verify_mode != ssl.CERT_NONE:
            self._ca.trust(context)

    def install(
        self,
        patch: pytest.MonkeyPatch,
        own_addresses: Callable[[], set[tuple[str, int]]],
        trusting_context: Callable[[], ssl.SSLContext],
    ) -> None:
        """Patch smtplib (and smtpclient, if importable) until ``patch`` is undone.

        ``own_addresses`` gives the test's fake servers' addresses (not redirected);
        ``trusting_context`` gives the verified context that stands in for smtpclient's default.
        """
        self._own_addresses = own_addresses
        self._patch_classes(patch, importlib.import_module("smtplib"))
        try:
            smtpclient = importlib.import_module("smtpclient")
        except ImportError:  # the client is optional: code that only knows smtplib is redirected
            return
        self._patch_classes(patch, smtpclient)
        self._patch_default_context(patch, trusting_context)

    def _patch_classes(self, patch: pytest.MonkeyPatch, module: ModuleType) -> None:
        smtp, smtp_ssl, lmtp = (
            getattr(module, name, None) for name in ("SMTP", "SMTP_SSL", "LMTP")
        )
        ssl_classes = tuple(cls for cls in (smtp_ssl,) if isinstance(cls, type))
        lmtp_classes = tuple(cls for cls in (lmtp,) if isinstance(cls, type))
        for cls in (smtp, smtp_ssl, lmtp):
            if isinstance(cls, type) and _own(cls, "_get_socket") is not None:
                self._patch_get_socket(patch, cls, ssl_classes, lmtp_classes)
            if isinstance(cls, type) and _own(cls, "starttls") is not None:
                self._patch_starttls(patch, cls)
        if isinstance(lmtp, type) and _own(lmtp, "connect") is not None:
            self._patch_lmtp_connect(patch, lmtp)

    @staticmethod
    def _patch_default_context(
        patch: pytest.MonkeyPatch, trusting_context: Callable[[], ssl.SSLContext]
    ) -> None:
        # smtpclient looks its default context up through this one module attribute.
        tls = sys.modules.get("smtpclient._tls")
        if tls is not None and hasattr(tls, "default_context"):
            patch.setattr(tls, "default_context", trusting_context)

    def _patch_get_socket(
        self,
        patch: pytest.MonkeyPatch,
        cls: type,
        ssl_classes: tuple[type, ...],
        lmtp_classes: tuple[type, ...],
    ) -> None:
        original = _own(cls, "_get_socket")
        redirect = self
        if cls in ssl_classes:
            # SMTP_SSL: its own _get_socket calls the base one (patched below) and wraps the
            # result with self.context, which must trust the test CA first.
            def ssl_get_socket(client: Any, host: str, port: int, timeout: Any) -> Any:
                redirect._trust(getattr(client, "context", None))
                return original(client, host, port, timeout)

            patch.setattr(cls, "_get_socket", ssl_get_socket)
            return
        if cls in lmtp_classes:
            return  # LMTP over TCP goes through the base class's _get_socket

        def get_socket(client: Any, host: str, port: int, timeout: Any) -> socket.socket:
            if timeout is not None and not timeout:
                raise ValueError("Non-blocking socket (timeout=0) is not supported")
            if isinstance(client, ssl_classes):
                kind = "smtps"
            elif isinstance(client, lmtp_classes):
                kind = "lmtp"
            else:
                kind = "smtp"
            return redirect._open(kind, host, port, timeout, client.source_address)

        patch.setattr(cls, "_get_socket", get_socket)

    def _patch_starttls(self, patch: pytest.MonkeyPatch, cls: type) -> None:
        original = _own(cls, "starttls")
        signature = inspect.signature(original)
        redirect = self

        def starttls(client: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(client, *args, **kwargs)
            redirect._trust(bound.arguments.get("context"))
            return original(client, *args, **kwargs)

        patch.setattr(cls, "starttls", starttls)

    def _patch_lmtp_connect(self, patch: pytest.MonkeyPatch, cls: type) -> None:
        original = _own(cls, "connect")
        redirect = self

        def connect(
            client: Any,
            host: str = "localhost",
            port: int = 0,
            source_address: tuple[str, int] | None = None,
        ) -> Any:
            if not host.startswith("/"):
                return original(client, host, port, source_address)
            # A unix socket path: note it, then connect over TCP to the fake LMTP server, whose
            # own address _get_socket lets through.
            server = redirect._servers("lmtp")
            redirect._record(Connection(host, None, "lmtp"))
            return original(client, server.host, server.port, source_address)

        patch.setattr(cls, "connect", connect)

"""``SMTP_SSL``: SMTP over implicit TLS (port 465), verified by default."""

from __future__ import annotations

import socket
import ssl
import sys

from . import _tls
from ._connection import handshake
from ._sync import DEFAULT_TIMEOUT, SMTP
from ._tls import check_tls_arguments, client_cert_context

__all__ = ["SMTP_SSL", "SMTP_SSL_PORT"]

SMTP_SSL_PORT = 465


class SMTP_SSL(SMTP):
    """SMTP over implicit TLS: the socket is wrapped with ``context`` before the greeting.

    The default context verifies the certificate and the host given to ``connect()`` (or to
    the constructor); smtplib's default verifies neither.
    """

    default_port = SMTP_SSL_PORT
    keyfile: str | None
    certfile: str | None
    _own_context: ssl.SSLContext | None = None  # given, or built when ``context`` was read

    @property
    def context(self) -> ssl.SSLContext:
        """The context this object's connections use; mutating it changes no other object's.

        The one given to the constructor; else a verified context of this object's own, built
        on first read (``ssl.create_default_context()``, ~20 ms). Until then the connections
        use the process-wide cached default (``smtpclient._tls.default_context``), which no
        attribute exposes: its cost is paid once per process, and code that adjusts
        ``smtp.context`` (smtplib's contexts are per object) changes only this object.
        """
        context = self._own_context
        if context is None:
            context = self._own_context = client_cert_context(None, None)
        return context

    @context.setter
    def context(self, context: ssl.SSLContext) -> None:
        self._own_context = context

    def _init_ssl(
        self,
        host: str,
        port: int,
        local_hostname: str | None,
        keyfile: str | None,
        certfile: str | None,
        timeout: float | None,
        source_address: tuple[str, int] | None,
        context: ssl.SSLContext | None,
    ) -> None:
        check_tls_arguments(keyfile, certfile, context)
        if sys.version_info < (3, 12):  # smtplib keeps them until 3.12 removed the arguments
            self.keyfile = keyfile
            self.certfile = certfile
        if context is None and (keyfile is not None or certfile is not None):
            context = client_cert_context(certfile, keyfile)
        self._own_context = context
        SMTP.__init__(self, host, port, local_hostname, timeout, source_address)

    if sys.version_info >= (3, 12):

        def __init__(
            self,
            host: str = "",
            port: int = 0,
            local_hostname: str | None = None,
            *,
            timeout: float | None = DEFAULT_TIMEOUT,
            source_address: tuple[str, int] | None = None,
            context: ssl.SSLContext | None = None,
        ) -> None:
            self._init_ssl(host, port, local_hostname, None, None, timeout, source_address, context)

    else:

        def __init__(
            self,
            host: str = "",
            port: int = 0,
            local_hostname: str | None = None,
            keyfile: str | None = None,
            certfile: str | None = None,
            timeout: float | None = DEFAULT_TIMEOUT,
            source_address: tuple[str, int] | None = None,
            context: ssl.SSLContext | None = None,
        ) -> None:
            self._init_ssl(
                host, port, local_hostname, keyfile, certfile, timeout, source_address, context
            )

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        if self.debuglevel > 0:
            self._print_debug("connect:", (host, port))
        new_socket = super()._get_socket(host, port, timeout)
        try:
            context = self._own_context
            if context is None:
                context = _tls.default_context()
            return handshake(context, new_socket, self._host)
        except BaseException:
            new_socket.close()
            raise

"""``LMTP`` (RFC 2033): over TCP, or over a unix socket when the host starts with ``/``."""

from __future__ import annotations

import socket

from ._sync import DEFAULT_TIMEOUT, SMTP

__all__ = ["LMTP", "LMTP_PORT"]

LMTP_PORT = 2003


class LMTP(SMTP):
    """LMTP: LHLO instead of EHLO, and one reply per accepted recipient after the data.

    smtplib reads a single reply after the data and leaves the others unread; here
    ``data()`` reads them all (``last_data_replies``) and ``sendmail`` puts the recipients
    refused at that point into its refused dict.
    """

    ehlo_msg = "lhlo"
    _lmtp = True

    def __init__(
        self,
        host: str = "",
        port: int = LMTP_PORT,
        local_hostname: str | None = None,
        source_address: tuple[str, int] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            host,
            port,
            local_hostname=local_hostname,
            source_address=source_address,
            timeout=timeout,
        )

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: tuple[str, int] | None = None
    ) -> tuple[int, bytes]:
        """Connect over TCP, or to the unix socket at ``host`` when it starts with ``/``."""
        if not host.startswith("/"):
            return super().connect(host, port, source_address=source_address)
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        self._new_session(host)
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if self.timeout is not DEFAULT_TIMEOUT:
                self.sock.settimeout(self.timeout)
            self.file = None
            self.sock.connect(host)
        except OSError:
            if self.debuglevel > 0:
                self._print_debug("connect fail:", host)
            if self.sock:
                self.sock.close()
            self.sock = None
            raise
        code, msg = self._read_greeting()
        if self.debuglevel > 0:
            self._print_debug("connect:", msg)
        return (code, msg)

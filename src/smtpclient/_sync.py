"""``SMTP``: smtplib's SMTP class, driving the flows of the sans-I/O core over a socket.

The transport (sending, reading replies, TLS wrapping, debug output) is the base class,
``_connection.Connection``; ``SMTP_SSL`` and ``LMTP`` live in ``_smtp_ssl`` and ``_lmtp``.

Where this client differs from smtplib, on purpose:

- TLS is verified: ``starttls()`` and ``SMTP_SSL`` check the certificate and the host name by
  default, with one cached ``ssl.create_default_context()`` (``smtpclient._tls.default_context``);
  the name checked is the host given to ``connect()`` (or to the constructor). Pass
  ``context=ssl._create_unverified_context()`` to opt out.
- Plaintext buffered before the TLS handshake is discarded, never read as a reply after it.
- Any control character (C0 or DEL) in a command or in an address or option given to
  ``mail``/``rcpt``/``sendmail``/``verify``/``expn`` raises ValueError before anything of the
  command (for ``sendmail``: of the transaction) is sent; smtplib lets ``parseaddr`` quietly
  rewrite such an address.
- Replies are bounded (8192-byte lines, ``max_reply_lines`` lines, ``max_reply_size`` bytes) and
  checked; a malformed or oversized reply raises :class:`SMTPReplyError` (an
  SMTPResponseException) and closes the connection; a timed-out read closes it too, and the
  timeout bounds the rest of a reply once it has begun, not each read. A reply the server
  sent unasked is refused before the next command of a transaction (SMTPReplyError), never
  taken for its answer.
- A hang-up or silence during a TLS handshake is SMTPServerDisconnected, as in any phase.
- ``sendmail`` resets after a refused DATA command too (smtplib leaves the transaction open).
- ``connect()`` starts a new session: the EHLO/HELO state of a previous connection is dropped,
  so an object can reconnect after a hang-up and send again.
- LMTP reads one reply per accepted recipient after the data (RFC 2033); in ``sendmail`` a
  recipient refused there appears in the refused dict.
- ``last_reply`` is the last :class:`Reply` (with ``enhanced_status``); ``last_data_reply`` is the
  reply to the end of the data (the queue id), ``last_data_replies`` the per-recipient ones.
- ``sendmail`` checks the message size against the server's ``SIZE`` before sending (raising
  SMTPSenderRefused 552 as a server would); ``auth_xoauth2`` and XOAUTH2 in ``login`` when the
  server offers no other known mechanism.
- An AUTH exchange that cannot answer a challenge is cancelled with ``*`` before the error is
  raised, so the session stays in step; a server that keeps challenging is hung up on.
- ``data()`` encodes a ``str`` message before sending DATA, so a non-ASCII one fails first.

As in smtplib, the compound methods go through the public ones: a subclass overriding ``mail``,
``rcpt``, ``data``, ``rset``, ``ehlo``, ``helo``, ``ehlo_or_helo_if_needed``, ``sendmail`` or
``auth`` sees ``sendmail``, ``send_message`` and ``login`` call its override.
"""

from __future__ import annotations

import contextlib
import email.message
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import _flows as flows
from ._auth import (
    AuthObject,
    auth_flow,
    cram_md5_response,
    login_response,
    plain_response,
    xoauth2_answer,
    xoauth2_response,
)
from ._commands import command_line
from ._connection import Connection
from ._exceptions import SMTPConnectError, SMTPResponseException, SMTPServerDisconnected
from ._replies import MAX_LINE, Reply, ReplyParser
from ._tls import check_tls_arguments, tls_context

# The default context comes from ``_tls.tls_context``, which looks up
# ``smtpclient._tls.default_context`` at each call: that module attribute is the one place to
# patch it (the pytest plugin's redirect does).

__all__ = ["DEFAULT_TIMEOUT", "SMTP", "SMTP_PORT"]

SMTP_PORT = 25

DEFAULT_TIMEOUT: Any = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


class SMTP(Connection):
    """A connection to an SMTP server, with smtplib.SMTP's methods and attributes.

    ``SMTP(host, port)`` connects at once (SMTPConnectError unless the greeting is 220). Use
    ``sendmail``/``send_message`` for whole transactions, or the command methods one by one.
    """

    helo_resp: bytes | None = None
    ehlo_msg = "ehlo"
    ehlo_resp: bytes | None = None
    does_esmtp = False
    default_port = SMTP_PORT
    last_data_reply: Reply | None = None
    _lmtp = False
    local_hostname: str
    user: str
    password: str

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
    ) -> None:
        self._host = host
        self.timeout = timeout
        self.esmtp_features: dict[str, str] = {}
        self.command_encoding = "ascii"
        self.source_address = source_address
        self._auth_challenge_count = 0
        self._accepted: list[str] = []
        self.last_data_replies: list[tuple[str, Reply]] = []
        self._parser = ReplyParser(MAX_LINE, self.max_reply_lines, self.max_reply_size)
        if host:
            try:
                code, msg = self.connect(host, port)
            except BaseException:  # the caller never gets the object: close what it holds
                self.close()
                raise
            if code != 220:
                self.close()
                raise SMTPConnectError(code, msg)
        if local_hostname is not None:
            self.local_hostname = local_hostname
        else:
            fqdn = socket.getfqdn()
            if "." in fqdn:
                self.local_hostname = fqdn
            else:
                addr = "127.0.0.1"
                with contextlib.suppress(socket.gaierror):
                    addr = socket.gethostbyname(socket.gethostname())
                self.local_hostname = f"[{addr}]"

    def __enter__(self) -> SMTP:
        return self

    def __exit__(self, *args: object) -> None:
        try:
            code, message = self.docmd("QUIT")
            if code != 221:
                raise SMTPResponseException(code, message)
        except SMTPServerDisconnected:
            pass
        finally:
            self.close()

    # -- connection ----------------------------------------------------------------------

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        # The seam test harnesses patch to redirect connections: keep smtplib's signature.
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if self.debuglevel > 0:
            self._print_debug("connect: to", (host, port), self.source_address)
        return socket.create_connection((host, port), timeout, self.source_address)

    def _new_session(self, host: str) -> None:
        """Forget the previous connection: its socket, its EHLO state, any partial reply."""
        if self.sock is not None or self.file is not None:
            self.close()
        self._host = host
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self.command_encoding = "ascii"
        self._accepted = []
        self._parser.reset()

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: tuple[str, int] | None = None
    ) -> tuple[int, bytes]:
        """Connect to ``host`` (``"host:port"`` accepted) and return the greeting."""
        if source_address:
            self.source_address = source_address
        if not port and host.find(":") == host.rfind(":"):
            i = host.rfind(":")
            if i >= 0:
                host, port_text = host[:i], host[i + 1 :]
                try:
                    port = int(port_text)
                except ValueError:
                    raise OSError("nonnumeric port") from None
        if not port:
            port = self.default_port
        self._new_session(host)
        sys.audit("smtplib.connect", self, host, port)
        self.sock = self._get_socket(host, port, self.timeout)
        self.file = None
        code, msg = self._read_greeting()
        if self.debuglevel > 0:
            self._print_debug("connect:", repr(msg))
        return (code, msg)

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send one command; ValueError if it holds a control character."""
        self.send(command_line(cmd, args))

    def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        """Send a command and return its reply."""
        self.putcmd(cmd, args)
        return self.getreply()

    # -- smtplib's internal calls to public methods ---------------------------------------

    def _overrides(self, name: str) -> bool:
        """Whether this object's ``name`` method is not ours (the flows then call it)."""
        return getattr(type(self), name) is not _STEPS[name] or name in self.__dict__

    # -- commands ------------------------------------------------------------------------

    def helo(self, name: str = "") -> tuple[int, bytes]:
        """HELO; the reply is also kept in ``helo_resp``."""
        return self._drive(flows.helo(self, name))

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        """EHLO; on 250 the extensions are in ``esmtp_features`` and ``does_esmtp`` is True."""
        return self._drive(flows.ehlo(self, name))

    def ehlo_or_helo_if_needed(self) -> None:
        """EHLO, falling back to HELO, unless done in this session; SMTPHeloError if refused."""
        self._drive(flows.ehlo_or_helo_if_needed(self))

    def has_extn(self, opt: str) -> bool:
        """Whether the server advertised the extension ``opt`` (any case)."""
        return opt.lower() in self.esmtp_features

    def help(self, args: str = "") -> bytes:
        """HELP; returns the reply text."""
        return self._drive(flows.simple(command_line("help", args)))[1]

    def rset(self) -> tuple[int, bytes]:
        """RSET: abort the transaction."""
        return self._drive(flows.rset(self))

    def _rset(self) -> None:
        with contextlib.suppress(SMTPServerDisconnected):
            self.rset()

    def noop(self) -> tuple[int, bytes]:
        """NOOP."""
        return self.docmd("noop")

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """MAIL FROM; SMTPNotSupportedError for SMTPUTF8 when the server lacks it."""
        return self._drive(flows.mail(self, sender, options))

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """RCPT TO."""
        return self._drive(flows.rcpt(self, recip, options))

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA and the message (dot-stuffed); SMTPDataError unless the server answers 354."""
        return self._drive(flows.data(self, msg))

    def verify(self, address: str) -> tuple[int, bytes]:
        """VRFY."""
        return self._drive(flows.verify(address))

    vrfy = verify

    def expn(self, address: str) -> tuple[int, bytes]:
        """EXPN."""
        return self._drive(flows.expn(address))

    # -- authentication ------------------------------------------------------------------

    def auth(
        self, mechanism: str, authobject: AuthObject, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """AUTH ``mechanism`` answered by ``authobject`` (smtplib's protocol)."""
        return self._drive(auth_flow(self, mechanism, authobject, initial_response_ok))

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        """Authobject for CRAM-MD5, from ``self.user`` and ``self.password``."""
        if challenge is None:
            return None
        return cram_md5_response(self.user, self.password, challenge)

    def auth_plain(self, challenge: bytes | None = None) -> str:
        """Authobject for PLAIN, from ``self.user`` and ``self.password``."""
        return plain_response(self.user, self.password)

    def auth_login(self, challenge: bytes | None = None) -> str:
        """Authobject for LOGIN, from ``self.user`` and ``self.password``."""
        count = 1 if challenge is None else self._auth_challenge_count
        return login_response(self.user, self.password, count)

    def auth_xoauth2(self, challenge: bytes | None = None) -> str:
        """Authobject for XOAUTH2: ``self.password`` is the OAuth 2.0 access token."""
        if challenge is None:
            return xoauth2_response(self.user, self.password)
        return xoauth2_answer(self.user, self.password, self._auth_challenge_count)

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Authenticate with the best mechanism both sides support (see ``_flows.login``)."""
        return self._drive(flows.login(self, user, password, initial_response_ok))

    # -- TLS -----------------------------------------------------------------------------

    def _starttls(
        self, keyfile: str | None, certfile: str | None, context: ssl.SSLContext | None
    ) -> tuple[int, bytes]:
        check_tls_arguments(keyfile, certfile, context)
        return self._drive(flows.starttls(self, tls_context(keyfile, certfile, context)))

    if sys.version_info >= (3, 12):

        def starttls(self, *, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
            """STARTTLS, then TLS verified against the host given to ``connect()``."""
            return self._starttls(None, None, context)

    else:

        def starttls(
            self,
            keyfile: str | None = None,
            certfile: str | None = None,
            context: ssl.SSLContext | None = None,
        ) -> tuple[int, bytes]:
            """STARTTLS, then TLS verified against the host given to ``connect()``."""
            return self._starttls(keyfile, certfile, context)

    # -- transactions --------------------------------------------------------------------

    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: str | bytes,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send one message; returns the refused recipients ``{address: (code, message)}``."""
        return self._drive(
            flows.sendmail(self, from_addr, to_addrs, msg, mail_options, rcpt_options)
        )

    def send_message(
        self,
        msg: email.message.Message,
        from_addr: str | None = None,
        to_addrs: str | Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send an ``email.message.Message``; the envelope comes from its headers if not given."""
        return self._drive(
            flows.send_message(self, msg, from_addr, to_addrs, mail_options, rcpt_options)
        )

    def quit(self) -> tuple[int, bytes]:
        """QUIT, then close."""
        return self._drive(flows.quit(self))


_STEPS: dict[str, Callable[..., Any]] = {
    name: SMTP.__dict__[name]
    for name in (
        "auth",
        "data",
        "ehlo",
        "ehlo_or_helo_if_needed",
        "helo",
        "mail",
        "rcpt",
        "rset",
        "sendmail",
    )
}
"""The methods smtplib's compound methods call through ``self``, as defined here."""

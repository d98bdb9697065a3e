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

- When the server advertises PIPELINING (RFC 2920), ``sendmail`` and ``send_message`` write
  MAIL, RCPT and DATA in one go (same results and errors; see ``smtpclient.protocol``); set
  ``pipelining = False`` on the object or the class to send them one by one. ``send_many``
  sends many messages at one round trip each.

As in smtplib, the compound methods go through the public ones: a subclass (or a patch on the
object) replacing ``mail``, ``rcpt``, ``data``, ``rset``, ``ehlo``, ``helo``,
``ehlo_or_helo_if_needed``, ``sendmail``, ``auth``, ``auth_<mechanism>``, ``has_extn``,
``putcmd`` or ``send`` sees ``sendmail``, ``send_message`` and ``login`` call it. The core knows
nothing of this: ``_hooks`` here turns the replaced methods into the core's ``Hooks``, and a
transaction whose MAIL, RCPT or DATA is replaced runs in lockstep, one method call at a time.
"""

from __future__ import annotations

import contextlib
import email.message
import socket
import ssl
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import _steps as steps
from . import _tls
from ._auth import (
    AuthObject,
    auth_flow,
    cram_md5_response,
    login_response,
    plain_response,
    xoauth2_answer,
    xoauth2_response,
)
from ._commands import Command
from ._connection import Connection
from ._exceptions import SMTPConnectError, SMTPResponseException, SMTPServerDisconnected
from ._hooks import Hooks
from ._login import login
from ._many import Item, Result, send_many
from ._overrides import HOOKED, SessionView, hooks_of
from ._replies import MAX_LINE, Reply, ReplyParser
from ._session import Session
from ._tls import check_tls_arguments, tls_context
from ._transaction import send_message, sendmail

__all__ = ["DEFAULT_TIMEOUT", "SMTP", "SMTP_PORT"]

SMTP_PORT = 25

DEFAULT_TIMEOUT: Any = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


class SMTP(Connection):
    """A connection to an SMTP server, with smtplib.SMTP's methods and attributes.

    ``SMTP(host, port)`` connects at once (SMTPConnectError unless the greeting is 220). Use
    ``sendmail``/``send_message`` for whole transactions, ``send_many`` for many messages, or
    the command methods one by one. The session attributes (``esmtp_features``,
    ``does_esmtp``, ``helo_resp``...) are views of the core's :class:`~smtpclient.protocol.Session`.
    """

    ehlo_msg = "ehlo"
    default_port = SMTP_PORT
    pipelining = True
    """Use PIPELINING when the server offers it. False sends each command and waits for its
    reply, for a server that advertises PIPELINING and mishandles it."""
    _lmtp = False

    debuglevel: SessionView[int] = SessionView("debuglevel")
    helo_resp: SessionView[bytes | None] = SessionView("helo_resp")
    ehlo_resp: SessionView[bytes | None] = SessionView("ehlo_resp")
    does_esmtp: SessionView[bool] = SessionView("does_esmtp")
    esmtp_features: SessionView[dict[str, str]] = SessionView("esmtp_features")
    command_encoding: SessionView[str] = SessionView("command_encoding")
    local_hostname: SessionView[str] = SessionView("local_hostname")
    user: SessionView[str] = SessionView("user")
    password: SessionView[str] = SessionView("password")
    last_data_reply: SessionView[Reply | None] = SessionView("last_data_reply")
    last_data_replies: SessionView[list[tuple[str, Reply]]] = SessionView("last_data_replies")
    _auth_challenge_count: SessionView[int] = SessionView("auth_challenge_count")

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
    ) -> None:
        self._session = Session(ehlo_msg=self.ehlo_msg, lmtp=self._lmtp)
        self._parser = ReplyParser(MAX_LINE, self.max_reply_lines, self.max_reply_size)
        self._out = []
        self._host = host
        self.timeout = timeout
        self.source_address = source_address
        if host:
            try:
                code, msg = self.connect(host, port)
            except BaseException:  # the caller never gets the object: close what it holds
                self.close()
                raise
            if code != 220:
                self.close()
                raise SMTPConnectError(code, msg)
        self.local_hostname = _local_hostname() if local_hostname is None else local_hostname

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

    @property
    def session(self) -> Session:
        """The core's session for this connection (read it; the flows keep it up to date)."""
        return self._session

    def _hooks(self) -> Hooks:
        return hooks_of(self, _ORIGINALS)

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
        self._session.new_connection()
        self._parser.reset()
        self._out = []
        self._awaiting = 0
        self._broken = None

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

    def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        """Send a command and return its reply."""
        self.putcmd(cmd, args)
        return self.getreply()

    def default_tls_context(self) -> ssl.SSLContext:
        """The context ``starttls()`` and ``SMTP_SSL`` use when given none: verified, built once
        per process (``smtpclient.default_context()``). The supported hook for changing it:
        override it in a subclass, or patch it on the class (the pytest plugin does)."""
        return _tls.default_context()

    # -- commands ------------------------------------------------------------------------

    def helo(self, name: str = "") -> tuple[int, bytes]:
        """HELO; the reply is also kept in ``helo_resp``."""
        return self._drive(steps.helo(self._session, name))

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        """EHLO; on 250 the extensions are in ``esmtp_features`` and ``does_esmtp`` is True."""
        return self._drive(steps.ehlo(self._session, name))

    def ehlo_or_helo_if_needed(self) -> None:
        """EHLO, falling back to HELO, unless done in this session; SMTPHeloError if refused."""
        self._drive(steps.ehlo_or_helo_if_needed(self._session, self._hooks()))

    def has_extn(self, opt: str) -> bool:
        """Whether the server advertised the extension ``opt`` (any case)."""
        return self._session.has_extension(opt)

    def help(self, args: str = "") -> bytes:
        """HELP; returns the reply text."""
        return self._drive(steps.command(Command("help", args)))[1]

    def rset(self) -> tuple[int, bytes]:
        """RSET: abort the transaction."""
        return self._drive(steps.rset(self._session))

    def noop(self) -> tuple[int, bytes]:
        """NOOP."""
        return self.docmd("noop")

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """MAIL FROM; SMTPNotSupportedError for SMTPUTF8 when the server lacks it."""
        return self._drive(steps.mail(self._session, sender, options, self._hooks()))

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """RCPT TO."""
        return self._drive(steps.rcpt(self._session, recip, options))

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA and the message (dot-stuffed); SMTPDataError unless the server answers 354."""
        return self._drive(steps.data(self._session, msg))

    def verify(self, address: str) -> tuple[int, bytes]:
        """VRFY."""
        return self._drive(steps.verify(address))

    vrfy = verify

    def expn(self, address: str) -> tuple[int, bytes]:
        """EXPN."""
        return self._drive(steps.expn(address))

    # -- authentication ------------------------------------------------------------------

    def auth(
        self, mechanism: str, authobject: AuthObject, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """AUTH ``mechanism`` answered by ``authobject`` (smtplib's protocol)."""
        return self._drive(auth_flow(self._session, mechanism, authobject, initial_response_ok))

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
        """Authenticate with the best mechanism both sides support (see ``protocol.login``)."""
        flow = login(self._session, user, password, initial_response_ok, self._hooks())
        return self._drive(flow)

    # -- TLS -----------------------------------------------------------------------------

    def _starttls(
        self, keyfile: str | None, certfile: str | None, context: ssl.SSLContext | None
    ) -> tuple[int, bytes]:
        check_tls_arguments(keyfile, certfile, context)
        if context is None and keyfile is None and certfile is None:
            context = self.default_tls_context()
        context = tls_context(keyfile, certfile, context)
        return self._drive(steps.starttls(self._session, context, self._hooks()))

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
        args = (from_addr, to_addrs, msg, mail_options, rcpt_options)
        flow = sendmail(self._session, *args, hooks=self._hooks(), pipelining=self.pipelining)
        return self._drive(flow)

    def send_message(
        self,
        msg: email.message.Message,
        from_addr: str | None = None,
        to_addrs: str | Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send an ``email.message.Message``; the envelope comes from its headers if not given."""
        args = (msg, from_addr, to_addrs, mail_options, rcpt_options)
        flow = send_message(self._session, *args, hooks=self._hooks(), pipelining=self.pipelining)
        return self._drive(flow)

    def send_many(self, items: Iterable[Item]) -> list[Result]:
        """Send many messages, one round trip each when the server offers PIPELINING.

        ``items``: ``email.message.Message`` objects (sent as ``send_message`` would) or
        ``(from_addr, to_addrs, msg)`` tuples (as ``sendmail``). Returns one result per item,
        in order: the refused-recipient dict, or the exception ``sendmail`` would have raised
        for it (nothing is raised for a single message). A 421 or a hang-up fails every
        message not yet confirmed, never reports it sent; afterwards the session is in step.
        """
        flow = send_many(self._session, items, hooks=self._hooks(), pipelining=self.pipelining)
        return self._drive(flow)

    def quit(self) -> tuple[int, bytes]:
        """QUIT, then close."""
        return self._drive(steps.quit(self._session))


def _local_hostname() -> str:
    """smtplib's default name for EHLO/HELO: the FQDN, else ``[address]``."""
    fqdn = socket.getfqdn()
    if "." in fqdn:
        return fqdn
    addr = "127.0.0.1"
    with contextlib.suppress(socket.gaierror):
        addr = socket.gethostbyname(socket.gethostname())
    return f"[{addr}]"


_ORIGINALS: tuple[Callable[..., Any], ...] = tuple(SMTP.__dict__[name] for name in HOOKED)
"""The methods smtplib's compound methods call through ``self``, as defined here."""

"""The blocking driver: ``SMTP``, ``SMTP_SSL`` and ``LMTP`` with smtplib's surface.

The protocol lives in the sans-I/O core (``_flows``, ``_replies``, ``_commands``...); this module
owns the socket: connecting, sending, reading replies through a buffered reader, wrapping in
TLS, and debug output in smtplib's format (level 1: the traffic; level 2: with timestamps).

Where this client differs from smtplib, on purpose:

- TLS is verified: ``starttls()`` and ``SMTP_SSL`` check the certificate and the host name by
  default, with one cached ``ssl.create_default_context()`` (``smtpclient._tls.default_context``);
  the name checked is the host given to ``connect()`` (or to the constructor). Pass
  ``context=ssl._create_unverified_context()`` to opt out.
- Plaintext buffered before the TLS handshake is discarded, never read as a reply after it.
- Any control character (C0 or DEL) in a command raises ValueError before anything is sent.
- Replies are bounded (8192-byte lines, ``max_reply_lines`` lines, ``max_reply_size`` bytes) and
  checked; a malformed or oversized reply raises :class:`SMTPReplyError` (an
  SMTPResponseException) and closes the connection; a timed-out read closes it too.
- ``connect()`` starts a new session: the EHLO/HELO state of a previous connection is dropped,
  so an object can reconnect after a hang-up and send again.
- LMTP reads one reply per accepted recipient after the data (RFC 2033); in ``sendmail`` a
  recipient refused there appears in the refused dict.
- ``last_reply`` is the last :class:`Reply` (with ``enhanced_status``); ``last_data_reply`` is the
  reply to the end of the data (the queue id), ``last_data_replies`` the per-recipient ones.
- ``sendmail`` checks the message size against the server's ``SIZE`` before sending (raising
  SMTPSenderRefused 552 as a server would); ``auth_xoauth2`` and XOAUTH2 in ``login`` when the
  server offers no other known mechanism.
"""

from __future__ import annotations

import contextlib
import datetime
import email.message
import io
import socket
import ssl
import sys
import warnings
from collections.abc import Generator, Sequence
from typing import Any, TypeVar, cast

from . import _flows as flows
from ._auth import (
    AuthObject,
    auth_flow,
    cram_md5_response,
    login_response,
    plain_response,
    xoauth2_response,
)
from ._commands import command_line
from ._exceptions import (
    SMTPConnectError,
    SMTPReplyError,
    SMTPResponseException,
    SMTPServerDisconnected,
)
from ._replies import MAX_LINE, MAX_REPLY_LINES, MAX_REPLY_SIZE, Reply, ReplyParser
from ._tls import client_cert_context, default_context

__all__ = ["LMTP", "LMTP_PORT", "SMTP", "SMTP_PORT", "SMTP_SSL", "SMTP_SSL_PORT"]

SMTP_PORT = 25
SMTP_SSL_PORT = 465
LMTP_PORT = 2003

_DEFAULT_TIMEOUT: Any = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
_READ, _CLOSE = flows.READ, flows.CLOSE
_IOV_MAX = 1024  # buffers per sendmsg (POSIX guarantees 16; Linux and the BSDs allow 1024)
T = TypeVar("T")


def _check_tls_arguments(keyfile: str | None, certfile: str | None, context: object) -> None:
    if context is not None and keyfile is not None:
        raise ValueError("context and keyfile arguments are mutually exclusive")
    if context is not None and certfile is not None:
        raise ValueError("context and certfile arguments are mutually exclusive")
    if keyfile is not None or certfile is not None:
        warnings.warn(
            "keyfile and certfile are deprecated, use a custom context instead",
            DeprecationWarning,
            4,  # the caller of SMTP_SSL() or starttls()
        )


class SMTP:
    """A connection to an SMTP server, with smtplib.SMTP's methods and attributes.

    ``SMTP(host, port)`` connects at once (SMTPConnectError unless the greeting is 220). Use
    ``sendmail``/``send_message`` for whole transactions, or the command methods one by one.
    """

    debuglevel = 0
    sock: socket.socket | None = None
    file: io.BufferedReader | None = None
    helo_resp: bytes | None = None
    ehlo_msg = "ehlo"
    ehlo_resp: bytes | None = None
    does_esmtp = False
    default_port = SMTP_PORT
    max_reply_lines = MAX_REPLY_LINES
    max_reply_size = MAX_REPLY_SIZE
    last_reply: Reply | None = None
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
        timeout: float | None = _DEFAULT_TIMEOUT,
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
            code, msg = self.connect(host, port)
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

    # -- the driver ----------------------------------------------------------------------

    def set_debuglevel(self, debuglevel: int) -> None:
        """Debug output to stderr: 1 shows the traffic, 2 adds timestamps."""
        self.debuglevel = debuglevel

    def _print_debug(self, *args: object) -> None:
        if self.debuglevel > 1:
            print(datetime.datetime.now().time(), *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

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
        code, msg = self._drive(flows.greeting(self))
        if self.debuglevel > 0:
            self._print_debug("connect:", repr(msg))
        return (code, msg)

    def send(self, s: str | bytes) -> None:
        """Send ``s`` as it is (a str is encoded with ``command_encoding``)."""
        if self.debuglevel > 0:
            self._print_debug("send:", repr(s))
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        if isinstance(s, str):
            s = s.encode(self.command_encoding)
        sys.audit("smtplib.send", self, s)
        try:
            sock.sendall(s)
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    def _send_pieces(self, pieces: list[bytes | memoryview]) -> None:
        """Send message data given in pieces: one ``sendmsg`` per batch, no joined copy."""
        sock = self.sock
        if (
            self.debuglevel > 0  # smtplib prints the data as one "send:" line
            or not isinstance(sock, socket.socket)
            or isinstance(sock, ssl.SSLSocket)  # no sendmsg over TLS
        ):
            self.send(b"".join(pieces))
            return
        sys.audit("smtplib.send", self, pieces)
        try:
            for first in range(0, len(pieces), _IOV_MAX):
                batch = pieces[first : first + _IOV_MAX]
                sent = sock.sendmsg(batch)
                if sent < sum(map(len, batch)):  # a partial write: finish piece by piece
                    for piece in batch:
                        if sent >= len(piece):
                            sent -= len(piece)
                        else:
                            sock.sendall(memoryview(piece)[sent:])
                            sent = 0
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send one command; ValueError if it holds a control character."""
        self.send(command_line(cmd, args))

    def _read_reply(self) -> Reply:
        file = self.file
        if file is None:
            if self.sock is None:
                raise SMTPServerDisconnected("please run connect() first")
            file = self.file = self.sock.makefile("rb")
        feed_line = self._parser.feed_line
        debug = self.debuglevel > 0
        while True:
            try:
                line = file.readline(MAX_LINE + 1)
            except OSError as exc:
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed: " + str(exc)) from exc
            if not line:
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed")
            if debug:
                self._print_debug("reply:", repr(line))
            try:
                reply = feed_line(line)
            except SMTPReplyError:
                self.close()
                raise
            if reply is not None:
                break
        if debug:
            self._print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
        self.last_reply = reply
        return reply

    def getreply(self) -> tuple[int, bytes]:
        """Read one reply: ``(code, message)``, the lines of a multi-line reply joined by LF."""
        reply = self._read_reply()
        return (reply.code, reply.message)

    def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        """Send a command and return its reply."""
        self.putcmd(cmd, args)
        return self.getreply()

    def _start_tls(self, context: ssl.SSLContext) -> None:
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        file, self.file = self.file, None
        if file is not None:
            file.close()  # anything the server sent after its 220 is dropped with the buffer
        self._parser.reset()
        try:
            self.sock = context.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            self.close()
            raise

    def _drive(self, flow: Generator[Any, Any, T]) -> T:
        """Run a flow from the core over this connection, to its return value."""
        value: Any = None
        try:
            event = next(flow)
            while True:
                kind = type(event)
                try:
                    if kind is str or kind is bytes:
                        self.send(event)
                        value = self._read_reply()
                    elif kind is list:
                        self._send_pieces(event)
                        value = self._read_reply()
                    elif event is _READ:
                        value = self._read_reply()
                    elif event is _CLOSE:
                        self.close()
                        value = None
                    elif kind is flows.StartTLS:
                        self._start_tls(cast(ssl.SSLContext, event.context))
                        value = None
                    else:
                        self._print_debug(*event.args)
                        value = None
                except Exception as exc:  # the flow decides: recover, or let it propagate
                    event = flow.throw(exc)
                    continue
                event = flow.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)

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
        if challenge is None:
            return self.user
        return login_response(self.user, self.password, self._auth_challenge_count)

    def auth_xoauth2(self, challenge: bytes | None = None) -> str:
        """Authobject for XOAUTH2: ``self.password`` is the OAuth 2.0 access token."""
        return xoauth2_response(self.user, self.password) if challenge is None else ""

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Authenticate with the best mechanism both sides support (see ``_flows.login``)."""
        return self._drive(flows.login(self, user, password, initial_response_ok))

    # -- TLS -----------------------------------------------------------------------------

    def _starttls(
        self, keyfile: str | None, certfile: str | None, context: ssl.SSLContext | None
    ) -> tuple[int, bytes]:
        _check_tls_arguments(keyfile, certfile, context)
        if context is None:
            if keyfile is None and certfile is None:
                context = default_context()
            else:
                context = client_cert_context(certfile, keyfile)
        return self._drive(flows.starttls(self, context))

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

    def close(self) -> None:
        """Close the connection (the object can ``connect()`` again)."""
        try:
            file, self.file = self.file, None
            if file:
                file.close()
        finally:
            sock, self.sock = self.sock, None
            if sock:
                sock.close()

    def quit(self) -> tuple[int, bytes]:
        """QUIT, then close."""
        return self._drive(flows.quit(self))


class SMTP_SSL(SMTP):
    """SMTP over implicit TLS (port 465), verified by default (see the module docstring)."""

    default_port = SMTP_SSL_PORT
    context: ssl.SSLContext
    keyfile: str | None
    certfile: str | None

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
        _check_tls_arguments(keyfile, certfile, context)
        self.keyfile = keyfile
        self.certfile = certfile
        if context is None:
            if keyfile is None and certfile is None:
                context = default_context()
            else:
                context = client_cert_context(certfile, keyfile)
        self.context = context
        SMTP.__init__(self, host, port, local_hostname, timeout, source_address)

    if sys.version_info >= (3, 12):

        def __init__(
            self,
            host: str = "",
            port: int = 0,
            local_hostname: str | None = None,
            *,
            timeout: float | None = _DEFAULT_TIMEOUT,
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
            timeout: float | None = _DEFAULT_TIMEOUT,
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
            return self.context.wrap_socket(new_socket, server_hostname=self._host)
        except BaseException:
            new_socket.close()
            raise


class LMTP(SMTP):
    """LMTP (RFC 2033) over TCP, or over a unix socket when the host starts with ``/``.

    After the data, one reply is read per accepted recipient (smtplib reads one in all).
    """

    ehlo_msg = "lhlo"
    _lmtp = True

    def __init__(
        self,
        host: str = "",
        port: int = LMTP_PORT,
        local_hostname: str | None = None,
        source_address: tuple[str, int] | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
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
            if self.timeout is not _DEFAULT_TIMEOUT:
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
        code, msg = self._drive(flows.greeting(self))
        if self.debuglevel > 0:
            self._print_debug("connect:", msg)
        return (code, msg)

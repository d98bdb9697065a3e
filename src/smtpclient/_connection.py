"""The blocking connection under ``SMTP``: sending, reading replies, TLS, running the flows.

:class:`Connection` owns the socket and nothing of SMTP's vocabulary: it performs the events
the flows of ``_flows`` yield (``_events``), frames reply lines and feeds them to the sans-I/O
:class:`~smtpclient.ReplyParser` (each reply within the timeout, none taken out of turn), wraps
the socket in TLS, and prints smtplib's debug output (level 1: the traffic; level 2: with
timestamps). Every failure of the transport closes the connection and becomes
:class:`SMTPServerDisconnected`, so the object can ``connect()`` again.
"""

from __future__ import annotations

import datetime
import io
import socket
import ssl
import sys
import time
from collections.abc import Generator
from typing import Any, TypeVar, cast

from ._events import CLOSE, READ, Call, StartTLS
from ._exceptions import SMTPGreetingError, SMTPReplyError, SMTPServerDisconnected
from ._flows import greeting
from ._replies import MAX_LINE, MAX_REPLY_LINES, MAX_REPLY_SIZE, Reply, ReplyParser

__all__ = ["Connection", "handshake"]

# The real socket class, taken once: code written for smtplib replaces the ``socket`` module the
# client sees (``smtpclient._sync.socket = mock_socket``), and a stand-in socket is read
# through its ``makefile()``, as smtplib reads every socket, whatever that module holds.
_SOCKET_TYPE = socket.socket
_CHUNK = 8192  # bytes per read of replies: a reply fits, an EHLO reply too
_NEVER = float("inf")
T = TypeVar("T")


def handshake(context: ssl.SSLContext, sock: socket.socket, host: str) -> ssl.SSLSocket:
    """``sock`` wrapped in TLS, ``host`` verified; the caller closes ``sock`` on failure.

    A peer that hangs up or goes silent during the handshake is SMTPServerDisconnected, as in
    any other phase; a failed verification or a TLS protocol error stays an ``ssl.SSLError``.
    """
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLEOFError, ConnectionError, TimeoutError) as exc:
        raise SMTPServerDisconnected(
            f"Connection unexpectedly closed during the TLS handshake: {exc}"
        ) from exc


class Connection:
    """A socket speaking to an SMTP server: the transport half of :class:`~smtpclient.SMTP`."""

    debuglevel = 0
    sock: socket.socket | None = None
    file: io.BufferedReader | None = None
    command_encoding = "ascii"
    max_reply_lines = MAX_REPLY_LINES
    """Most lines in one reply; more is an SMTPReplyError. Set on the class or the object."""
    max_reply_size = MAX_REPLY_SIZE
    """Most bytes in one reply; more is an SMTPReplyError. Set on the class or the object."""
    last_reply: Reply | None = None
    _host = ""  # the host given to connect(): the name TLS verifies
    _read_ahead = b""  # bytes read past the last reply
    _parser: ReplyParser

    def set_debuglevel(self, debuglevel: int) -> None:
        """Debug output to stderr: 1 shows the traffic, 2 adds timestamps."""
        self.debuglevel = debuglevel

    def _print_debug(self, *args: object) -> None:
        if self.debuglevel > 1:
            print(datetime.datetime.now().time(), *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

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

    def _read_reply(self) -> Reply:
        """The next reply: from what was read ahead of it, else from the socket.

        Lines are framed here (so debug output shows each as smtplib does) and parsed by the
        sans-I/O parser. Once a reply has begun, the rest of it must arrive within the
        socket's timeout: a server trickling a byte at a time cannot hold the client longer.
        Bytes read past the reply stay in ``_read_ahead`` for the next read (LMTP's
        per-recipient replies). Any failure closes the connection.
        """
        file = self.file
        if file is None:
            if self.sock is None:
                raise SMTPServerDisconnected("please run connect() first")
            file = self.file = self.sock.makefile("rb")
        parser = self._parser
        parser.max_lines = self.max_reply_lines
        parser.max_size = self.max_reply_size
        debug = self.debuglevel > 0
        buffer = self._read_ahead
        start = 0
        deadline = -1.0  # set when a reply needs a second read: the first bounds its start
        while True:
            end = buffer.find(b"\n", start)
            if end >= 0:
                line = buffer if start == 0 and end + 1 == len(buffer) else buffer[start : end + 1]
                start = end + 1
            elif len(buffer) - start > MAX_LINE:
                line, start = buffer[start:], len(buffer)  # too long: the parser refuses it
            else:
                if deadline < 0 and (start or buffer):  # the reply has begun: bound the rest
                    deadline = self._deadline()
                chunk = self._receive(file, deadline)
                if chunk:
                    buffer = buffer[start:] + chunk if start < len(buffer) else chunk
                    start = 0
                    continue
                if start == len(buffer):
                    self.close()
                    raise SMTPServerDisconnected("Connection unexpectedly closed")
                # The server closed after a last line without its line ending; smtplib reads
                # it as a line, and so do we.
                line, start = buffer[start:], len(buffer)
            if debug:
                self._print_debug("reply:", repr(line))
            try:
                reply = parser.feed_line(line)
            except SMTPReplyError:
                self.close()
                raise
            if reply is not None:
                break
        self._read_ahead = buffer[start:] if start < len(buffer) else b""
        if debug:
            self._print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
        self.last_reply = reply
        return reply

    def _deadline(self) -> float:
        """When the reply begun now must be complete: the socket's timeout from now (or never)."""
        sock = self.sock
        # A stand-in for a socket (smtplib's own tests use one) gets no deadline.
        timeout = sock.gettimeout() if isinstance(sock, _SOCKET_TYPE) else None
        return _NEVER if timeout is None else time.monotonic() + timeout

    def _receive(self, file: io.BufferedReader, deadline: float) -> bytes:
        """One read (b"" at end of file): with the socket's own timeout for the first read of
        a reply (``deadline`` < 0), else with what remains until ``deadline``."""
        sock = self.sock
        timeout = None
        if 0 <= deadline < _NEVER and isinstance(sock, _SOCKET_TYPE):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed: timed out")
            timeout = sock.gettimeout()
            sock.settimeout(remaining)
        try:
            if isinstance(sock, _SOCKET_TYPE):
                return sock.recv(_CHUNK)  # straight from the socket: nothing is left buffered
            return file.readline(MAX_LINE + 1)  # a stand-in socket: through its file, as smtplib
        except OSError as exc:
            self.close()
            raise SMTPServerDisconnected("Connection unexpectedly closed: " + str(exc)) from exc
        finally:
            if timeout is not None and sock is not None and self.sock is sock:
                sock.settimeout(timeout)  # undo the per-read deadline

    def _refuse_unsolicited(self) -> None:
        """Before a command: bytes the server sent unasked would be taken for its reply."""
        if self._read_ahead:
            unsolicited = self._read_ahead[:80]
            self.close()
            raise SMTPReplyError(-1, f"Unsolicited reply from the server: {unsolicited!r}")

    def _read_greeting(self) -> tuple[int, bytes]:
        """The server's greeting; a malformed one is SMTPGreetingError (an SMTPConnectError)."""
        try:
            return self._drive(greeting(self))
        except SMTPReplyError as exc:
            raise SMTPGreetingError(exc.smtp_code, exc.smtp_error) from exc

    def getreply(self) -> tuple[int, bytes]:
        """Read one reply: ``(code, message)``, the lines of a multi-line reply joined by LF."""
        reply = self._read_reply()
        return (reply.code, reply.message)

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket in TLS, verifying ``_host``; buffered plaintext is dropped unread."""
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        file, self.file = self.file, None
        if file is not None:
            file.close()
        self._read_ahead = b""  # anything the server sent after its 220 is dropped unread
        self._parser.reset()
        try:
            self.sock = handshake(context, sock, self._host)
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
                        if self._read_ahead:
                            self._refuse_unsolicited()
                        self.send(event)
                        value = self._read_reply()
                    elif kind is list:
                        if self._read_ahead:
                            self._refuse_unsolicited()
                        # Message data: joined, then one write, as smtplib sends it. The
                        # "smtplib.send" audit event carries the bytes sent, and a single write
                        # leaves no small second one for Nagle's algorithm to hold back until
                        # the server's delayed ACK (~40 ms).
                        self.send(b"".join(event))
                        value = self._read_reply()
                    elif event is READ:
                        value = self._read_reply()
                    elif kind is Call:
                        value = getattr(self, event.name)(*event.args, **event.kwargs)
                    elif event is CLOSE:
                        self.close()
                        value = None
                    elif kind is StartTLS:
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

    def close(self) -> None:
        """Close the connection (the object can ``connect()`` again)."""
        self._read_ahead = b""
        try:
            file, self.file = self.file, None
            if file:
                file.close()
        finally:
            sock, self.sock = self.sock, None
            if sock:
                sock.close()

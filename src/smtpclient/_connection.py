"""The blocking connection under ``SMTP``: writing, reading replies, TLS, running the flows.

:class:`Connection` owns the socket and nothing of SMTP's vocabulary: it performs the events
the flows of the core yield (``smtpclient.protocol``). Commands are written at once (the flow
may work while the server answers), message data is held until the flow writes commands or
reads, so a message's data and the next message's commands leave in one write. Replies are
framed and parsed by the connection's :class:`~smtpclient.ReplyParser`, each within the timeout,
none taken out of turn. It wraps the socket in TLS and prints smtplib's
debug output (level 1: the traffic; level 2: with timestamps). Every failure of the transport
closes the connection and becomes :class:`SMTPServerDisconnected`, so the object can
``connect()`` again.

smtplib sends every command through ``self.putcmd`` and all bytes through ``self.send``: when a
subclass (or a patch on the object) replaces either, or debug output is on, commands go through
them one by one, as smtplib's would; otherwise they are encoded and written here directly.
"""

from __future__ import annotations

import datetime
import io
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from ._commands import Command
from ._events import Chunk, Close, Debug, Event, Flow, Read, ReadUpTo, Send, StartTLS
from ._exceptions import SMTPGreetingError, SMTPReplyError, SMTPServerDisconnected
from ._replies import MAX_LINE, MAX_REPLY_LINES, MAX_REPLY_SIZE, Reply, ReplyParser
from ._session import Session
from ._steps import greeting

__all__ = ["Connection", "handshake"]

# The real socket class, taken once: code written for smtplib replaces the ``socket`` module the
# client sees (``smtpclient._sync.socket = mock_socket``), and a stand-in socket is read
# through its ``makefile()``, as smtplib reads every socket, whatever that module holds.
_SOCKET_TYPE = socket.socket
_IOV_MAX = 1024  # buffers per sendmsg (POSIX guarantees 16; Linux and the BSDs allow 1024)
_CHUNK = 8192  # bytes per read of replies: a reply fits, an EHLO reply too
_JOIN_LIMIT = 64 * 1024  # up to this many bytes, buffers are joined and sent with one sendall
_NEVER = float("inf")
T = TypeVar("T")
Buffer = bytes | memoryview


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
    max_reply_lines = MAX_REPLY_LINES
    """Most lines in one reply; more is an SMTPReplyError. Set on the class or the object."""
    max_reply_size = MAX_REPLY_SIZE
    """Most bytes in one reply; more is an SMTPReplyError. Set on the class or the object."""
    last_reply: Reply | None = None
    _host = ""  # the host given to connect(): the name TLS verifies
    _session: Session
    _parser: ReplyParser
    _out: list[Buffer]  # written by the flow, not yet sent: sent before the next read
    _awaiting = 0  # replies due for what was written (a reply beyond them is unsolicited)
    _direct = False  # while a flow runs: write commands without putcmd/send (see _prepare)
    _broken: SMTPReplyError | None = None  # a bad reply found after those _read_up_to returned

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
            s = s.encode(self._session.command_encoding)
        sys.audit("smtplib.send", self, s)
        try:
            sock.sendall(s)
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send one command; ValueError if it holds a control character."""
        self.send(Command(cmd, args).line)

    def getreply(self) -> tuple[int, bytes]:
        """Read one reply: ``(code, message)``, the lines of a multi-line reply joined by LF."""
        self._prepare()
        reply = self._read_reply()
        return (reply.code, reply.message)

    # -- writing -------------------------------------------------------------------------

    def _write_commands(self, commands: Sequence[Command], flush: bool = True) -> None:
        """Write command lines (at once, unless ``flush`` is False: BDAT's goes with its data)."""
        if not self._awaiting and self._parser.in_progress:
            self._refuse_unsolicited()
        if not self._direct:
            self._flush()
            for cmd in commands:
                self.putcmd(cmd.verb, cmd.args)
        else:
            encoding = self._session.command_encoding
            if len(commands) == 1:
                data = commands[0].line.encode(encoding)
            else:
                data = "".join([cmd.line for cmd in commands]).encode(encoding)
            if self.sock is None:
                raise SMTPServerDisconnected("please run connect() first")
            sys.audit("smtplib.send", self, data)
            self._out.append(data)
            if flush:
                self._flush()  # now: the flow may work while the server answers
        self._awaiting += len(commands)

    def _write_chunk(self, chunk: Chunk) -> None:
        """Hold message data (after its command, if any) until the next write or read."""
        if chunk.command is not None:
            self._write_commands((chunk.command,), flush=False)
            self._awaiting -= 1
        elif not self._awaiting and self._parser.in_progress:
            self._refuse_unsolicited()
        if not self._direct:
            self._flush()
            self.send(b"".join(chunk.data))
        else:
            if self.sock is None:
                raise SMTPServerDisconnected("please run connect() first")
            # Joined (a small message is one piece already): the "smtplib.send" audit event
            # carries the bytes sent, as smtplib's does.
            data = chunk.data[0] if len(chunk.data) == 1 else b"".join(chunk.data)
            sys.audit("smtplib.send", self, data)
            self._out.append(data)
        self._awaiting += chunk.replies

    def _refuse_unsolicited(self) -> None:
        """Before writing with no reply due, the server had sent something: bytes it sent
        unasked would be taken for the next reply, so they end the connection instead."""
        unsolicited = self._parser.unread[:80]
        self.close()
        raise SMTPReplyError(-1, f"Unsolicited reply from the server: {unsolicited!r}")

    def _flush(self) -> None:
        """Send what the flow wrote in one write: joined, or (large) with one ``sendmsg``."""
        out = self._out
        if not out:
            return
        self._out = []
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        try:
            if len(out) == 1:
                sock.sendall(out[0])
            elif (
                sum(map(len, out)) > _JOIN_LIMIT
                and isinstance(sock, _SOCKET_TYPE)
                and not isinstance(sock, ssl.SSLSocket)  # no sendmsg over TLS
            ):
                _send_buffers(sock, out)
            else:  # a few KiB: joining costs less than scatter/gather
                sock.sendall(b"".join(out))
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    # -- reading -------------------------------------------------------------------------

    def _read_reply(self) -> Reply:
        """The next reply: from what was read ahead of it, else from the socket.

        Once a reply has begun, the rest of it must arrive within the socket's timeout: a
        server trickling a byte at a time cannot hold the client longer. Any failure closes
        the connection. (The parser's limits and debug output are set by :meth:`_prepare`.)
        """
        if self._out:
            self._flush()
        if self._broken is not None:  # found by _read_up_to after the replies it returned
            error, self._broken = self._broken, None
            raise error
        try:
            reply = self._parser.next_reply()
            if reply is None:
                reply = self._receive_reply()
        except SMTPReplyError:
            self.close()
            raise
        if self._session.debuglevel > 0:
            self._print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
        self.last_reply = reply
        return reply

    def _read_up_to(self, limit: int) -> list[Reply]:
        """The next reply, and those after it already received, up to ``limit`` in all.

        A malformed reply among the later ones closes the connection and is raised by the next
        read, so the good replies before it reach the flow first, as they would one by one.
        """
        replies = [self._read_reply()]
        parser = self._parser
        debug = self._session.debuglevel > 0
        try:
            while len(replies) < limit and (reply := parser.next_reply()) is not None:
                if debug:
                    self._print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
                self.last_reply = reply
                replies.append(reply)
        except SMTPReplyError as error:
            self.close()
            self._broken = error
        self._awaiting = max(self._awaiting - len(replies), 0)
        return replies

    def _receive_reply(self) -> Reply:
        parser = self._parser
        deadline = -1.0  # set when a reply needs another read: the first bounds its start
        while True:
            if deadline < 0 and parser.in_progress:
                deadline = self._deadline()
            chunk = self._receive(deadline)
            if not chunk:
                reply = parser.feed_eof()  # a last line without its ending counts
                if reply is None:
                    self.close()
                    raise SMTPServerDisconnected("Connection unexpectedly closed")
                return reply
            parser.receive(chunk)
            reply = parser.next_reply()
            if reply is not None:
                return reply

    def _prepare(self) -> bool:
        """Before running a flow or reading a reply: the parser gets the object's limits and
        debug output; returns whether commands may be written directly (see ``_direct``)."""
        parser = self._parser
        parser.max_lines = self.max_reply_lines
        parser.max_size = self.max_reply_size
        debug = self._session.debuglevel > 0
        parser.on_line = self._debug_line if debug else None
        cls = type(self)
        return (
            not debug
            and cls.putcmd is Connection.putcmd
            and cls.send is Connection.send
            and "putcmd" not in self.__dict__
            and "send" not in self.__dict__
        )

    def _debug_line(self, line: bytes) -> None:
        self._print_debug("reply:", repr(line))

    def _deadline(self) -> float:
        """When the reply begun now must be complete: the socket's timeout from now (or never)."""
        sock = self.sock
        # A stand-in for a socket (smtplib's own tests use one) gets no deadline.
        timeout = sock.gettimeout() if isinstance(sock, _SOCKET_TYPE) else None
        return _NEVER if timeout is None else time.monotonic() + timeout

    def _receive(self, deadline: float) -> bytes:
        """One read (b"" at end of file): with the socket's own timeout for the first read of
        a reply (``deadline`` < 0), else with what remains until ``deadline``."""
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        timeout = None
        if 0 <= deadline < _NEVER and isinstance(sock, _SOCKET_TYPE):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed: timed out")
            timeout = sock.gettimeout()
            sock.settimeout(remaining)
        try:
            if _is_socket(sock):
                return sock.recv(_CHUNK)  # straight from the socket: nothing is left buffered
            return self._stand_in_file(sock).readline(MAX_LINE + 1)  # as smtplib reads
        except OSError as exc:
            self.close()
            raise SMTPServerDisconnected("Connection unexpectedly closed: " + str(exc)) from exc
        finally:
            if timeout is not None and self.sock is sock:
                sock.settimeout(timeout)  # undo the per-read deadline

    def _stand_in_file(self, sock: Any) -> io.BufferedReader:
        """A stand-in for a socket (smtplib's own tests use one) is read through its file."""
        if self.file is None:
            self.file = sock.makefile("rb")
        return cast(io.BufferedReader, self.file)

    def _read_greeting(self) -> tuple[int, bytes]:
        """The server's greeting; a malformed one is SMTPGreetingError (an SMTPConnectError)."""
        try:
            return self._drive(greeting(self._session))
        except SMTPReplyError as exc:
            raise SMTPGreetingError(exc.smtp_code, exc.smtp_error) from exc

    # -- TLS, closing, driving -----------------------------------------------------------

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket in TLS, verifying ``_host``; buffered plaintext is dropped unread."""
        self._flush()
        sock = self.sock
        if sock is None:
            raise SMTPServerDisconnected("please run connect() first")
        file, self.file = self.file, None
        if file is not None:
            file.close()
        self._parser.reset()  # anything the server sent after its 220 is dropped unread
        try:
            self.sock = handshake(context, sock, self._host)
        except BaseException:
            self.close()
            raise

    def _perform(self, event: Event) -> Any:
        """Perform one event of a flow; its result goes back to the flow."""
        if type(event) is Send:
            self._write_commands(event.commands)
        elif type(event) is Chunk:
            self._write_chunk(event)
        elif type(event) is Debug:
            if self._session.debuglevel > 0:
                self._print_debug(*event.args)
        elif type(event) is Close:
            self.close()
        elif type(event) is StartTLS:
            self._start_tls(cast(ssl.SSLContext, event.context))
        elif type(event) is ReadUpTo:
            return self._read_up_to(event.limit)
        elif type(event) is Read:
            if self._awaiting > 0:
                self._awaiting -= 1
            return self._read_reply()
        else:
            raise TypeError(f"not an event of smtpclient.protocol: {event!r}")
        return None

    def _drive(self, flow: Flow[T]) -> T:
        """Run a flow of the core over this connection, to its return value."""
        value: Any = None
        outer, self._direct = self._direct, self._prepare()
        try:
            event = next(flow)
            while True:
                try:
                    if type(event) is Read:
                        if self._awaiting > 0:
                            self._awaiting -= 1
                        value = self._read_reply()
                    else:
                        value = self._perform(event)
                except Exception as exc:  # the flow decides: recover, or let it propagate
                    event = flow.throw(exc)
                    continue
                event = flow.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        finally:
            self._direct = outer  # a flow run from a hook (an override) ends inside another

    def close(self) -> None:
        """Close the connection (the object can ``connect()`` again)."""
        self._out = []
        self._awaiting = 0
        self._parser.reset()
        try:
            file, self.file = self.file, None
            if file:
                file.close()
        finally:
            sock, self.sock = self.sock, None
            if sock:
                sock.close()


def _is_socket(sock: object) -> bool:
    """A real socket, not a stand-in (smtplib's own tests give the client one)."""
    return isinstance(sock, _SOCKET_TYPE)


def _send_buffers(sock: socket.socket, buffers: list[Buffer]) -> None:
    """``sendall`` for many buffers: ``sendmsg`` in batches, finishing partial writes."""
    for first in range(0, len(buffers), _IOV_MAX):
        batch = buffers[first : first + _IOV_MAX]
        sent = sock.sendmsg(batch)
        if sent < sum(map(len, batch)):  # a partial write: finish piece by piece
            for piece in batch:
                if sent >= len(piece):
                    sent -= len(piece)
                else:
                    sock.sendall(memoryview(piece)[sent:])
                    sent = 0

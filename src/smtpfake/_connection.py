"""The aiosmtpd protocol subclass's base: one connection's life, replies and transcript.

Everything a fake server needs around aiosmtpd's command loop, whatever the command: the session
record, what the client did wrong (``_misbehaviour``), how the connection ended, replies written
to the transcript, rules' actions (reply, hang up, delay, hang, raw bytes), and aiosmtpd's
per-connection costs kept down. Commands are dispatched in ``_protocol``; DATA in ``_delivery``.
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    TLSSetupException,
)
from aiosmtpd.smtp import Session as _AioSession

from . import _tables
from ._auth import INVALID, password_ok
from ._capture import _SessionRecord
from ._misbehaviour import line_notes, show_line
from ._script import Action, Phase

if TYPE_CHECKING:
    from ._lifecycle import ServerCore

__all__ = ["ConnectionProtocol"]

# RFC 2920: replies to grouped RSET/MAIL/RCPT may be held and sent as a unit.
_BATCHED = frozenset({Phase.MAIL, Phase.RCPT, Phase.RSET})
# <dot-atom@domain>: what aiosmtpd's RFC 5322 parser returns unchanged (no quotes, comments,
# routes or non-ASCII), found with one regex instead of the email package's token parser.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDRESS = re.compile(
    rf"\s*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?![ \t]*\()[ \t]*"
)
# asyncio's TCP transport reads with recv(256 KiB): glibc serves a buffer that size with mmap and
# unmaps it when the bytes are shrunk to what arrived, ~12 us on every read, more than the rest of
# a command's work. 64 KiB stays on the heap and still reads a big message in few calls.
_RECV_SIZE = 1 << 16


class _Session(_AioSession):
    """aiosmtpd's Session, without the deprecation log line on every successful AUTH."""

    login_data: Any = None


class _Envelope(Envelope):
    """aiosmtpd's Envelope plus the RCPT options grouped per recipient."""

    def __init__(self) -> None:
        super().__init__()
        self.per_rcpt_options: list[tuple[str, ...]] = []


class _Handler:
    """An aiosmtpd handler with no hooks: every decision is made in the protocol."""

    def __dir__(self) -> list[str]:
        return []  # no handle_*/auth_* hooks: spare aiosmtpd's per-connection scan


def _authenticate(
    server: SMTP, session: _AioSession, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """aiosmtpd authenticator for PLAIN and LOGIN: check the configured users."""
    if (
        isinstance(data, LoginPassword)
        and isinstance(server, ConnectionProtocol)
        and password_ok(server._cfg.users, data.login.decode("utf-8", "replace"),
                        bytes(data.password))
    ):
        return AuthResult(success=True, auth_data=data)
    return AuthResult(success=False, handled=False, message=INVALID)


class ConnectionProtocol(SMTP):
    """aiosmtpd's SMTP protocol with a session record, a transcript and rule actions."""

    # aiosmtpd sizes its StreamReader from this; a large buffer is what makes DATA fast. Commands
    # longer than the command limit still get aiosmtpd's "500 Command line too long".
    line_length_limit = 1 << 20
    data_line_limit = 1001  # aiosmtpd's data line limit (RFC 5321 4.5.3.1.6 plus the dot)
    lmtp = False

    def __init__(self, core: ServerCore) -> None:
        cfg = core.cfg
        self._init_dir: list[str] | None = _tables.init_dir(type(self), super().__dir__)
        super().__init__(
            _Handler(),
            data_size_limit=cfg.data_size_limit,
            enable_SMTPUTF8=True,
            hostname=cfg.hostname,
            ident=cfg.greeting,
            tls_context=cfg.starttls_context,
            auth_require_tls=False,
            authenticator=_authenticate,
            loop=core.loop,
        )
        self._init_dir = None
        excluded = frozenset(m for m in ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")
                             if m not in cfg.auth_mechanisms)
        _tables.install(self, self._command, excluded)
        self._core = core
        self._cfg = cfg
        self._auth_required = cfg.auth_required
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self._record: _SessionRecord | None = None
        self._greeted = False
        self._phase: Phase | None = None  # the command being dispatched
        self._held: list[bytes] = []  # replies held back for a pipelined group
        self._lost: asyncio.Future[None] = core.loop.create_future()
        self._raw_transport: asyncio.BaseTransport | None = None  # implicit TLS: the TCP one
        self._line = b""  # the last command line read, as received
        self._notes: list[str] = []  # what was wrong with it, noted after its C: line
        self._overrun = False  # inside a line longer than the reader's limit
        self._in_data = False
        self._departed = False  # the end of the connection is explained in the transcript
        self._deadline = 0.0  # of the idle timeout (see _reset_timeout)
        self._go_ahead: list[str] | None = None  # a scripted reply to send instead of the next

    def __dir__(self) -> list[str]:
        """All names, except while aiosmtpd's ``__init__`` scans them (see ``_tables``)."""
        names = getattr(self, "_init_dir", None)
        return list(super().__dir__()) if names is None else names

    def _command(self, name: str, method: Any) -> Any:
        """What aiosmtpd calls for command ``name`` (``method``, the ``smtp_*`` one, here)."""
        return method

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser, with a fast path for plain ``<local@domain>``."""
        simple = _SIMPLE_ADDRESS.match(arg)
        if simple is None or self.local_part_limit:
            return super()._getaddr(arg)
        return simple[1], arg[simple.end():]

    # ---- typed views of aiosmtpd's state ---------------------------------------------------

    # (aiosmtpd's inspect.getmembers() reads every property while the object is half-built,
    # so these do not assert.)
    @property
    def _env(self) -> _Envelope:
        return self.envelope  # type: ignore[return-value]

    @property
    def _sess(self) -> _AioSession:
        return self.session  # type: ignore[return-value]

    @property
    def _rec(self) -> _SessionRecord:
        return self._record  # type: ignore[return-value]

    def _new_envelope(self) -> None:
        """aiosmtpd's post-DATA / RSET state: a fresh envelope."""
        self.envelope = _Envelope()

    # ---- connection lifecycle -------------------------------------------------------------

    def _create_session(self) -> _Session:
        return _Session(self.loop)

    def _create_envelope(self) -> _Envelope:
        return _Envelope()

    def accepted(self, transport: asyncio.BaseTransport) -> None:
        """Implicit TLS: the TCP connection is up, the handshake starts (see ``_tls``)."""
        self._raw_transport = transport
        self._begin(transport.get_extra_info("peername"), tls=False)

    def handshake_lost(self, error: BaseException | None) -> None:
        """Implicit TLS: the TCP connection is gone; note it if the handshake never finished."""
        if self._lost.done() or self._handler_coroutine is not None:
            return  # connection_lost() ran, or is about to
        if not self._departed:  # (a stopping server has said so already)
            self._departed = True
            self._rec.add("!", f"TLS handshake failed: {error}" if isinstance(error, ssl.SSLError)
                          else "client left during the TLS handshake")
        self._finish()

    def _begin(self, peer: Any, tls: bool) -> None:
        self._record = _SessionRecord(peer, tls)
        self._core.connected(self, self._record)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        starttls = self._original_transport is not None
        super().connection_made(transport)
        if starttls:  # aiosmtpd starts a new session: no greeting, no login (RFC 3207 4.2)
            self._rec.tls = True
            self._rec.helo_name = self._rec.auth_user = None
            self._rec.add("!", "TLS established")
            return
        if getattr(transport, "max_size", 0) > _RECV_SIZE:  # a plain TCP or unix transport
            transport.max_size = _RECV_SIZE  # type: ignore[attr-defined]
        tls = transport.get_extra_info("ssl_object") is not None
        if self._record is None:
            self._begin(self._sess.peer, tls)
        else:  # implicit TLS, recorded at accept
            self._rec.tls = tls
        self._watch_reader()
        if self._handler_coroutine is not None:
            self._handler_coroutine.add_done_callback(self._task_done)

    def eof_received(self) -> bool | None:
        self._note_departure(None)
        return super().eof_received()

    def connection_lost(self, error: Exception | None) -> None:
        self._note_departure(error)
        super().connection_lost(error)
        self._finish()

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's idle timeout, pushed back on every command without a new timer each time.

        aiosmtpd cancels its timer and schedules another for each command; here the deadline
        moves, and the one timer, when it fires before the deadline, waits again until then.
        """
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._deadline = deadline
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or handle.when() > deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(deadline, self._idle_check)

    def _idle_check(self) -> None:
        if self.loop.time() < self._deadline:
            self._timeout_handle = self.loop.call_at(self._deadline, self._idle_check)
        else:
            self._timeout_cb()  # type: ignore[no-untyped-call]

    def _finish(self) -> None:
        if not self._lost.done():
            self._lost.set_result(None)
            self._core.disconnected(self)

    def _note_departure(self, error: Exception | None) -> None:
        """A client that leaves without QUIT is worth a line (unless we hung up or stopped)."""
        if self._departed or self._record is None:
            return
        self._departed = True
        self._flush_notes()
        how = "reset the connection" if isinstance(error, ConnectionResetError) else (
            "disconnected" + (f" ({error!r})" if error is not None else ""))
        where = " during DATA" if self._in_data else ""
        self._record.add("!", f"client {how}{where} without QUIT")

    def _watch_reader(self) -> None:
        """Look at every command line before aiosmtpd does, to note what was wrong with it.

        aiosmtpd reads commands with ``self._reader.readuntil()`` and answers bad ones itself;
        wrapping that one method (on this connection's reader only) lets the transcript say what
        the client sent. ``readline()`` (AUTH answers) goes through it too.
        """
        reader = self._reader
        readuntil = reader.readuntil

        async def read_line(separator: bytes = b"\n") -> bytes:
            try:
                line: bytes = await readuntil(separator)
            except asyncio.LimitOverrunError:
                if not self._overrun:
                    self._overrun = True
                    self._notes.append(
                        f"command line longer than {self.line_length_limit} bytes")
                raise
            if self._overrun:  # the end of it: aiosmtpd answers 500 next
                self._overrun = False
                line = b"... " + line.rstrip(b"\r\n")[-60:] + b"\r\n"
            else:
                self._notes.extend(line_notes(line))
            if self._phase is None:  # a command (not an AUTH answer: no credentials kept)
                self._line = line
            return line

        reader.readuntil = read_line  # type: ignore[method-assign,assignment]

    def _overrun_seen(self) -> bool:
        return any(note.startswith("command line longer") for note in self._notes)

    def _flush_notes(self) -> None:
        if self._notes:
            for note in self._notes:
                self._rec.add("!", note)
            self._notes.clear()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A connection task ended: a dropped client is no news, anything else is a bug."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, OSError):
            self._core.errors.add(error)

    @property
    def open_for_mail(self) -> bool:
        """Whether the client may still send mail here: it has not said QUIT, left or been
        hung up on. (Read from the caller's thread by ``reset()``: a plain attribute.)"""
        return not self._departed

    def abort(self, why: str = "the server stopped") -> asyncio.Future[None]:
        """Drop the connection at once; the future resolves once it is gone."""
        if not self._departed and self._record is not None:
            self._departed = True
            self._record.add("!", f"connection dropped: {why}")
        for transport in (self.transport, self._original_transport, self._raw_transport):
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        if self._original_transport is not None and not self._rec.tls:
            # Mid-STARTTLS handshake: asyncio's TLS layer will not report this loss to us.
            self.loop.call_soon(self.force_lost)
        return self._lost

    def force_lost(self) -> None:
        """Finish a connection asyncio's TLS layer never reported lost (aborted mid-handshake)."""
        if self._lost.done():
            return
        if self._handler_coroutine is None:  # implicit TLS: never got past the handshake
            self._finish()
        else:
            self.connection_lost(None)

    @property
    def handler_task(self) -> asyncio.Task[None] | None:
        return self._handler_coroutine

    def _tls_now(self) -> bool:
        return self._tls_protocol is not None or bool(self._record and self._record.tls)

    # ---- replies and the transcript -----------------------------------------------------

    async def push(self, status: str | bytes) -> None:
        if not self._greeted:
            self._greeted = True
            if await self._on_connect():
                return
        if self._go_ahead is not None:  # aiosmtpd's STARTTLS go-ahead, scripted (_start_tls)
            lines, self._go_ahead = self._go_ahead, None
            await self._push_lines(lines)
            return
        text = status if isinstance(status, str) else status.decode("utf-8", "replace")
        record = self._sync_record()
        if self._phase is None and self._line:
            # aiosmtpd refused the line before any handler saw it (too long, undecodable...).
            record.add("C", show_line(self._line))
            if text.startswith("500 Command line too long") and not self._overrun_seen():
                size = len(self._line.rstrip(b"\r\n"))
                self._notes.append(f"command line of {size} bytes, over the limit")
        self._flush_notes()
        self._line = b""
        record.add("S", text)
        data = text.encode("utf-8") + b"\r\n"
        if self._phase in _BATCHED and b"\n" in self._reader._buffer:  # type: ignore[attr-defined]
            # The client pipelined another command: answer the group in one write (RFC 2920).
            self._held.append(data)
            return
        self._write(data)
        await self._writer.drain()

    def _write(self, data: bytes = b"") -> None:
        """Write ``data`` after any held replies."""
        if self._held:
            data = b"".join(self._held) + data
            self._held.clear()
        if data:
            self._writer.write(data)

    def _sync_record(self) -> _SessionRecord:
        """Copy the greeting name and login into the session record before the client hears;
        return the record."""
        session, record = self.session, self._record
        assert session is not None
        assert record is not None
        record.helo_name = session.host_name
        if session.authenticated and record.auth_user is None:
            login = getattr(session.auth_data, "login", None)
            if isinstance(login, bytes):
                record.auth_user = login.decode("utf-8", "replace")
        return record

    async def _push_lines(self, lines: Sequence[str]) -> None:
        record = self._sync_record()
        for line in lines:
            record.add("S", line)
        self._write(("\r\n".join(lines) + "\r\n").encode("utf-8") if lines else b"")
        await self._writer.drain()

    async def challenge_auth(self, *args: Any, **kwargs: Any) -> Any:
        answer = await super().challenge_auth(*args, **kwargs)
        assert self._record is not None
        self._record.add("C", "<authentication data>")
        return answer

    async def handle_exception(self, error: Exception) -> str:
        assert self._record is not None
        if not isinstance(error, TLSSetupException):
            self._core.errors.add(error)
            self._record.add("!", f"server error: {error!r}")
        else:
            self._record.add("!", "TLS handshake failed")
        return "451 4.3.0 smtpfake: internal error (raised in the test as ServerError)"

    # ---- rules ----------------------------------------------------------------------------

    async def _forever(self) -> None:
        """Wait until the connection goes (its handler task is cancelled then)."""
        await asyncio.shield(self._lost)
        raise asyncio.CancelledError

    async def _hang_up(self, why: str) -> None:
        assert self._record is not None
        self._departed = True
        if why:
            self._record.add("!", why)
        self._write()
        if self.transport is not None:
            self.transport.close()
        await self._forever()

    async def _act(self, action: Action, phase: Phase) -> bool:
        """Carry out a rule's action; True when it replaced the default behaviour."""
        assert self._record is not None
        kind = action.kind
        self._write()  # what a real server sent before stalling or breaking
        if kind == "accept":
            return False
        if kind == "delay":
            self._record.add("!", f"delay {action.seconds:g}s at {phase}")
            await asyncio.sleep(action.seconds)
            return False
        if kind == "reply":
            await self._push_lines(action.reply_lines())
            return True
        if kind == "send_raw":
            self._record.add("!", f"raw bytes at {phase}: {action.raw!r}")
            self._write(action.raw)
            await self._writer.drain()
            return True
        if kind == "hang":
            self._record.add("!", f"hanging at {phase}")
            await self._forever()
        await self._hang_up(f"disconnect at {phase}")
        return True  # pragma: no cover - _hang_up never returns

    async def _on_connect(self) -> bool:
        try:
            action = self._core.script.fire(Phase.CONNECT)
        except Exception as error:  # a rule's callable: report it, greet as usual
            await self.handle_exception(error)
            return False
        return action is not None and await self._act(action, Phase.CONNECT)


def null_is_empty(sender: str | None) -> str | None:
    """aiosmtpd keeps the null reverse-path as ``<>``; we say ``""``. Outside a transaction there
    is no sender at all: None."""
    return "" if sender == "<>" else sender

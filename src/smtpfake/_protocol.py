"""The one aiosmtpd subclass: scripted replies, hang-ups, fast DATA, LMTP per-recipient replies.

aiosmtpd owns the command loop and the command semantics; this module only adds what a fake
server needs. Each ``smtp_*`` command method aiosmtpd dispatches to is wrapped so rules fire
first; DATA is read by ``_data.read_data`` in large chunks instead of line by line.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    TLSSetupException,
)
from aiosmtpd.smtp import Session as _AioSession

from ._auth import (
    INVALID,
    XOAUTH2_ERROR,
    cram_md5_challenge,
    cram_md5_user,
    password_ok,
    xoauth2_user,
)
from ._capture import CapturedMessage, _SessionRecord
from ._data import ClientGone, read_data
from ._script import Action, Phase

if TYPE_CHECKING:
    from ._server import _ServerCore

__all__ = ["FakeLMTPProtocol", "FakeSMTPProtocol"]

_BEFORE_TLS = frozenset({Phase.EHLO, Phase.HELO, Phase.LHLO, Phase.STARTTLS, Phase.NOOP,
                         Phase.RSET, Phase.QUIT})
_STATUS_PHASES = {p.value: p for p in Phase}
# RFC 2920: replies to grouped RSET/MAIL/RCPT may be held and sent as a unit.
_BATCHED = frozenset({Phase.MAIL, Phase.RCPT, Phase.RSET})
# <local@domain> with nothing aiosmtpd's RFC 5322 parser would rewrite (quotes, routes, comments)
_SIMPLE_ADDRESS = re.compile(r'<([^<>"\\(),:;\[\]\s]*)>')


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


def _authenticate(
    server: SMTP, session: _AioSession, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """aiosmtpd authenticator for PLAIN and LOGIN: check the configured users."""
    if (
        isinstance(data, LoginPassword)
        and isinstance(server, FakeSMTPProtocol)
        and password_ok(server._cfg.users, data.login.decode("utf-8", "replace"),
                        bytes(data.password))
    ):
        return AuthResult(success=True, auth_data=data)
    return AuthResult(success=False, handled=False, message=INVALID)


class FakeSMTPProtocol(SMTP):
    """aiosmtpd's SMTP protocol with rules, capture, transcripts and fast DATA."""

    # aiosmtpd sizes its StreamReader from this; a large buffer is what makes DATA fast. Commands
    # longer than the command limit still get aiosmtpd's "500 Command line too long".
    line_length_limit = 1 << 20
    data_line_limit = 1001  # aiosmtpd's data line limit (RFC 5321 4.5.3.1.6 plus the dot)
    lmtp = False

    def __init__(self, core: _ServerCore) -> None:
        cfg = core.cfg
        excluded = [m for m in ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")
                    if m not in cfg.auth_mechanisms]
        super().__init__(
            _Handler(),
            data_size_limit=cfg.data_size_limit,
            enable_SMTPUTF8=True,
            hostname=cfg.hostname,
            ident=cfg.greeting,
            tls_context=cfg.starttls_context,
            auth_require_tls=False,
            auth_exclude_mechanism=excluded,
            authenticator=_authenticate,
            loop=core.loop,
        )
        self._core = core
        self._cfg = cfg
        self._auth_required = cfg.auth_required
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self._record: _SessionRecord | None = None
        self._greeted = False
        self._phase: Phase | None = None  # the command being dispatched
        self._held: list[bytes] = []  # replies held back for a pipelined group
        self._lost: asyncio.Future[None] = core.loop.create_future()
        self._smtp_methods = {
            name: functools.partial(self._dispatch, _STATUS_PHASES[name], method)
            if name in _STATUS_PHASES
            else method
            for name, method in self._smtp_methods.items()
        }

    # ---- typed views of aiosmtpd's state ---------------------------------------------------

    # (aiosmtpd's inspect.getmembers() reads every property while the object is half-built,
    # so these cast instead of asserting.)
    @property
    def _env(self) -> _Envelope:
        return cast(_Envelope, self.envelope)

    @property
    def _sess(self) -> _AioSession:
        return cast(_AioSession, self.session)

    @property
    def _rec(self) -> _SessionRecord:
        return cast(_SessionRecord, self._record)

    def _new_envelope(self) -> None:
        """aiosmtpd's post-DATA / RSET state: a fresh envelope."""
        self.envelope = _Envelope()

    # ---- connection lifecycle -------------------------------------------------------------

    def _create_session(self) -> _Session:
        return _Session(self.loop)

    def _create_envelope(self) -> _Envelope:
        return _Envelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._record is None
        super().connection_made(transport)
        if first:
            tls = transport.get_extra_info("ssl_object") is not None
            self._record = _SessionRecord(self._sess.peer, tls)
            self._core.connected(self, self._record)
            if self._handler_coroutine is not None:
                self._handler_coroutine.add_done_callback(self._task_done)
        else:
            assert self._record is not None
            self._record.tls = True
            self._record.helo_name = None
            self._record.add("!", "TLS established")

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if not self._lost.done():
            self._lost.set_result(None)
            self._core.disconnected(self)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A connection task ended: a dropped client is no news, anything else is a bug."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, OSError):
            self._core.errors.add(error)

    def abort(self) -> asyncio.Future[None]:
        """Drop the connection at once (server stop); the future resolves once it is gone."""
        for transport in (self.transport, self._original_transport):
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        return self._lost

    def force_lost(self) -> None:
        """Finish a connection asyncio's TLS layer never reported lost (aborted mid-handshake)."""
        if not self._lost.done():
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
        text = status if isinstance(status, str) else status.decode("utf-8", "replace")
        self._sync_record()
        self._rec.add("S", text)
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

    def _sync_record(self) -> None:
        """Copy the greeting name and login into the session record before the client hears."""
        session, record = self._sess, self._rec
        record.helo_name = session.host_name
        if session.authenticated and record.auth_user is None:
            login = getattr(session.auth_data, "login", None)
            if isinstance(login, bytes):
                record.auth_user = login.decode("utf-8", "replace")

    async def _push_lines(self, lines: Sequence[str]) -> None:
        assert self._record is not None
        self._sync_record()
        for line in lines:
            self._record.add("S", line)
        self._write("".join(line + "\r\n" for line in lines).encode("utf-8"))
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

    def _address(self, arg: str | None, keyword: str) -> tuple[str | None, list[str]]:
        """The address and parameters of MAIL/RCPT, parsed as aiosmtpd does (fast when simple)."""
        if not arg:
            return None, []
        stripped = self._strip_command_keyword(keyword, arg)
        if stripped is None:
            return None, []
        simple = _SIMPLE_ADDRESS.match(stripped)
        if simple:
            return simple[1], stripped[simple.end():].upper().split()
        address, rest = self._getaddr(stripped)
        return address, (rest or "").upper().split()

    async def _dispatch(
        self, phase: Phase, method: Callable[[str | None], Awaitable[None]], arg: str | None
    ) -> None:
        self._phase = phase
        try:
            await self._dispatch_phase(phase, method, arg)
        finally:
            self._phase = None

    async def _dispatch_phase(
        self, phase: Phase, method: Callable[[str | None], Awaitable[None]], arg: str | None
    ) -> None:
        record = self._record
        assert record is not None
        record.add("C", _show(phase, arg))
        env = self._env
        if self._core.script.has(phase):
            address: str | None = None
            options: list[str] = []
            match_arg = arg
            recipients: Sequence[str] = env.rcpt_tos
            sender: str | None = _null_is_empty(env.mail_from)
            if phase is Phase.MAIL:
                address, options = self._address(arg, "FROM:")
                match_arg = sender = address
            elif phase is Phase.RCPT:
                address, options = self._address(arg, "TO:")
                match_arg = address
                recipients = (address,) if address else ()
            elif phase is Phase.AUTH:
                match_arg = (arg or "").split(" ")[0].upper()
            action = self._core.script.fire(phase, match_arg, recipients, sender)
            if action is not None and await self._scripted(phase, action, arg, address, options):
                return
        if self._cfg.tls_required and phase not in _BEFORE_TLS and not self._tls_now():
            await self.push("530 5.7.0 Must issue a STARTTLS command first")
            return
        if phase is Phase.AUTH and self._cfg.auth_require_tls and not self._tls_now():
            await self.push("538 5.7.11 Encryption required for requested authentication mechanism")
            return
        if phase is Phase.MAIL and self._too_big(arg):
            await self.push("552 5.3.4 Message size exceeds fixed maximum message size")
            return
        before = len(env.rcpt_tos), len(env.rcpt_options)
        await method(arg)
        if phase is Phase.RCPT and len(env.rcpt_tos) > before[0]:
            env.per_rcpt_options.append(tuple(env.rcpt_options[before[1]:]))

    def _too_big(self, arg: str | None) -> bool:
        limit = self._cfg.size_limit
        if not limit or not arg:
            return False
        for param in arg.upper().split()[1:]:
            key, _, value = param.partition("=")
            if key == "SIZE" and value.isdigit():
                return int(value) > limit
        return False

    async def _scripted(
        self, phase: Phase, action: Action, arg: str | None, address: str | None,
        options: list[str],
    ) -> bool:
        """Run a command's rule; True when the command is fully handled."""
        if phase is Phase.DATA and action.kind == "disconnect" and action.after_data:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._read_data()
            await self._hang_up("disconnect after the message data")
        if phase is Phase.DATA and action.kind == "reply" and 300 <= action.code < 400:
            await self._push_lines(action.reply_lines())
            await self._receive_data()
            return True
        if not await self._act(action, phase):
            return False
        if action.kind == "reply" and 200 <= action.code < 300:
            self._apply_success(phase, arg, address, options)
        if phase is Phase.QUIT and self.transport is not None:
            self.transport.close()
        return True

    def _apply_success(
        self, phase: Phase, arg: str | None, address: str | None, options: list[str]
    ) -> None:
        """A scripted 2xx reply still does what the command does (a sender, a recipient...)."""
        env, session = self._env, self._sess
        assert self._record is not None
        if phase is Phase.MAIL and address is not None:
            env.mail_from = address or "<>"  # aiosmtpd's spelling of the null sender
            env.mail_options.extend(options)
        elif phase is Phase.RCPT and address:
            env.rcpt_tos.append(address)
            env.rcpt_options.extend(options)
            env.per_rcpt_options.append(tuple(options))
        elif phase in (Phase.HELO, Phase.EHLO, Phase.LHLO) and arg:
            self._new_envelope()
            session.host_name = self._record.helo_name = arg
            session.extended_smtp = phase is not Phase.HELO
        elif phase is Phase.AUTH:
            session.authenticated = True

    # ---- EHLO / LHLO ----------------------------------------------------------------------

    def _features(self) -> list[str]:
        cfg = self._cfg
        features = [f"SIZE {cfg.size_limit}"] if cfg.size_limit else []
        features += ["8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "DSN"]
        tls_now = self._tls_now()
        if cfg.starttls_context is not None and not tls_now:
            features.append("STARTTLS")
        if cfg.users and cfg.auth_mechanisms and (tls_now or not cfg.auth_require_tls):
            features.append("AUTH " + " ".join(cfg.auth_mechanisms))
        return [f for f in features if f.split(" ")[0] not in cfg.hide]

    async def _ehlo(self, hostname: str | None, verb: str) -> None:
        if not hostname:
            await self.push(f"501 5.5.4 Syntax: {verb} hostname")
            return
        self._new_envelope()
        self._sess.extended_smtp = True
        self._sess.host_name = hostname
        self.command_size_limits["MAIL"] = self.command_size_limits["RCPT"] = 1024
        lines = [self.hostname, *self._features()]
        last = len(lines) - 1
        await self._push_lines(
            [f"250{' ' if i == last else '-'}{line}" for i, line in enumerate(lines)]
        )

    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not self._cfg.esmtp:
            await self.push("502 5.5.1 EHLO not supported, use HELO")
            return
        await self._ehlo(hostname, "EHLO")

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        # DSN (RFC 3461) parameters are advertised, so accept them; aiosmtpd refuses unknown ones.
        result: dict[str, str | bool] | None = super()._getparams(params)
        if result is not None:
            for key in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                result.pop(key, None)
        return result

    # ---- AUTH mechanisms aiosmtpd lacks ---------------------------------------------------

    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) > 1:
            await self.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = cram_md5_challenge(self.hostname)
        answer = await self.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        user = cram_md5_user(self._cfg.users, challenge, bytes(answer))
        if user is None:
            return AuthResult(success=False, handled=False, message=INVALID)
        return AuthResult(success=True, auth_data=LoginPassword(user.encode("utf-8"), b""))

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            answer = await self.challenge_auth(b"")
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            blob = bytes(answer)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        user = xoauth2_user(self._cfg.users, blob)
        if user is not None:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode("utf-8"), b""))
        # Like Gmail: a 334 with a JSON error, the client answers with an empty line, then 535.
        if await self.challenge_auth(XOAUTH2_ERROR) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=INVALID)

    # ---- DATA -------------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        if not self._env.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._receive_data()

    async def _receive_data(self) -> None:
        content, problem = await self._read_data()
        if problem is not None:
            self._new_envelope()
            await self.push(problem)
            return
        await self._end_of_data(content)

    async def _read_data(self) -> tuple[bytes, str | None]:
        try:
            return await read_data(self._reader, self._cfg.data_size_limit, self.data_line_limit)
        except ClientGone as gone:
            await self._hang_up(str(gone))
            raise  # pragma: no cover - _hang_up never returns

    async def _end_of_data(self, content: bytes) -> None:
        env = self._env
        if self.lmtp:
            await self._lmtp_end_of_data(content)
            return
        action = self._core.script.fire(
            Phase.END_OF_DATA, None, env.rcpt_tos, _null_is_empty(env.mail_from)
        )
        if action is not None and action.kind == "reply":
            if 200 <= action.code < 300:
                self._capture(content, tuple(env.rcpt_tos))
            self._new_envelope()
            await self._push_lines(action.reply_lines())
            return
        if action is not None and action.kind == "delay":
            await self._act(action, Phase.END_OF_DATA)
        elif action is not None and action.kind != "accept":
            self._new_envelope()
            await self._act(action, Phase.END_OF_DATA)  # raw bytes, a hang-up or a hang
            return
        queue_id = self._capture(content, tuple(env.rcpt_tos))
        self._new_envelope()
        await self.push(f"250 2.0.0 OK: queued as {queue_id}")

    async def _lmtp_end_of_data(self, content: bytes) -> None:
        env = self._env
        replies: list[str] = []
        accepted: list[str] = []
        final: Action | None = None
        for rcpt in env.rcpt_tos:
            action = self._core.script.fire(
                Phase.END_OF_DATA, rcpt, (rcpt,), _null_is_empty(env.mail_from)
            )
            if action is None or action.kind == "accept":
                accepted.append(rcpt)
                replies.append(f"250 2.1.5 <{rcpt}> OK")
            elif action.kind == "delay":
                await self._act(action, Phase.END_OF_DATA)
                accepted.append(rcpt)
                replies.append(f"250 2.1.5 <{rcpt}> OK")
            elif action.kind == "reply":
                if 200 <= action.code < 300:
                    accepted.append(rcpt)
                replies.extend(action.reply_lines())
            else:
                final = action
                break
        if accepted:
            self._capture(content, tuple(accepted))
        self._new_envelope()
        if replies:
            await self._push_lines(replies)
        if final is not None:
            await self._act(final, Phase.END_OF_DATA)

    def _capture(self, content: bytes, accepted_for: tuple[str, ...]) -> str:
        env = self._env
        assert self._record is not None
        message = CapturedMessage(
            mail_from=_null_is_empty(env.mail_from),
            rcpt_tos=tuple(env.rcpt_tos),
            mail_options=tuple(env.mail_options),
            rcpt_options=tuple(env.per_rcpt_options),
            raw=content,
            accepted_for=accepted_for,
            _record=self._record,
            _upto=len(self._record.lines),
        )
        return self._core.captured(message)


class FakeLMTPProtocol(FakeSMTPProtocol, LMTP):
    """The same, speaking LMTP: LHLO instead of HELO/EHLO, one reply per recipient after DATA."""

    lmtp = True
    async def smtp_HELO(self, hostname: str | None) -> None:
        await LMTP.smtp_HELO(self, hostname or "")

    async def smtp_EHLO(self, hostname: str | None) -> None:
        await LMTP.smtp_EHLO(self, hostname or "")

    async def smtp_LHLO(self, hostname: str | None) -> None:
        await self._ehlo(hostname, "LHLO")


def _null_is_empty(sender: str | None) -> str:
    """aiosmtpd keeps the null reverse-path as ``<>``; we say ``""``."""
    return "" if sender is None or sender == "<>" else sender


def _show(phase: Phase, arg: str | None) -> str:
    if phase is Phase.AUTH and arg and " " in arg:
        return f"AUTH {arg.split(' ')[0]} <credentials>"
    return f"{phase.value} {arg}" if arg else phase.value



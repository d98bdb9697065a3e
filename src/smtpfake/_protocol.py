"""The protocol servers use: every command dispatched through the rules first.

aiosmtpd owns the command loop and the command semantics; each ``smtp_*`` method it dispatches
to is wrapped so the rules fire first and the server's policy (TLS or AUTH required, SIZE) is
applied; then aiosmtpd's method runs. Also here: the EHLO/LHLO feature list and the AUTH
mechanisms aiosmtpd lacks (CRAM-MD5, XOAUTH2).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

from ._auth import INVALID, XOAUTH2_ERROR, cram_md5_challenge, cram_md5_user, xoauth2_user
from ._connection import null_is_empty
from ._delivery import DeliveryProtocol
from ._script import Action, Phase

__all__ = ["FakeLMTPProtocol", "FakeSMTPProtocol"]

_BEFORE_TLS = frozenset({Phase.EHLO, Phase.HELO, Phase.LHLO, Phase.STARTTLS, Phase.NOOP,
                         Phase.RSET, Phase.QUIT})
_STATUS_PHASES = {p.value: p for p in Phase}


class FakeSMTPProtocol(DeliveryProtocol):
    """aiosmtpd's SMTP protocol with rules, capture, transcripts and fast DATA."""

    def _command(self, name: str, method: Any) -> Any:
        """Each command with a phase goes through the rules first (``_dispatch``)."""
        phase = _STATUS_PHASES.get(name)
        return method if phase is None else functools.partial(self._dispatch, phase, method)

    # ---- rules ---------------------------------------------------------------------------

    def _address(self, arg: str | None, keyword: str) -> tuple[str | None, list[str]]:
        """The address and parameters of MAIL/RCPT, parsed as aiosmtpd does (fast when simple)."""
        if not arg:
            return None, []
        stripped = self._strip_command_keyword(keyword, arg)
        if stripped is None:
            return None, []
        address, rest = self._getaddr(stripped)
        if address == "<>":  # aiosmtpd's spelling of the null reverse-path
            address = ""
        return address, (rest or "").upper().split()

    async def _dispatch(
        self, phase: Phase, method: Callable[[str | None], Awaitable[None]], arg: str | None
    ) -> None:
        self._phase = phase
        self._line = b""
        if phase is Phase.QUIT:
            self._departed = True  # whatever happens next, the client said goodbye
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
        self._flush_notes()
        env = self._env
        if self._core.script.has(phase):
            address: str | None = None
            options: list[str] = []
            match_arg = arg
            recipients: Sequence[str] = env.rcpt_tos
            sender: str | None = null_is_empty(env.mail_from)
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
        if phase is Phase.STARTTLS and action.kind == "reply" and 200 <= action.code < 300:
            await self._start_tls(action.reply_lines())
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
        """A scripted 2xx reply still does what the command does (a sender, a recipient, a
        reset...; STARTTLS: ``_start_tls``)."""
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
        elif phase is Phase.RSET:
            self._new_envelope()

    # ---- STARTTLS -------------------------------------------------------------------------

    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if self._tls_now():  # a second TLS layer would break asyncio's; Postfix says the same
            await self.push("554 5.5.1 Error: TLS already active")
            return
        await super().smtp_STARTTLS(arg or "")

    async def _start_tls(self, reply: list[str]) -> None:
        """A scripted 2xx to STARTTLS: answer with it instead of aiosmtpd's 220, then start TLS
        as aiosmtpd does (a reply that promised TLS and never started it would lie)."""
        why = ("it is in TLS already" if self._tls_now()
               else "the server has no STARTTLS (tls='starttls')" if self.tls_context is None
               else None)
        if why is not None:
            raise RuntimeError(
                f"a scripted {reply[0][:3]} reply to STARTTLS starts TLS, and this connection "
                f"cannot: {why}; to answer without starting TLS, script .send_raw(b'220 ...\\r\\n')"
            )
        self._go_ahead = reply
        await SMTP.smtp_STARTTLS(self, "")

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


class FakeLMTPProtocol(FakeSMTPProtocol, LMTP):
    """The same, speaking LMTP: LHLO instead of HELO/EHLO, one reply per recipient after DATA."""

    lmtp = True
    async def smtp_HELO(self, hostname: str | None) -> None:
        await LMTP.smtp_HELO(self, hostname or "")

    async def smtp_EHLO(self, hostname: str | None) -> None:
        await LMTP.smtp_EHLO(self, hostname or "")

    async def smtp_LHLO(self, hostname: str | None) -> None:
        await self._ehlo(hostname, "LHLO")


def _show(phase: Phase, arg: str | None) -> str:
    if phase is Phase.AUTH and arg and " " in arg:
        return f"AUTH {arg.split(' ')[0]} <credentials>"
    return f"{phase.value} {arg}" if arg else phase.value

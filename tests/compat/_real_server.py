"""A real aiosmtpd server on its own event-loop thread (``tests._support.LoopThread``), port 0.

It has the scripted peer's shape (``host``, ``port``, ``reset()``, ``wait_idle()``,
``received``), so the same comparison harness drives it; ``received`` here is the list of
messages the handler accepted (envelope, options, raw content, session facts), in order.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests._support import LoopThread

__all__ = ["RealServer"]


class _Recorder:
    """The aiosmtpd handler: keep every accepted message; refuse recipients named nobody@."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(
            {
                "helo": session.host_name,
                "tls": session.ssl is not None,
                "login": getattr(session.auth_data, "login", None),
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "rcpt_options": list(envelope.rcpt_options),
                "content": envelope.original_content,
            }
        )
        return "250 2.0.0 Ok: queued as 4711"


class RealServer:
    """aiosmtpd's SMTP (or LMTP) with optional STARTTLS, implicit TLS and AUTH users."""

    def __init__(
        self,
        *,
        lmtp: bool = False,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        unix_path: str | None = None,
    ) -> None:
        self._lmtp = lmtp
        self._starttls = starttls
        self._users = users
        self._handler = _Recorder()
        self._cond = threading.Condition()
        self._protocols: set[SMTP] = set()
        self._loop_thread = LoopThread("aiosmtpd")
        self.loop = self._loop_thread.loop
        try:
            self._server = self._loop_thread.listen(
                self._protocol, implicit_tls=implicit_tls, path=unix_path
            )
        except BaseException:
            self._loop_thread.stop()
            raise
        if unix_path is None:
            self.host, self.port = self._server.sockets[0].getsockname()[:2]
        else:
            self.host, self.port = unix_path, 0

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self._users is not None
            and self._users.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data)

    def _protocol(self) -> SMTP:
        owner = self
        base = LMTP if self._lmtp else SMTP

        class Counted(base):  # type: ignore[misc, valid-type]
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                with owner._cond:  # called again after STARTTLS: a set counts it once
                    owner._protocols.add(self)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                with owner._cond:
                    owner._protocols.discard(self)
                    owner._cond.notify_all()

        return Counted(
            self._handler,
            hostname="aiosmtpd.test",
            ident="aiosmtpd-under-test",
            tls_context=self._starttls,
            enable_SMTPUTF8=True,
            authenticator=self._authenticate if self._users else None,
            auth_require_tls=False,
            loop=self.loop,
        )

    @property
    def received(self) -> list[dict[str, Any]]:
        return self._handler.messages

    def reset(self) -> None:
        self._handler.messages = []

    def wait_idle(self, timeout: float = 5.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: not self._protocols, timeout):
                raise TimeoutError("aiosmtpd server still has open connections")

    def close(self) -> None:
        with self._cond:
            open_transports = [p.transport for p in self._protocols if p.transport is not None]
        try:
            self._loop_thread.close(self._server, open_transports)
        finally:
            self._loop_thread.stop()

    def __enter__(self) -> RealServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

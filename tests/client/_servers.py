"""Real servers for the client tests (helpers; fixtures are in conftest.py).

One asyncio loop (``tests._support.LoopThread``) runs in a thread for the session and each test
starts its aiosmtpd listeners on it, on port 0 (or a unix socket). The
scripted server is a plain socket thread playing a fixed conversation, for what a correct server
never does: hang up mid-phase, never answer, send malformed replies.
"""

from __future__ import annotations

import base64
import hmac
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.lmtp import LMTP as AioLMTP
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from aiosmtpd.smtp import SMTP as AioSMTP

USERS = {"alice": "wonderland", "bob": "builder"}
TOKENS = {"alice": "ya29.token"}
CRAM_CHALLENGE = b"<1896.697170952@postoffice.example>"
TIMEOUT = 5.0


@dataclass
class Received:
    """One message as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    smtp_utf8: bool
    authenticated: bool
    peer: tuple[str, int]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    if isinstance(data, LoginPassword):
        user, password = data.login.decode(), data.password.decode()
        return AuthResult(success=USERS.get(user) == password, handled=False)
    return AuthResult(success=bool(data), handled=False)


class _AuthMixin:
    """CRAM-MD5 and XOAUTH2 for aiosmtpd (it ships PLAIN and LOGIN)."""

    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        response = await self.challenge_auth(CRAM_CHALLENGE)  # type: ignore[attr-defined]
        if response is MISSING:
            return AuthResult(success=False, handled=False)
        user, _, digest = response.decode().rpartition(" ")
        key = USERS.get(user, "").encode()
        expected = hmac.new(key, CRAM_CHALLENGE, "md5").hexdigest()
        ok = user in USERS and hmac.compare_digest(digest, expected)
        return AuthResult(success=ok, handled=False)

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await self.challenge_auth("")  # type: ignore[attr-defined]
            if blob is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            blob = base64.b64decode(args[1])
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if TOKENS.get(user) == token:
            return AuthResult(success=True, handled=False)
        # The XOAUTH2 failure dance: a JSON error as a challenge, an empty answer, then 535.
        await self.challenge_auth(b'{"status":"401"}')  # type: ignore[attr-defined]
        return AuthResult(success=False, handled=False)


class RecordingHandler:
    """Captures messages; refuses listed recipients at RCPT or (LMTP) after the data."""

    def __init__(
        self,
        refuse: Iterable[str] = (),
        refuse_after_data: Iterable[str] = (),
        data_reply: str = "250 2.0.0 Ok: queued as 4F2A9C",
    ) -> None:
        self.refuse = set(refuse)
        self.refuse_after_data = set(refuse_after_data)
        self.data_reply = data_reply
        self.messages: list[Received] = []
        self.lmtp = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                list(envelope.mail_options),
                envelope.smtp_utf8,
                bool(session.authenticated),
                tuple(session.peer) if isinstance(session.peer, tuple) else ("", 0),
            )
        )
        if not self.lmtp:
            return self.data_reply
        return "\r\n".join(
            "550 5.2.2 Mailbox full" if rcpt in self.refuse_after_data else f"250 2.0.0 {rcpt} OK"
            for rcpt in envelope.rcpt_tos
        )


class _SMTPServer(_AuthMixin, AioSMTP):
    pass


class _LMTPServer(_AuthMixin, AioLMTP):
    pass


@dataclass
class Server:
    """A running aiosmtpd listener."""

    handler: RecordingHandler
    host: str
    port: int
    path: str | None = None
    _server: Any = field(default=None, repr=False)


# -- the scripted raw server ---------------------------------------------------------------

HANGUP = object()
"""Action: close the connection."""
SILENT = object()
"""Action: answer nothing, keep the connection open until the client closes it."""
DATA_END = b"."
"""Expectation: read message data up to the line ``.``."""


class ScriptedServer:
    """Plays ``steps`` ``(expect, action)`` with one client, on a thread.

    ``expect`` is None (read nothing), a command prefix to read (case-insensitive) or
    :data:`DATA_END`; ``action`` is bytes to send, :data:`HANGUP` or :data:`SILENT`.
    """

    def __init__(self, steps: list[tuple[bytes | None, Any]]) -> None:
        self.steps = steps
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.errors: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="scripted-smtp")
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            self.errors.append(f"accept: {exc}")
            return
        conn.settimeout(TIMEOUT)
        try:
            with conn, conn.makefile("rb") as reader:
                self._play(conn, reader)
        except OSError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def _play(self, conn: socket.socket, reader: Any) -> None:
        for expect, action in self.steps:
            if expect == DATA_END:
                while (line := reader.readline()) not in (b".\r\n", b""):
                    self.received.append(line)
            elif expect is not None:
                line = reader.readline()
                self.received.append(line)
                if not line.upper().startswith(expect.upper()):
                    self.errors.append(f"expected {expect!r}, got {line!r}")
                    return
            if action is HANGUP:
                return
            if action is SILENT:
                reader.read()  # until the client closes
                return
            conn.sendall(action)
        # The script is over: answer QUIT, or wait for the client to close.
        while line := reader.readline():
            self.received.append(line)
            if line.upper().startswith(b"QUIT"):
                conn.sendall(b"221 bye\r\n")
                return
            conn.sendall(b"502 not in the script\r\n")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)


StartServer = Callable[..., Server]

"""FakeSMTPServer and FakeLMTPServer: options, start/stop, scripting, capture and assertions."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

from ._capture import CapturedMessage, Outbox, Session, _SessionRecord
from ._errors import _ErrorStore
from ._lifecycle import (
    LOOP,
    STOP_TIMEOUT,
    Config,
    ServerCore,
    bind,
    close,
    remove_socket_file,
    serve,
)
from ._loop import start_now
from ._protocol import FakeLMTPProtocol, FakeSMTPProtocol
from ._script import Matcher, Phase, Rule, RuleBuilder, Script
from ._tls import CertificateAuthority

__all__ = ["FakeLMTPServer", "FakeSMTPServer"]

TLS_MODES = ("none", "starttls", "implicit")
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")
EXTENSIONS = ("SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "DSN",
              "STARTTLS", "AUTH")
_HARD_DATA_LIMIT = 2**25  # aiosmtpd's default; bounds memory when no size_limit is advertised


class _BaseServer:
    """What both servers share; see ``docs/smtpfake.md`` for the contract."""

    _protocol_class: type[FakeSMTPProtocol] = FakeSMTPProtocol
    _default_greeting = "ESMTP smtpfake"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str | os.PathLike[str] | None = None,
        tls: str = "none",
        tls_required: bool = False,
        ca: CertificateAuthority | None = None,
        users: Mapping[str, str] | None = None,
        auth_mechanisms: Iterable[str] = AUTH_MECHANISMS,
        auth_required: bool = False,
        auth_require_tls: bool = False,
        size_limit: int | None = None,
        hide: Iterable[str] = (),
        esmtp: bool = True,
        hostname: str = "smtpfake.test",
        greeting: str | None = None,
        store: Callable[[CapturedMessage], None] | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {tls!r}")
        if tls_required and tls != "starttls":
            raise ValueError('tls_required only applies to tls="starttls"')
        mechanisms = tuple(m.upper() for m in auth_mechanisms)
        unknown = [m for m in mechanisms if m not in AUTH_MECHANISMS]
        if unknown:
            raise ValueError(f"unknown AUTH mechanism(s) {unknown}; known: {AUTH_MECHANISMS}")
        hidden = frozenset(h.upper() for h in hide)
        if hidden - set(EXTENSIONS):
            raise ValueError(f"cannot hide {sorted(hidden - set(EXTENSIONS))}; "
                             f"known extensions: {EXTENSIONS}")
        if size_limit is not None and (not isinstance(size_limit, int) or size_limit <= 0):
            raise ValueError("size_limit must be a positive int or None")
        if users is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()
        ):
            raise TypeError("users maps user names (str) to passwords (str)")
        if auth_required and not users:
            raise ValueError("auth_required needs users")
        if store is not None and not callable(store):
            raise TypeError("store must be a callable taking a CapturedMessage, or None")
        if any(c in hostname for c in " \r\n") or not hostname:
            raise ValueError(f"invalid hostname {hostname!r}")
        if greeting is not None and any(c in greeting for c in "\r\n"):
            raise ValueError(f"the greeting must not contain CR or LF: {greeting!r}")
        self._host = host
        self._port = port
        self._path = os.fspath(path) if path is not None else None
        self._ca = ca
        self._tls = tls
        self._cfg = Config(
            hostname=hostname, greeting=greeting or self._default_greeting, tls=tls,
            tls_required=tls_required, starttls_context=None, users=dict(users or {}),
            auth_mechanisms=mechanisms, auth_required=auth_required,
            auth_require_tls=auth_require_tls, size_limit=size_limit,
            data_size_limit=size_limit or _HARD_DATA_LIMIT, hide=hidden, esmtp=esmtp,
            store=store,
        )
        self._script = Script()
        self.outbox = Outbox()
        self._errors = _ErrorStore(self.outbox._notify)
        self._sessions_lock = threading.Lock()
        self._sessions: list[_SessionRecord] = []
        self._core: ServerCore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen; ``port`` is known on return. No probe, no name lookup: well under 1 ms.

        The socket is bound and listening before this returns, so a client may connect at once
        (the kernel queues it until the loop thread, told without waiting, starts accepting).
        """
        if self._core is not None:
            raise RuntimeError("server already started")
        tls = self._tls
        server_ctx = self.ca.server_context() if tls != "none" else None
        cfg = self._cfg
        if tls == "starttls":
            cfg = dataclasses.replace(cfg, starttls_context=server_ctx)
        sock = bind(self._host, self._port, self._path)
        core = ServerCore(cfg, self._script, self.outbox, self._errors, self._add_session, sock)
        implicit = server_ctx if tls == "implicit" else None

        def begin(loop: asyncio.AbstractEventLoop) -> None:  # on the loop thread
            core.loop = loop
            core.serving = start_now(loop, serve(core, sock, self._protocol_class, implicit))

        try:
            loop = LOOP.acquire(begin)
        except BaseException:
            sock.close()
            raise
        self._core, self._loop = core, loop
        if self._path is None:
            self._host, self._port = sock.getsockname()[:2]

    def stop(self) -> None:
        """Close the listener and every connection, then re-raise any server-thread error.

        Not from a rule's callable: that runs on the servers' own thread, which stopping needs.
        """
        core, loop = self._core, self._loop
        if core is None or loop is None:
            self._errors.raise_pending()
            return
        LOOP.refuse_own_thread("stop()")
        self._core = self._loop = None
        try:
            LOOP.release(lambda: close(core), timeout=STOP_TIMEOUT * 2)
        finally:
            if self._path is not None:
                remove_socket_file(core, self._path)
        self._errors.raise_pending()

    def __enter__(self) -> _BaseServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
            return
        with contextlib.suppress(Exception):  # the test's own failure matters more
            self.stop()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._core is not None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self._port)

    @property
    def path(self) -> str | None:
        """The unix socket path (LMTP over a unix socket), or None."""
        return self._path

    @property
    def ca(self) -> CertificateAuthority:
        """The CertificateAuthority in use (the process-wide one unless given)."""
        if self._ca is None:
            self._ca = CertificateAuthority.shared()
        return self._ca

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting ``ca`` that verifies host names."""
        return self.ca.client_context()

    def reset(self, *, drop_connections: bool = False) -> None:
        """Forget captured mail, sessions, rules and pending errors; keep listening.

        Open connections stay open unless ``drop_connections``: then every connection still
        open for mail (no QUIT yet, such as a client an earlier test left behind, including
        one the server had not picked up yet) is hung up on first, so nothing it sends later
        can land in the fresh outbox. Not from a rule's callable: that runs on the server's
        own thread, which the hang-up needs.
        """
        core = self._core
        try:
            if drop_connections and core is not None and core.may_hold_clients():
                LOOP.call("reset(drop_connections=True)",
                          lambda: core.drop_open_clients("the server was reset"),
                          STOP_TIMEOUT * 2)
        finally:
            self.outbox._clear()
            self._script.clear()
            self._errors.clear()
            with self._sessions_lock:
                self._sessions.clear()

    def __repr__(self) -> str:
        where = self._path or f"{self._host}:{self._port}"
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {where} {state}, {len(self.outbox)} message(s)>"

    # ---- scripting ------------------------------------------------------------------------

    def on(
        self,
        phase: Phase | str,
        arg: Matcher | None = None,
        *,
        to: Matcher | None = None,
        sender: Matcher | None = None,
        times: int | None = None,
    ) -> RuleBuilder:
        """Start a rule for ``phase``; finish it with ``.reply()``, ``.disconnect()``, ..."""
        try:
            the_phase = Phase(str(phase).upper())
        except ValueError:
            raise ValueError(
                f"unknown phase {phase!r}; one of {[p.value for p in Phase]}"
            ) from None
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive int or None")
        return RuleBuilder(self, the_phase, arg, to, sender, times)

    @property
    def rules(self) -> list[Rule]:
        """The rules in the order they were added."""
        return self._script.rules

    def refuse_recipient(
        self, address: Matcher, code: int = 550, text: str = "5.1.1 No such user",
        *, times: int | None = None,
    ) -> Rule:
        """Refuse RCPT TO for ``address``."""
        return self.on(Phase.RCPT, to=address, times=times).reply(code, text)

    def fail_auth(
        self, code: int = 535, text: str = "5.7.8 Authentication credentials invalid",
        *, times: int | None = None,
    ) -> Rule:
        """Answer AUTH with a failure (535; use 454 "4.7.0 ..." for a temporary one)."""
        return self.on(Phase.AUTH, times=times).reply(code, text)

    def disconnect_at(
        self, phase: Phase | str, *, after_data: bool = False, times: int | None = None
    ) -> Rule:
        """Hang up without replying at ``phase``."""
        return self.on(phase, times=times).disconnect(after_data=after_data)

    def tempfail(
        self, phase: Phase | str, times: int | None = 1, code: int = 451,
        text: str = "4.3.0 Temporary failure, try again later",
    ) -> Rule:
        """Answer ``phase`` with a temporary failure ``times`` times, then behave normally."""
        return self.on(phase, times=times).reply(code, text)

    # ---- capture and assertions -----------------------------------------------------------

    def _add_session(self, record: _SessionRecord) -> None:
        with self._sessions_lock:
            self._sessions.append(record)

    @property
    def sessions(self) -> list[Session]:
        """Every connection so far, in order, each a snapshot taken now: a connection still open
        goes on, so read this again to see what happened since."""
        with self._sessions_lock:
            records = list(self._sessions)
        return [r.snapshot() for r in records]

    def check(self) -> None:
        """Re-raise a pending server-thread error as ServerError."""
        self._errors.raise_pending()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CapturedMessage]:
        """Wait until ``count`` messages were captured; raise TimeoutError after ``timeout``."""
        reached = self.outbox._wait(count, timeout, self._errors.pending)
        self.check()
        if not reached:
            raise TimeoutError(
                f"waited {timeout}s for {count} message(s); {self.outbox.describe(last=5)}"
            )
        return list(self.outbox)

    def assert_sent(
        self,
        count: int | None = None,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        body_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[CapturedMessage]:
        """Assert that ``count`` (default: at least one) captured messages match; return them."""
        self.check()
        found = self.outbox.find(
            to=to, sender=sender, subject=subject, body_contains=body_contains, headers=headers
        )
        if (count is None and found) or len(found) == count:
            return found
        criteria = {
            k: v
            for k, v in {"to": to, "sender": sender, "subject": subject,
                         "body_contains": body_contains, "headers": headers}.items()
            if v is not None
        }
        wanted = "at least 1" if count is None else str(count)
        which = f" matching {criteria}" if criteria else ""
        raise AssertionError(
            f"expected {wanted} message(s){which}, found {len(found)}; {self.outbox.describe()}"
        )

    def assert_nothing_sent(self) -> None:
        """Assert that no message was captured."""
        self.check()
        if len(self.outbox):
            raise AssertionError(f"expected no message; {self.outbox.describe()}")


class FakeSMTPServer(_BaseServer):
    """A scriptable fake SMTP server on 127.0.0.1 and an ephemeral port.

    >>> with FakeSMTPServer() as server:
    ...     server.refuse_recipient("bob@example.com")
    """

    def __enter__(self) -> FakeSMTPServer:
        self.start()
        return self


class FakeLMTPServer(_BaseServer):
    """The same, speaking LMTP (RFC 2033) over TCP or a unix socket (``path=``)."""

    _protocol_class = FakeLMTPProtocol
    _default_greeting = "LMTP smtpfake"

    def __enter__(self) -> FakeLMTPServer:
        self.start()
        return self



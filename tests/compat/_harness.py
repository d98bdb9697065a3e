"""Run one conversation with smtplib, then with smtpclient, and compare what was observable.

An :class:`Outcome` holds everything a caller of smtplib can observe: the conversation's return
value, the exception it raised (type name, args, SMTP attributes, and whether it is an instance
of smtplib's class of that name), the public attributes of each client afterwards, the exact
units each connection sent to the peer, and (optionally) the debug output.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol


class Peer(Protocol):
    """What the harness needs of a server: the scripted peer and the aiosmtpd one both fit."""

    host: str
    port: int

    @property
    def received(self) -> list[Any]: ...

    def reset(self) -> None: ...

    def wait_idle(self, timeout: float = ...) -> None: ...


# Public instance attributes an smtplib user reads after (or during) a conversation.
ATTRIBUTES = (
    "helo_resp",
    "ehlo_resp",
    "does_esmtp",
    "esmtp_features",
    "ehlo_msg",
    "default_port",
    "local_hostname",
    "timeout",
    "source_address",
    "command_encoding",
    "debuglevel",
)
MISSING = "<missing attribute>"
# Errors a conversation may legitimately end with; anything else is a bug in the test itself.
EXPECTED_ERRORS = (smtplib.SMTPException, OSError, ValueError, UnicodeError)
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d(\.\d+)? ", re.MULTILINE)


@dataclass
class ErrorInfo:
    type: str
    args: tuple[Any, ...]
    attrs: dict[str, Any]
    is_smtplib_class: bool


@dataclass
class Outcome:
    value: Any = None
    error: ErrorInfo | None = None
    clients: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)
    debug: str | None = None


def describe_error(exc: BaseException) -> ErrorInfo:
    """What a caller can see of an exception, in a form two modules can be compared by."""
    attrs = {
        name: getattr(exc, name)
        for name in ("smtp_code", "smtp_error", "recipients", "sender")
        if hasattr(exc, name)
    }
    # OSError's fields, when set (they are None on every SMTPException).
    attrs.update(
        {name: getattr(exc, name) for name in ("errno", "strerror") if getattr(exc, name, None)}
    )
    stdlib_cls = getattr(smtplib, type(exc).__name__, None)
    if isinstance(stdlib_cls, type) and issubclass(stdlib_cls, BaseException):
        is_stdlib = isinstance(exc, stdlib_cls)
    else:
        is_stdlib = isinstance(exc, (OSError, ValueError))  # builtin types are shared
    return ErrorInfo(type(exc).__name__, exc.args, attrs, is_stdlib)


def snapshot(client: Any) -> dict[str, Any]:
    state = {name: getattr(client, name, MISSING) for name in ATTRIBUTES}
    state["sock is None"] = getattr(client, "sock", MISSING) is None
    return state


class Conversation:
    """What a conversation function gets: the module under test and the peer's address."""

    def __init__(self, mod: ModuleType, peer: Peer) -> None:
        self.mod = mod
        self.host = peer.host
        self.port = peer.port
        self.clients: list[Any] = []

    def track(self, client: Any) -> Any:
        self.clients.append(client)
        return client

    def smtp(self, *, cls: str = "SMTP", connect: bool = True, **kwargs: Any) -> Any:
        """A client of ``cls`` connected to the peer, with a fixed local host name."""
        kwargs.setdefault("local_hostname", "client.test")
        kwargs.setdefault("timeout", 5)
        if connect:
            kwargs.setdefault("host", self.host)
            kwargs.setdefault("port", self.port)
        client = getattr(self.mod, cls)(**kwargs)
        return self.track(client)


def run(
    mod: ModuleType,
    peer: Peer,
    conversation: Callable[[Conversation], Any],
    *,
    debug: bool = False,
) -> Outcome:
    peer.reset()
    conv = Conversation(mod, peer)
    outcome = Outcome()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr) if debug else contextlib.nullcontext():
        try:
            outcome.value = conversation(conv)
        except EXPECTED_ERRORS as exc:
            outcome.error = describe_error(exc)
        finally:
            outcome.clients = [snapshot(c) for c in conv.clients]
            for client in conv.clients:
                _close_quietly(client)
    peer.wait_idle()
    outcome.sent = [list(u) if isinstance(u, list) else u for u in peer.received]
    if debug:
        outcome.debug = TIMESTAMP.sub("", stderr.getvalue())
    return outcome


def _close_quietly(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is None:
        sock = getattr(client, "sock", None)
        if sock is not None:
            sock.close()
        return
    with contextlib.suppress(Exception):
        close()


def candidate_name() -> str:
    """The module compared with smtplib: ``smtpclient`` unless ``COMPAT_CANDIDATE`` says."""
    return os.environ.get("COMPAT_CANDIDATE", "smtpclient")


def candidate() -> ModuleType:
    return importlib.import_module(candidate_name())


def compare(
    peer: Peer,
    conversation: Callable[[Conversation], Any],
    *,
    debug: bool = False,
    pipelined: bool = True,
) -> Outcome:
    """Run with smtplib, then smtpclient; assert every observation is equal; return smtplib's.

smtpclient runs with PIPELINING off for that, then again with it on (the default), where
everything but the bytes sent and the debug output must still be equal (``pipelined=False``
skips that run, for a conversation whose value records the writes themselves).

    ``COMPAT_CANDIDATE=smtplib`` compares smtplib with itself: the suite's own self-check that
    every conversation is deterministic.
    """
    expected = run(smtplib, peer, conversation, debug=debug)
    mod = candidate()
    with pipelining(mod, False):
        actual = run(mod, peer, conversation, debug=debug)
    assert actual.sent == expected.sent, "bytes sent to the peer differ"
    assert actual.error == expected.error, "exceptions differ"
    assert actual.value == expected.value, "return values differ"
    assert actual.clients == expected.clients, "client attributes differ"
    assert actual.debug == expected.debug, "debug output differs"
    if pipelined and hasattr(mod.SMTP, "pipelining"):
        # The peer advertises PIPELINING: what goes on the wire differs (that is the point),
        # what the caller sees must not.
        with pipelining(mod, True):
            pipelined = run(mod, peer, conversation)
        assert pipelined.error == expected.error, "exceptions differ when pipelined"
        assert pipelined.value == expected.value, "return values differ when pipelined"
        assert pipelined.clients == expected.clients, "client attributes differ when pipelined"
    return expected


@contextlib.contextmanager
def pipelining(mod: ModuleType, on: bool) -> Iterator[None]:
    """The candidate's documented switch (``SMTP.pipelining``), set for the block."""
    if not hasattr(mod.SMTP, "pipelining"):  # smtplib compared with itself
        yield
        return
    saved = mod.SMTP.pipelining
    mod.SMTP.pipelining = on
    try:
        yield
    finally:
        mod.SMTP.pipelining = saved

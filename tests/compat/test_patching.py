"""Code that patches smtplib's module globals or watches its audit events keeps working.

Test suites written for smtplib replace the ``socket`` module it sees (CPython's own suite sets
``smtplib.socket`` to a module whose ``socket`` is a factory function) and read the
``smtplib.*`` audit events. Each check runs the same conversation with smtplib and with ours,
the running Python's smtplib being the oracle.
"""

from __future__ import annotations

import smtplib
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from ._harness import Conversation, candidate, compare

smtpclient = candidate()


class StandInSocket:
    """Not a ``socket.socket``: answers each command line as a permissive server would.

    Deliberately a stand-in (no real peer replaces the module a client looks sockets up in):
    what is checked is that the client works through whatever that module gives it.
    """

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.replies: list[bytes] = [b"220 stand-in ready\r\n"]
        self.in_data = False

    def connect(self, address: Any) -> None:
        self.log.append(("connect", address))

    def settimeout(self, timeout: Any) -> None:
        self.log.append(("settimeout", timeout))

    def sendall(self, data: bytes) -> None:
        self.log.append(("sendall", data))
        if self.in_data:
            self.in_data = False
            self.replies.append(b"250 2.0.0 queued\r\n")
            return
        verb = data[:4].upper()
        if verb == b"DATA":
            self.in_data = True
            self.replies.append(b"354 go ahead\r\n")
        elif verb == b"EHLO" or verb == b"LHLO":
            self.replies += [b"250-stand-in\r\n", b"250 8BITMIME\r\n"]
        elif verb == b"QUIT":
            self.replies.append(b"221 bye\r\n")
        else:
            self.replies.append(b"250 ok\r\n")

    def makefile(self, mode: str) -> StandInSocket:
        return self

    def readline(self, size: int = -1) -> bytes:
        return self.replies.pop(0) if self.replies else b""

    def close(self) -> None:
        self.log.append(("close",))


def stand_in_socket_module(log: list[Any]) -> types.ModuleType:
    """A module with what smtplib uses of ``socket``; ``socket`` is a function, not a class."""
    module = types.ModuleType("stand_in_socket")

    def socket_factory(*args: Any) -> StandInSocket:
        log.append(("socket", args))
        return StandInSocket(log)

    def create_connection(address: Any, timeout: Any = None, source: Any = None) -> StandInSocket:
        log.append(("create_connection", address))
        return StandInSocket(log)

    module.socket = socket_factory  # type: ignore[attr-defined]
    module.create_connection = create_connection  # type: ignore[attr-defined]
    module.getfqdn = lambda *args: "client.stand-in.test"  # type: ignore[attr-defined]
    module.gethostname = lambda: "client"  # type: ignore[attr-defined]
    module.gethostbyname = lambda name: "192.0.2.1"  # type: ignore[attr-defined]
    module.gaierror = socket.gaierror  # type: ignore[attr-defined]
    module.AF_UNIX = socket.AF_UNIX  # type: ignore[attr-defined]
    module.SOCK_STREAM = socket.SOCK_STREAM  # type: ignore[attr-defined]
    module._GLOBAL_DEFAULT_TIMEOUT = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
    return module


def our_socket_globals() -> list[types.ModuleType]:
    """The modules of ours that look ``socket`` up at call time (the documented patch points)."""
    import smtpclient._connection
    import smtpclient._lmtp
    import smtpclient._sync

    return [smtpclient._sync, smtpclient._lmtp, smtpclient._connection]


def converse(module: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """SMTP and LMTP over the stand-in, with ``module``'s ``socket`` globals replaced."""
    log: list[Any] = []
    fake = stand_in_socket_module(log)
    targets = [smtplib] if module is smtplib else our_socket_globals()
    with monkeypatch.context() as patch:
        for target in targets:
            patch.setattr(target, "socket", fake)
        smtp = module.SMTP("mx.example.org", 25)
        log.append(("local_hostname", smtp.local_hostname))
        log.append(("sendmail", smtp.sendmail("a@example.org", ["b@example.org"], "x\n.y\n")))
        log.append(("quit", smtp.quit()))
        lmtp = module.LMTP("/run/lmtp.sock")
        log.append(("lhlo", lmtp.ehlo()))
        lmtp.close()
    return log


def test_a_replaced_socket_module_is_used_as_smtplib_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    theirs = converse(smtplib, monkeypatch)
    ours = converse(smtpclient, monkeypatch)
    assert ours == theirs
    assert ("create_connection", ("mx.example.org", 25)) in ours
    assert ("local_hostname", "client.stand-in.test") in ours
    assert ("connect", "/run/lmtp.sock") in ours


def test_mock_patch_of_the_socket_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mock.patch("smtplib.socket")`` with the replies configured on the mock's reader."""

    def converse_with_mock(module: types.ModuleType) -> list[Any]:
        targets = [smtplib] if module is smtplib else our_socket_globals()
        net = mock.MagicMock()
        net.getfqdn.return_value = "client.mock.test"
        sock = net.create_connection.return_value
        sock.makefile.return_value.readline.side_effect = [b"220 hi\r\n", b"250 ok\r\n"]
        with monkeypatch.context() as patch:
            for target in targets:
                patch.setattr(target, "socket", net)
            smtp = module.SMTP("mx.example.org", 25)
            result = [smtp.local_hostname, smtp.noop()]
            smtp.close()
        return [*result, [c.args for c in sock.sendall.call_args_list]]

    theirs = converse_with_mock(smtplib)
    assert converse_with_mock(smtpclient) == theirs
    assert theirs == ["client.mock.test", (250, b"ok"), [(b"noop\r\n",)]]


# Audit hooks cannot be removed: this one is installed once and records only while a test asks.
_recording: list[tuple[str, tuple[Any, ...]]] | None = None
_hooked = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _recording is not None and event.startswith("smtplib."):
        _recording.append((event, args))


@pytest.fixture
def audit_events() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    global _recording, _hooked
    if not _hooked:
        sys.addaudithook(_hook)
        _hooked = True
    _recording = events = []
    try:
        yield events
    finally:
        _recording = None


def test_audit_events_carry_what_smtplib_passes(
    make_peer: Any, audit_events: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """``smtplib.send`` carries the bytes sent (message data included), as smtplib's does."""
    dotted = "".join(f".line {n}\r\n" for n in range(700))  # many pieces once dot-stuffed

    def conv(c: Conversation) -> Any:
        start = len(audit_events)
        s = c.smtp()
        s.sendmail("a@example.org", ["b@example.org"], dotted)
        s.quit()
        # The client object itself differs; the other arguments and their types must not.
        return [
            (event, [type(a).__name__ for a in args[1:]], args[1:])
            for event, args in audit_events[start:]
        ]

    out = compare(make_peer(), conv)
    sends = [entry for entry in out.value if entry[0] == "smtplib.send"]
    assert [types_ for _, types_, _ in sends] == [["bytes"]] * len(sends)
    assert any(args[0].startswith(b"..line 0\r\n") for _, _, args in sends)

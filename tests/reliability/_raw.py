"""A raw-socket SMTP client that misbehaves on purpose, and the well-behaved check after it."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import struct
import threading
import time
from collections.abc import Callable

from smtpfake import FakeSMTPServer, Session

GOOD = b"Subject: good\r\n\r\nA well-behaved client, after the hostile one.\r\n"
WAIT = 5.0


class RawClient:
    """A plain socket speaking (or not speaking) SMTP; every read is bounded by a timeout."""

    def __init__(self, server: FakeSMTPServer, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection(server.address, timeout=timeout)
        self._buffer = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """Read one whole reply (all its lines); b"" if the server closed first."""
        lines: list[bytes] = []
        while True:
            while b"\n" not in self._buffer:
                data = self.sock.recv(65536)
                if not data:
                    return b"".join(lines)
                self._buffer += data
            line, _, self._buffer = self._buffer.partition(b"\n")
            lines.append(line + b"\n")
            if line[3:4] != b"-":
                return b"".join(lines)

    def command(self, line: bytes) -> bytes:
        self.send(line)
        return self.reply()

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Vanish with a TCP RST instead of a FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def good_client_sends(server: FakeSMTPServer, *, tls: bool = False, port: int = 0) -> None:
    """smtplib sends GOOD through the server; it must be the last capture, byte for byte."""
    before = len(server.outbox)
    if server.ca is not None and tls:
        with smtplib.SMTP("localhost", port or server.port, timeout=WAIT) as client:
            client.starttls(context=server.client_context())
            refused = client.sendmail("good@example.com", ["alice@example.com"], GOOD)
    else:
        with smtplib.SMTP(server.host, port or server.port, timeout=WAIT) as client:
            refused = client.sendmail("good@example.com", ["alice@example.com"], GOOD)
    assert refused == {}
    assert len(server.outbox) == before + 1
    last = server.outbox.last
    assert (last.raw, last.mail_from, last.rcpt_tos) == (
        GOOD,
        "good@example.com",
        ("alice@example.com",),
    )
    server.check()


def session_when(
    server: FakeSMTPServer, index: int, ready: Callable[[Session], bool], timeout: float = 1.0
) -> Session:
    """The ``index``-th session once ``ready(session)`` holds (its snapshot otherwise).

    smtpfake has no event for "this line reached the transcript", so this re-reads the
    snapshot every 10 ms, for at most ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        sessions = server.sessions
        if len(sessions) > index and ready(sessions[index]):
            return sessions[index]
        if time.monotonic() > deadline:
            if len(sessions) <= index:
                raise AssertionError(f"no session #{index}; {len(sessions)} recorded")
            return sessions[index]
        pause.wait(0.01)


def until(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    """Re-check ``condition`` every 10 ms for at most ``timeout`` s (no event exists for it)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


def has_note(session: Session, *, besides: tuple[str, ...] = ()) -> bool:
    """True if the transcript holds a '!' line (an event or a misbehaviour noted), not counting
    notes that contain any of the words in ``besides``."""
    return any(
        line.direction == "!" and not any(word in line.text for word in besides)
        for line in session.transcript
    )

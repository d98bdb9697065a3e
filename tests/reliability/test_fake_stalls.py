"""The fake server against clients that hold connections: abandoned, trickling, stuck in TLS.

A stalled client must not slow the others down, and stop() must end every connection at once.
"""

from __future__ import annotations

import os
import smtplib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from smtpfake import FakeSMTPServer, Session

from ._raw import GOOD, WAIT, RawClient, good_client_sends, has_note, until

PARTIAL_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32


@pytest.fixture
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as fake:
        yield fake


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
def test_a_thousand_connections_opened_and_abandoned(server: FakeSMTPServer) -> None:
    baseline = _open_fds()
    started = time.monotonic()
    for batch in range(20):  # batches of 50: under the listen backlog (100)
        sockets = [socket.create_connection(server.address, timeout=WAIT) for _ in range(50)]
        try:
            if batch % 2:  # half of them wait for the greeting first
                for sock in sockets:
                    assert sock.recv(100).startswith(b"220")
        finally:
            for sock in sockets:
                sock.close()
    good_client_sends(server)
    assert [m.raw for m in server.outbox] == [GOOD]
    # The server's end of every abandoned connection must be closed too: our process holds
    # both ends, so the fd count comes back to where it was. No event for this: re-check it.
    deadline = time.monotonic() + WAIT
    while _open_fds() > baseline and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert _open_fds() <= baseline, f"{_open_fds() - baseline} fds still open after 1000 clients"
    assert len(server.sessions) == 1001
    assert time.monotonic() - started < 30
    server.check()


def test_a_client_trickling_bytes_does_not_hold_up_the_others(server: FakeSMTPServer) -> None:
    """One byte every 50 ms; the good client sends while the slow line is still unfinished."""
    command = b"EHLO slow.test"
    started = threading.Event()
    good_done = threading.Event()
    replies: list[bytes] = []

    def slow() -> None:
        with RawClient(server) as raw:
            raw.reply()
            for i in range(len(command)):
                raw.send(command[i : i + 1])
                if i == 2:
                    started.set()
                if good_done.wait(0.05):
                    pass  # keep the pace: the line stays unfinished until the good client is done
            good_done.wait(WAIT)
            raw.send(b"\r\n")
            replies.append(raw.reply())
            replies.append(raw.command(b"QUIT\r\n"))

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert started.wait(WAIT)
        for _ in range(5):
            good_client_sends(server)
        good_done.set()
    finally:
        good_done.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert [m.raw for m in server.outbox] == [GOOD] * 5
    assert replies[0].startswith(b"250-smtpfake.test"), replies
    assert replies[1].startswith(b"221"), replies
    assert "C: EHLO slow.test" in server.sessions[0].format_transcript()


def _stuck_in_handshake(server: FakeSMTPServer, mode: str) -> RawClient:
    """A client that starts TLS (STARTTLS or implicit) and never finishes the handshake."""
    raw = RawClient(server)
    if mode == "starttls":
        raw.reply()
        raw.command(b"EHLO stuck.test\r\n")
        assert raw.command(b"STARTTLS\r\n").startswith(b"220")
    raw.send(PARTIAL_CLIENT_HELLO)  # a ClientHello cut short: the handshake never ends
    return raw


def _good_tls_client_sends(server: FakeSMTPServer, mode: str) -> None:
    if mode == "starttls":
        good_client_sends(server, tls=True)
        return
    with smtplib.SMTP_SSL(
        "localhost", server.port, context=server.client_context(), timeout=WAIT
    ) as client:
        assert client.sendmail("good@example.com", ["alice@example.com"], GOOD) == {}


def _unfinished(sessions: list[Session]) -> list[Session]:
    return [s for s in sessions if not any(line.text.startswith("221") for line in s.transcript)]


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_tls_client_that_never_finishes_its_handshake(mode: str) -> None:
    with FakeSMTPServer(tls=mode) as server:
        with _stuck_in_handshake(server, mode):
            _good_tls_client_sends(server, mode)
            assert [m.raw for m in server.outbox] == [GOOD]
        # The stuck client gave up (closed): its session must say what happened.
        until(lambda: any(map(has_note, _unfinished(server.sessions))))
        stuck = _unfinished(server.sessions)
        transcripts = [s.format_transcript() for s in server.sessions]
        assert len(stuck) == 1, f"{mode}: no session for the stuck handshake: {transcripts}"
        assert has_note(stuck[0]), f"{mode}: the stuck handshake is not noted: {transcripts}"
        assert not stuck[0].tls


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_stop_drops_a_connection_stuck_in_the_handshake(mode: str) -> None:
    server = FakeSMTPServer(tls=mode)
    server.start()
    try:
        with _stuck_in_handshake(server, mode) as raw:
            _good_tls_client_sends(server, mode)
            stopping = time.monotonic()
            server.stop()
            assert time.monotonic() - stopping < 2.0
            assert raw.sock.recv(100) == b""  # the server dropped it
    finally:
        server.stop()
    assert [m.raw for m in server.outbox] == [GOOD]

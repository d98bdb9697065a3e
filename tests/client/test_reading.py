"""How replies are read: framed from the stream, bounded in time, never taken out of turn.

The servers here are raw sockets on a thread: a correct server never trickles its replies, nor
sends one unasked, so aiosmtpd cannot play these parts.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import smtpclient
from smtpclient import ReplyParser

from ._servers import ScriptedServer, StartServer

LOCAL = "client.test"
Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]


class Dribbler:
    """Accepts one client and sends ``data`` one byte per write, ``interval`` apart.

    The pacing waits on an Event, so ``close()`` ends it at once; the loop is bounded by
    ``data``. After the data it reads until the client closes.
    """

    def __init__(self, data: bytes, interval: float) -> None:
        self.data = data
        self.interval = interval
        self.stop = threading.Event()
        self.client_closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, name="dribbler")
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                for i in range(len(self.data)):
                    if self.stop.wait(self.interval):
                        return
                    conn.sendall(self.data[i : i + 1])
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            self.client_closed.set()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def dribbler() -> Iterator[Callable[[bytes, float], Dribbler]]:
    made: list[Dribbler] = []

    def make(data: bytes, interval: float) -> Dribbler:
        made.append(Dribbler(data, interval))
        return made[-1]

    try:
        yield make
    finally:
        for server in made:
            server.close()


def test_a_reply_in_single_bytes_is_read_whole(dribbler: Any) -> None:
    server = dribbler(b"220-multi\r\n220 line greeting\r\n", 0)
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    try:
        assert smtp.connect("127.0.0.1", server.port) == (220, b"multi\nline greeting")
        assert smtp.sock is not None
        assert smtp.sock.gettimeout() == 5  # the per-read deadlines were undone
    finally:
        smtp.close()


def test_a_trickled_reply_is_bounded_by_the_timeout(dribbler: Any) -> None:
    # One byte every 50 ms: each read is far within the 0.3 s timeout, the reply is not.
    server = dribbler(b"220 " + b"x" * 200 + b"\r\n", 0.05)
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="timed out"):
        smtp.connect("127.0.0.1", server.port)
    assert time.monotonic() - start < 1.5
    assert smtp.sock is None
    assert server.client_closed.wait(5)


def test_a_reply_nobody_asked_for_is_refused_before_the_next_command(
    scripted: Scripted, start_server: StartServer
) -> None:
    server = scripted([(None, b"220 hi\r\n250 2.0.0 unsolicited\r\n")])
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    try:
        smtp.connect("127.0.0.1", server.port)
        with pytest.raises(smtpclient.SMTPReplyError, match="Unsolicited reply") as caught:
            smtp.ehlo()
        assert caught.value.smtp_code == -1
        assert smtp.sock is None
        server.close()
        assert server.received == []  # EHLO was never sent into the confused session
        healthy = start_server()
        smtp.connect(healthy.host, healthy.port)
        assert smtp.sendmail("a@example.com", ["b@example.com"], "again\n") == {}
    finally:
        smtp.close()


def test_replies_read_ahead_are_the_callers_with_the_low_level_methods(
    scripted: Scripted,
) -> None:
    # putcmd()/getreply() are smtplib's low-level API: a caller may pipeline with them, so a
    # reply read ahead there is theirs to read, not an error.
    server = scripted([(None, b"220 hi\r\n"), (b"NOOP", b"250 one\r\n250 two\r\n")])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        smtp.putcmd("NOOP")
        assert smtp.getreply() == (250, b"one")
        smtp.putcmd("NOOP")
        assert smtp.getreply() == (250, b"two")
        assert smtp.getreply() == (502, b"not in the script")
    finally:
        smtp.close()


def test_endless_auth_challenges_hang_up(scripted: Scripted) -> None:
    challenge = (b"", b"334 VXNlcm5hbWU6\r\n")
    server = scripted(
        [
            (None, b"220 hi\r\n"),
            (b"EHLO", b"250-hi\r\n250 AUTH LOGIN\r\n"),
            (b"AUTH", b"334 VXNlcm5hbWU6\r\n"),
            *[challenge] * 10,
        ]
    )
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(smtpclient.SMTPException, match="infinite loop"):
            smtp.login("alice", "pw")
        assert smtp.sock is None
    finally:
        smtp.close()


def test_a_refusal_is_not_hidden_by_a_confused_reset(scripted: Scripted) -> None:
    # The RSET after the refusal finds an unsolicited reply: the connection is closed, and the
    # caller still learns why the transaction failed.
    server = scripted(
        [
            (None, b"220 hi\r\n"),
            (b"EHLO", b"250 hi\r\n"),
            (b"MAIL", b"250 ok\r\n"),
            (b"RCPT", b"550 5.1.1 no\r\n250 2.0.0 stray\r\n"),
        ]
    )
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as caught:
            smtp.sendmail("a@example.com", ["b@example.com"], "hi\n")
        assert caught.value.recipients == {"b@example.com": (550, b"5.1.1 no")}
        assert smtp.sock is None
    finally:
        smtp.close()


class Chunks:
    """A stand-in for a socket and its reader: the given chunks, then end of file.

    A real peer splits replies anywhere too, but not reproducibly: this reaches every split.
    (The client reads a stand-in that is not a ``socket.socket`` through its ``file``, as
    smtplib does; it never blocks.)
    """

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def readline(self, size: int) -> bytes:
        # Not a line: any chunk. The client frames lines itself, whatever it is given.
        assert size > 0
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        self.chunks = []

    def sendall(self, data: bytes) -> None:
        raise AssertionError("nothing is sent in these tests")


@given(
    replies=st.lists(
        st.tuples(
            st.integers(200, 599),
            st.lists(
                st.binary(max_size=30).filter(lambda b: b"\n" not in b), min_size=1, max_size=4
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    cuts=st.lists(st.integers(0, 600), max_size=8),
)
def test_the_driver_frames_replies_split_anywhere_like_the_parser(
    replies: list[tuple[int, list[bytes]]], cuts: list[int]
) -> None:
    wire = b"".join(
        b"%d%s%s\r\n" % (code, b" " if i == len(texts) - 1 else b"-", text)
        for code, texts in replies
        for i, text in enumerate(texts)
    )
    points = sorted({0, len(wire), *(cut for cut in cuts if cut < len(wire))})
    chunks = [wire[a:b] for a, b in itertools.pairwise(points)]
    expected = [(r.code, r.message) for r in ReplyParser().feed(wire)]
    smtp = smtpclient.SMTP(local_hostname=LOCAL)
    try:
        stand_in = Chunks(chunks)
        smtp.sock, smtp.file = stand_in, stand_in  # type: ignore[assignment]
        assert [smtp.getreply() for _ in expected] == expected
        with pytest.raises(smtpclient.SMTPServerDisconnected):
            smtp.getreply()  # the end of the stream, not a made-up reply
        assert smtp.sock is None
    finally:
        smtp.close()


@given(st.lists(st.binary(max_size=3000) | st.sampled_from([b"250-x\r\n", b"\r\n"]), max_size=12))
@example([b"250-x\r\n", b"250 ok\r\n354 go\r\n" + b"2" * 8000, b"\r\n"])
def test_the_driver_turns_any_bytes_into_replies_or_one_typed_error(chunks: list[bytes]) -> None:
    smtp = smtpclient.SMTP(local_hostname=LOCAL)
    smtp.max_reply_lines, smtp.max_reply_size = 5, 2000
    try:
        stand_in = Chunks(chunks)
        smtp.sock, smtp.file = stand_in, stand_in  # type: ignore[assignment]
        for _ in range(len(chunks) + 1):  # bounded: each reply needs at least one line
            try:
                code, _ = smtp.getreply()
            except (smtpclient.SMTPReplyError, smtpclient.SMTPServerDisconnected):
                assert smtp.sock is None
                break
            assert 100 <= code <= 599
            # What stays buffered is bounded: a line's worth and one read.
            assert len(smtp._parser.unread) <= 8192 + 8192
    finally:
        smtp.close()

"""PIPELINING (RFC 2920) over real sockets: batches, bounded writes, hostile peers.

The raw servers here do what smtpfake never does: withhold every reply until a whole batch has
arrived, answer only after writing (never reading meanwhile), answer too often or too rarely.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import smtpclient
from smtpfake import FakeSMTPServer

from ._servers import DATA_END, HANGUP, SILENT, ScriptedServer

LOCAL = "client.test"
GREETING = (None, b"220 scripted ESMTP\r\n")
EHLO = (b"EHLO", b"250-scripted\r\n250 PIPELINING\r\n")
Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]


def client(server: ScriptedServer, pipelining: bool = True) -> smtpclient.SMTP:
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    smtp.pipelining = pipelining
    return smtp


def test_mail_rcpt_and_data_arrive_before_any_reply(scripted: Scripted) -> None:
    # The server answers nothing until it holds MAIL, both RCPTs and DATA: a client waiting
    # for each reply would time out here.
    server = scripted(
        [
            GREETING,
            EHLO,
            (b"MAIL FROM:<a@example.com>", b""),
            (b"RCPT TO:<b@example.com>", b""),
            (b"RCPT TO:<c@example.com>", b""),
            (b"DATA", b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n"),
            (DATA_END, b"250 2.0.0 queued\r\n"),
        ]
    )
    with client(server) as smtp:
        refused = smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi\n")
    assert refused == {"c@example.com": (550, b"5.1.1 no")}
    assert server.errors == []
    assert b"hi\r\n" in server.received


class AnswerBeforeReading:
    """A server that writes each reply before it reads another byte, through small buffers.

    A client that wrote 10,000 RCPT commands without reading would fill the server's socket
    buffers while the server, blocked writing replies the client does not read, stops
    reading: both would wait for ever (here: until the client's timeout fails the test).
    """

    PAD = b" " + b"x" * 100  # long replies fill the buffers sooner

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            self.listener.setsockopt(socket.SOL_SOCKET, option, 8192)
        self.port = self.listener.getsockname()[1]
        self.recipients = 0
        self.message = b""
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, name="answer-before-reading")
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(10)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle stalls
                self._converse(conn)
        except BaseException as exc:
            self.errors.append(exc)

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        conn.sendall(b"220 slow reader\r\n")
        while True:
            while b"\n" not in buffer:
                chunk = conn.recv(256)  # small reads: never far ahead of its replies
                if not chunk:
                    return
                buffer += chunk
            line, buffer = buffer.split(b"\n", 1)
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-slow\r\n250 PIPELINING\r\n")
            elif verb == b"RCPT":
                self.recipients += 1
                conn.sendall(b"250 2.1.5" + self.PAD + b"\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go\r\n")
                while b"\r\n.\r\n" not in buffer:
                    buffer += conn.recv(65536)
                self.message, buffer = buffer.split(b"\r\n.\r\n", 1)
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0" + self.PAD + b"\r\n")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(15)


class SmallBuffers(smtpclient.SMTP):
    """The client's socket buffers small too, so nothing hides a deadlock."""

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, 8192)
        return sock


@pytest.fixture
def slow_reader() -> Iterator[AnswerBeforeReading]:
    server = AnswerBeforeReading()
    try:
        yield server
    finally:
        server.close()


def test_ten_thousand_recipients_do_not_deadlock(slow_reader: AnswerBeforeReading) -> None:
    recipients = [f"user{i:05}@example.com" for i in range(10_000)]
    with SmallBuffers("127.0.0.1", slow_reader.port, local_hostname=LOCAL, timeout=10) as smtp:
        assert smtp.sendmail("a@example.com", recipients, "hi\n") == {}
    assert slow_reader.errors == []
    assert slow_reader.recipients == 10_000
    assert slow_reader.message == b"hi"


HOSTILE = {
    # The server hangs up after answering MAIL: the rest of the batch is never answered.
    "hang-up mid-batch": [(b"MAIL", b"250 ok\r\n"), (b"RCPT", HANGUP)],
    # It answers MAIL twice: every later reply is taken out of step.
    "one reply too many": [(b"MAIL", b"250 ok\r\n250 again\r\n"), (b"RCPT", b"250 ok\r\n")],
    # It never answers DATA.
    "one reply too few": [(b"MAIL", b"250 ok\r\n"), (b"RCPT", b"250 ok\r\n"), (b"DATA", SILENT)],
    # It answers the batch with a malformed line.
    "garbage in the batch": [(b"MAIL", b"250 ok\r\n"), (b"RCPT", b"hello\r\n")],
    # The same, in the segment of a good reply (read together, raised after the good one).
    "garbage after a good reply": [(b"MAIL", b"250 ok\r\nhello\r\n")],
}


def hostile_outcome(scripted: Scripted, case: str, pipelining: bool) -> str:
    server = scripted([GREETING, EHLO, *HOSTILE[case]])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=0.5)
    smtp.pipelining = pipelining
    try:
        smtp.sendmail("a@example.com", ["b@example.com"], "hi\n")
    except smtpclient.SMTPException as exc:
        assert smtp.sock is None  # closed: the session cannot be trusted
        return type(exc).__name__
    finally:
        smtp.close()
        server.close()
    return "no error"


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_peers_give_the_same_typed_errors_pipelined_or_not(
    scripted: Scripted, case: str
) -> None:
    pipelined = hostile_outcome(scripted, case, pipelining=True)
    assert pipelined in ("SMTPServerDisconnected", "SMTPReplyError")
    assert pipelined == hostile_outcome(scripted, case, pipelining=False)


def test_the_object_is_reusable_after_a_hang_up_mid_batch(scripted: Scripted) -> None:
    server = scripted([GREETING, EHLO, (b"MAIL", b"250 ok\r\n"), (b"RCPT", HANGUP)])
    smtp = client(server)
    try:
        with pytest.raises(smtpclient.SMTPServerDisconnected):
            smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi\n")
        with FakeSMTPServer() as good:
            assert smtp.connect(good.host, good.port)[0] == 220
            assert smtp.sendmail("a@example.com", ["b@example.com"], "again\n") == {}
            assert good.wait_for(1)[0].raw == b"again\r\n"
    finally:
        smtp.close()

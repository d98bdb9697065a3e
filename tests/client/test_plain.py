"""Plain SMTP against a real aiosmtpd server: an independent server next to smtpfake.

The main flows (refusals, the end-of-data reply, send_message, the SIZE check) are checked
against smtpfake in test_against_smtpfake.py; these are what a second, real server adds: the
wire format it reads back, smtplib's command tuples, SMTPUTF8 refused, reconnecting elsewhere.
"""

from __future__ import annotations

import email.message
import socket
from typing import Any

import pytest

import smtpclient

from ._servers import RecordingHandler, StartServer


def test_command_methods_return_smtplib_tuples(start_server: StartServer) -> None:
    server = start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test")
    try:
        code, greeting = smtp.connect(f"{server.host}:{server.port}")
        assert code == 220
        assert greeting.startswith(b"testserver.example")
        assert smtp.ehlo()[0] == 250
        assert smtp.does_esmtp
        assert smtp.has_extn("SMTPUTF8")
        assert smtp.has_extn("8bitmime")
        assert smtp.noop() == (250, b"OK")
        assert smtp.mail("a@example.com") == (250, b"OK")
        assert smtp.rcpt("b@example.com") == (250, b"2.1.5 OK")
        assert smtp.data("hello") == (250, b"2.0.0 Ok: queued as 4F2A9C")
        assert smtp.rset() == (250, b"OK")
        assert smtp.vrfy("someone@example.com")[0] == 252
        assert smtp.expn("list")[0] == 502
        assert isinstance(smtp.help(), bytes)
        assert smtp.quit()[0] == 221
        assert smtp.sock is None
        assert smtp.ehlo_resp is None
    finally:
        smtp.close()


def test_smtputf8_refused_when_not_advertised(start_server: StartServer) -> None:
    server = start_server(enable_SMTPUTF8=False)
    msg = email.message.EmailMessage()
    msg["From"] = "jörg@example.com"
    msg["To"] = "b@example.com"
    msg.set_content("x")
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(smtpclient.SMTPNotSupportedError):
            smtp.send_message(msg)
        with pytest.raises(smtpclient.SMTPNotSupportedError):
            smtp.mail("a@example.com", ["SMTPUTF8"])
    assert server.handler.messages == []


def test_control_characters_refused_before_sending(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(ValueError, match="newline"):
            smtp.docmd("NOOP", "x\r\nRSET")
        with pytest.raises(ValueError, match="newline"):
            smtp.ehlo("client\nMAIL FROM:<evil@example.com>")
        with pytest.raises(ValueError, match="control"):
            smtp.rcpt("b\x00@example.com")
        with pytest.raises(ValueError, match="control"):
            smtp.putcmd("NOOP", "\x7f")
        # Nothing was sent: the session is still in step.
        assert smtp.noop() == (250, b"OK")


def test_reconnect_same_object(start_server: StartServer) -> None:
    first, second = start_server(), start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test")
    try:
        smtp.connect(first.host, first.port)
        smtp.sendmail("a@example.com", "b@example.com", "one")
        smtp.close()
        smtp.connect(second.host, second.port)
        smtp.sendmail("a@example.com", "b@example.com", "two")
        smtp.quit()
    finally:
        smtp.close()
    assert [m.content for m in first.handler.messages] == [b"one\r\n"]
    assert [m.content for m in second.handler.messages] == [b"two\r\n"]


def test_large_message_with_dotted_lines_arrives_intact(start_server: StartServer) -> None:
    server = start_server()
    line = b"..a line that starts with dots, then text to make it longer than the rest\r\n"
    body = b"Subject: big\r\n\r\n" + b"".join(
        line if i % 3 == 0 else b"ordinary line number %d\r\n" % i for i in range(24000)
    )
    assert len(body) > 1_000_000
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        assert smtp.sendmail("a@example.com", "b@example.com", body) == {}
    assert server.handler.messages[0].content == body


def test_source_address_is_bound(start_server: StartServer) -> None:
    server = start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test", source_address=("127.0.0.2", 0))
    try:
        smtp.connect(server.host, server.port)
        smtp.sendmail("a@example.com", "b@example.com", "x")
        smtp.quit()
    finally:
        smtp.close()
    assert server.handler.messages[0].peer[0] == "127.0.0.2"


def test_str_message_line_endings_are_converted(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        assert smtp.sendmail("a@example.com", ["b@example.com"], "a\rb\nc\r\nd\n.dot") == {}
    [message] = server.handler.messages
    assert (message.mail_from, message.rcpt_tos) == ("a@example.com", ["b@example.com"])
    assert message.content == b"a\r\nb\r\nc\r\nd\r\n.dot\r\n"


def test_last_reply_carries_enhanced_status(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"x@example.com"}))
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        smtp.ehlo()
        smtp.mail("a@example.com")
        assert smtp.rcpt("x@example.com")[0] == 550
        assert smtp.last_reply is not None
        assert smtp.last_reply.enhanced_status == "5.1.1"


class CountingSocket(socket.socket):
    """A real socket that records the size of each write the client makes on it."""

    writes: list[int]

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.writes.append(len(data))
        super().sendall(data, flags)

    def sendmsg(self, buffers: Any, *args: Any) -> int:
        self.writes.append(sum(len(b) for b in buffers))
        return super().sendmsg(buffers, *args)

    def send(self, data: Any, flags: int = 0) -> int:
        self.writes.append(len(data))
        return super().send(data, flags)


def test_message_data_goes_out_in_one_write(start_server: StartServer) -> None:
    """Every line starting with a dot: the data is still one write, so nothing can stall.

    A second, small write after a large one waits on Nagle's algorithm until the server's
    delayed ACK (~40 ms on Linux); dot-stuffing once split such a message into two writes.
    """
    server = start_server()
    body = "".join(f".{n:04d} a dotted line{'-' * 44}\r\n" for n in range(600))
    message = f"Subject: dots\r\n\r\n{body}".encode()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        smtp.ehlo()
        assert smtp.sock is not None
        counting = CountingSocket(fileno=smtp.sock.detach())
        counting.writes = []
        smtp.sock = counting
        assert smtp.sendmail("a@example.com", ["b@example.com"], message) == {}
    stuffed = message.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    # MAIL, RCPT, DATA, the whole message in one write, QUIT.
    assert counting.writes[3:] == [len(stuffed), len(b"quit\r\n")]
    assert len(server.handler.messages) == 1
    assert server.handler.messages[0].content == message

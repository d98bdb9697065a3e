"""The fake server against clients that misbehave: it keeps serving, captures nothing corrupted,
and its transcript says what the bad client did.

After each hostile session a well-behaved smtplib client sends through the same server and the
capture holds exactly what it should, byte for byte.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable

import pytest

from smtpfake import FakeSMTPServer

from ._raw import GOOD, RawClient, good_client_sends, has_note, session_when

EHLO_MAIL_RCPT = b"EHLO bad.test\r\nMAIL FROM:<bad@example.com>\r\nRCPT TO:<bob@example.com>\r\n"


@pytest.fixture
def server(good: FakeSMTPServer) -> FakeSMTPServer:
    """The module's fake server from conftest.py, reset: the one these clients misbehave at."""
    return good


def _garbage(raw: RawClient) -> None:
    assert raw.command(b"\x00\xff\x80\x1b[31mgarbage\r\n").startswith(b"5")
    assert raw.command(b"NOOP\r\n").startswith(b"250")


def _tls_hello_on_plain_port(raw: RawClient) -> None:
    raw.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)) + b"\r\n")
    assert raw.reply().startswith(b"5")


def _long_line(raw: RawClient) -> None:
    assert raw.command(b"NOOP " + b"x" * 5000 + b"\r\n").startswith(b"500")
    assert raw.command(b"NOOP\r\n").startswith(b"250")


def _huge_line(raw: RawClient) -> None:
    assert raw.command(b"MAIL FROM:<" + b"x" * (3 << 20) + b">\r\n").startswith(b"500")
    assert raw.command(b"NOOP\r\n").startswith(b"250")


def _bare_lf(raw: RawClient) -> None:
    raw.command(b"EHLO bad.test\n")
    raw.command(b"NOOP\n")


def _bare_cr(raw: RawClient) -> None:
    raw.command(b"EHLO bad.test\rMAIL FROM:<smuggled@example.com>\r\n")
    raw.command(b"NOOP\r\n")


HOSTILE: dict[str, Callable[[RawClient], None]] = {
    "garbage and binary bytes": _garbage,
    "a TLS ClientHello on the plain port": _tls_hello_on_plain_port,
    "a 5000-byte command line": _long_line,
    "a 3 MiB command line": _huge_line,
    "bare LF line endings": _bare_lf,
    "bare CR inside a command line": _bare_cr,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_server_keeps_serving_after(case: str, server: FakeSMTPServer) -> None:
    with RawClient(server) as raw:
        assert raw.reply().startswith(b"220")
        HOSTILE[case](raw)
    good_client_sends(server)
    assert [m.raw for m in server.outbox] == [GOOD]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_transcript_notes_the_misbehaviour(case: str, server: FakeSMTPServer) -> None:
    with RawClient(server) as raw:
        raw.reply()
        HOSTILE[case](raw)
        raw.command(b"QUIT\r\n")
    session = server.sessions[0]  # complete: the 221 was recorded before it was sent
    assert has_note(session, besides=("disconnect", "reset")), (
        f"{case}: the transcript has no '!' line for it:\n{session.format_transcript()}"
    )


SMUGGLING = {
    "LF.LF": b"\n.\n",
    "CR.LF": b"\r.\n",
    "CRLF.LF": b"\r\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_sequences_inside_data_are_content(name: str, server: FakeSMTPServer) -> None:
    sequence = SMUGGLING[name]
    smuggled = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
    body = b"Subject: carrier\r\n\r\nbefore" + sequence + smuggled + b"Subject: forged\r\n\r\nx\r\n"
    with RawClient(server) as raw:
        raw.reply()
        raw.send(EHLO_MAIL_RCPT + b"DATA\r\n")
        for _ in range(4):
            raw.reply()
        assert raw.command(body + b".\r\n").startswith(b"250")
        assert raw.command(b"QUIT\r\n").startswith(b"221")
    good_client_sends(server)
    unstuffed = body.replace(b"\r\n.", b"\r\n")  # a line's leading dot is transparency
    assert [m.raw for m in server.outbox] == [unstuffed, GOOD]
    assert not server.outbox.find(sender="evil@example.com")


VANISH: dict[str, tuple[bytes | None, bytes]] = {  # (whole commands, then a partial line)
    "before the greeting": (None, b""),
    "after the greeting": (b"", b""),
    "mid-command": (b"", b"EHL"),
    "after EHLO": (b"EHLO bad.test\r\n", b""),
    "after RCPT": (EHLO_MAIL_RCPT, b""),
    "after 354": (EHLO_MAIL_RCPT + b"DATA\r\n", b""),
    "mid-data": (EHLO_MAIL_RCPT + b"DATA\r\n", b"Subject: cut\r\n\r\nhalf a mess"),
}


def _vanish(server: FakeSMTPServer, phase: str, how: str) -> None:
    """Play the session up to ``phase``, then close (FIN) or reset (RST) the connection."""
    raw = RawClient(server)
    commands, partial = VANISH[phase]
    if commands is not None:
        raw.reply()
        raw.send(commands + partial)
        for _ in range(commands.count(b"\r\n")):
            raw.reply()
    raw.reset() if how == "reset" else raw.close()


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("phase", list(VANISH))
def test_client_vanishing_at_each_phase(phase: str, how: str, server: FakeSMTPServer) -> None:
    _vanish(server, phase, how)
    good_client_sends(server)
    assert [m.raw for m in server.outbox] == [GOOD]
    server.check()


def test_client_that_stops_sending_after_the_data_gets_its_whole_message(
    server: FakeSMTPServer,
) -> None:
    """Everything pipelined, then shutdown(SHUT_WR): the server has it all and still answers."""
    body = b"Subject: complete\r\n\r\nall of it\r\n"
    with RawClient(server) as raw:
        raw.reply()
        raw.send(EHLO_MAIL_RCPT + b"DATA\r\n" + body + b".\r\n")
        raw.sock.shutdown(socket.SHUT_WR)
        replies = [raw.reply() for _ in range(5)]
    assert replies[-1].startswith(b"250 2.0.0"), replies
    assert [m.raw for m in server.outbox] == [body]
    good_client_sends(server)
    assert [m.raw for m in server.outbox] == [body, GOOD]


@pytest.mark.parametrize(
    ("phase", "how"), [("after EHLO", "close"), ("mid-data", "close"), ("mid-data", "reset")]
)
def test_vanished_client_is_noted_in_the_transcript(
    phase: str, how: str, server: FakeSMTPServer
) -> None:
    _vanish(server, phase, how)
    session = session_when(server, 0, has_note)
    assert has_note(session), (
        f"client {how} {phase} without QUIT: no '!' line:\n{session.format_transcript()}"
    )


def test_message_over_the_size_limit() -> None:
    with FakeSMTPServer(size_limit=1000) as server:
        with RawClient(server) as raw:  # declares its size
            raw.reply()
            raw.command(b"EHLO bad.test\r\n")
            assert raw.command(b"MAIL FROM:<bad@example.com> SIZE=5000\r\n").startswith(b"552")
        with RawClient(server) as raw:  # does not declare it, sends it anyway
            raw.reply()
            raw.send(EHLO_MAIL_RCPT + b"DATA\r\n")
            for _ in range(4):
                raw.reply()
            assert raw.command((b"y" * 998 + b"\r\n") * 5 + b".\r\n").startswith(b"552")
            assert raw.command(b"NOOP\r\n").startswith(b"250")
        with pytest.raises(smtplib.SMTPSenderRefused), smtplib.SMTP(*server.address) as client:
            client.sendmail("bad@example.com", ["bob@example.com"], b"z" * 5000)
        good_client_sends(server)
        assert [m.raw for m in server.outbox] == [GOOD]
        for index in range(3):
            transcript = server.sessions[index].format_transcript()
            assert "S: 552 5.3.4" in transcript, transcript

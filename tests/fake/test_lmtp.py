"""LMTP (RFC 2033): LHLO, and one reply per recipient after the data, over TCP and unix sockets."""

from __future__ import annotations

import os
import smtplib
import tempfile
from collections.abc import Iterator

import pytest

from smtpfake import FakeLMTPServer


@pytest.fixture(params=["tcp", "unix"])
def lmtp(request: pytest.FixtureRequest) -> Iterator[FakeLMTPServer]:
    if request.param == "tcp":
        server = FakeLMTPServer()
    else:
        # AF_UNIX paths are short (about 100 bytes): use a short temporary directory.
        directory = tempfile.mkdtemp(prefix="smtpfake-")
        server = FakeLMTPServer(path=os.path.join(directory, "lmtp.sock"))
    with server:
        yield server
    if server.path is not None:
        assert not os.path.exists(server.path)  # the socket file is removed at stop
        os.rmdir(os.path.dirname(server.path))


def _where(server: FakeLMTPServer) -> tuple[str, int] | str:
    return server.path if server.path is not None else server.address


def _transaction(client, recipients: list[str]) -> None:
    assert client.reply()[0] == 220
    assert client.cmd("LHLO me")[0] == 250
    assert client.cmd("MAIL FROM:<a@example.com>")[0] == 250
    for rcpt in recipients:
        client.cmd(f"RCPT TO:<{rcpt}>")
    assert client.cmd("DATA")[0] == 354
    client.send("Subject: lmtp\r\n\r\nhello\r\n.\r\n")


def test_each_recipient_gets_its_own_reply(lmtp, wire) -> None:
    lmtp.on("END_OF_DATA", to="bob@example.com").reply(452, "4.2.2 Mailbox full")
    client = wire(_where(lmtp))
    _transaction(client, ["alice@example.com", "bob@example.com", "carol@example.com"])
    assert client.reply() == (250, ["2.1.5 <alice@example.com> OK"])
    assert client.reply() == (452, ["4.2.2 Mailbox full"])
    assert client.reply() == (250, ["2.1.5 <carol@example.com> OK"])
    captured = lmtp.wait_for(1)[0]
    assert captured.rcpt_tos == ("alice@example.com", "bob@example.com", "carol@example.com")
    assert captured.accepted_for == ("alice@example.com", "carol@example.com")
    lmtp.assert_sent(1, to="carol@example.com")
    with pytest.raises(AssertionError):
        lmtp.assert_sent(to="bob@example.com")


def test_all_recipients_refused_captures_nothing(lmtp, wire) -> None:
    lmtp.on("END_OF_DATA").reply(550, "5.1.1 gone")
    client = wire(_where(lmtp))
    _transaction(client, ["alice@example.com", "bob@example.com"])
    assert [client.reply()[0] for _ in range(2)] == [550, 550]
    lmtp.assert_nothing_sent()


def test_disconnect_midway_through_the_replies(lmtp, wire) -> None:
    lmtp.on("END_OF_DATA", to="bob@example.com").disconnect()
    client = wire(_where(lmtp))
    _transaction(client, ["alice@example.com", "bob@example.com"])
    assert client.reply()[0] == 250
    assert client.closed_by_peer()
    assert lmtp.outbox.last.accepted_for == ("alice@example.com",)


def test_helo_and_ehlo_are_not_lmtp(lmtp, wire) -> None:
    client = wire(_where(lmtp))
    client.reply()
    assert client.cmd("HELO me")[0] == 500
    assert client.cmd("EHLO me")[0] == 500
    code, lines = client.cmd("LHLO me")
    assert code == 250
    assert "PIPELINING" in lines


def test_smtplib_lmtp_client_delivers(lmtp) -> None:
    host = lmtp.path if lmtp.path is not None else lmtp.host
    client = smtplib.LMTP(host, lmtp.port)
    try:
        client.sendmail("a@example.com", ["x@example.com"], "Subject: via smtplib\r\n\r\nhi\r\n")
    finally:
        client.quit()
    lmtp.assert_sent(1, subject="via smtplib", to="x@example.com")


def test_lmtp_greeting() -> None:
    with FakeLMTPServer() as server, smtplib.LMTP(server.host, server.port) as client:
        assert client.noop()[0] == 250
    assert server.sessions[0].transcript[0].text == "220 smtpfake.test LMTP smtpfake"

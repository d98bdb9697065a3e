"""``store=``: a message is kept before the client is told so, and a failure to keep it is a 451."""

from __future__ import annotations

import errno
import smtplib

import pytest

from smtpfake import CapturedMessage, FakeLMTPServer, FakeSMTPServer, ServerError


def _send(client, recipients: list[str], hello: str = "EHLO me") -> None:
    assert client.reply()[0] == 220
    assert client.cmd(hello)[0] == 250
    assert client.cmd("MAIL FROM:<alice@example.com>")[0] == 250
    for rcpt in recipients:
        assert client.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
    assert client.cmd("DATA")[0] == 354
    client.send("Subject: kept?\r\n\r\nhello\r\n.\r\n")


def _disk_full(message: CapturedMessage) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_the_store_runs_before_the_client_gets_its_250() -> None:
    stored: list[bytes] = []
    with FakeSMTPServer(store=lambda message: stored.append(message.raw)) as server:
        with smtplib.SMTP(*server.address, timeout=5) as client:
            client.sendmail("alice@example.com", ["bob@example.com"], "Subject: one\r\n\r\nx\r\n")
            # The reply is in: the store already ran (in the server thread, before the reply).
            assert stored == [b"Subject: one\r\n\r\nx\r\n"]
        assert server.wait_for(1)[0].raw == stored[0]


def test_a_store_failure_is_a_451_and_nothing_is_captured(wire) -> None:
    with FakeSMTPServer(store=_disk_full) as server:
        client = wire(server.address)
        _send(client, ["bob@example.com"])
        assert client.reply() == (451, ["4.3.0 Message not stored (No space left on device), "
                                        "try again later"])
        # The transaction is over and the session still works.
        assert client.cmd("MAIL FROM:<alice@example.com>")[0] == 250
        assert client.cmd("QUIT")[0] == 221
        server.assert_nothing_sent()  # an OSError is the store's expected failure: no error


def test_a_scripted_2xx_is_not_sent_for_mail_that_was_not_stored(wire) -> None:
    with FakeSMTPServer(store=_disk_full) as server:
        server.on("END_OF_DATA").reply(250, "2.0.0 queued as SCRIPTED")
        client = wire(server.address)
        _send(client, ["bob@example.com"])
        assert client.reply()[0] == 451
        server.assert_nothing_sent()


def test_a_store_bug_is_a_451_and_a_server_error(wire) -> None:
    def broken(message: CapturedMessage) -> None:
        raise KeyError("oops")

    server = FakeSMTPServer(store=broken)
    server.start()
    try:
        client = wire(server.address)
        _send(client, ["bob@example.com"])
        assert client.reply() == (451, ["4.3.0 Message not stored (KeyError), try again later"])
    finally:
        with pytest.raises(ServerError, match="KeyError: 'oops'"):
            server.stop()


def test_lmtp_every_recipient_that_would_have_got_250_gets_451(wire) -> None:
    with FakeLMTPServer(store=_disk_full) as server:
        server.on("END_OF_DATA", to="carol@example.com").reply(550, "5.1.1 No such user")
        client = wire(server.address)
        _send(client, ["alice@example.com", "carol@example.com", "bob@example.com"], "LHLO me")
        reason = "Message not stored (No space left on device), try again later"
        assert client.reply() == (451, [f"4.3.0 <alice@example.com> {reason}"])
        assert client.reply() == (550, ["5.1.1 No such user"])
        assert client.reply() == (451, [f"4.3.0 <bob@example.com> {reason}"])
        server.assert_nothing_sent()


def test_store_must_be_callable() -> None:
    with pytest.raises(TypeError, match="store must be a callable"):
        FakeSMTPServer(store="/tmp/Maildir")  # type: ignore[arg-type]

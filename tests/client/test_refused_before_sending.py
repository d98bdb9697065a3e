"""Bad input is refused before a byte of the transaction is sent, and the session stays usable.

A scripted server records every line it receives, so each test can show that nothing of the
refused transaction reached the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import smtpclient

from ._servers import ScriptedServer, StartServer

LOCAL = "client.test"
Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]
GREET = (None, b"220 scripted\r\n")
EHLO = (b"EHLO", b"250-scripted\r\n250 8BITMIME\r\n")


def quit_and_read(smtp: smtpclient.SMTP, server: ScriptedServer) -> list[bytes]:
    smtp.quit()
    server.close()
    assert not server.errors
    return server.received


@pytest.mark.parametrize(
    ("to_addrs", "mail_options", "rcpt_options"),
    [
        (["ok@example.com", "bad@example.com\r\nRSET"], (), ()),
        (["ok@example.com", "bad\x00@example.com"], (), ()),
        (["ok@example.com"], ("BODY=8BITMIME\r\nRSET",), ()),
        (["ok@example.com", "also@example.com"], (), ("NOTIFY=NEVER\x7f",)),
    ],
)
def test_sendmail_refuses_a_control_character_before_mail(
    scripted: Scripted, to_addrs: list[str], mail_options: Any, rcpt_options: Any
) -> None:
    server = scripted([GREET, EHLO])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        smtp.ehlo()
        with pytest.raises(ValueError, match="prohibited"):
            smtp.sendmail("a@example.com", to_addrs, "hi\n", mail_options, rcpt_options)
        received = quit_and_read(smtp, server)
    finally:
        smtp.close()
    assert received == [b"ehlo client.test\r\n", b"quit\r\n"]


def test_sendmail_refuses_before_ehlo_too(scripted: Scripted) -> None:
    server = scripted([GREET])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(ValueError, match="prohibited"):
            smtp.sendmail("a@example.com\n", ["b@example.com"], "hi\n")
        received = quit_and_read(smtp, server)
    finally:
        smtp.close()
    assert received == [b"quit\r\n"]


@pytest.mark.parametrize(
    "address",
    [
        "a@example.com\r\nRCPT TO:<c@example.com>",  # parseaddr would drop the second line
        "Name <a@example.com>\r\nDATA",
        "x\x00y <a@example.com>",
        "a@example.com (c\r\nd)",
    ],
)
@pytest.mark.parametrize("method", ["mail", "rcpt", "verify", "expn"])
def test_address_with_a_control_character_is_refused_not_rewritten(
    scripted: Scripted, address: str, method: str
) -> None:
    # smtplib quotes these to a clean "<a@example.com>" and sends it: the caller's argument is
    # silently changed. We refuse the argument as given.
    server = scripted([GREET])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(ValueError, match="prohibited"):
            getattr(smtp, method)(address)
        received = quit_and_read(smtp, server)
    finally:
        smtp.close()
    assert received == [b"quit\r\n"]


def test_authobject_failing_on_a_challenge_cancels_the_exchange(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL, timeout=5) as smtp:
        smtp.ehlo()

        def authobject(challenge: bytes | None = None) -> str:
            if challenge is None:
                return "alice"
            raise RuntimeError("no password at hand")

        with pytest.raises(RuntimeError, match="no password"):
            smtp.auth("LOGIN", authobject)
        # The server got "*" (RFC 4954 cancel), so the next command is answered as itself.
        assert smtp.last_reply is not None
        assert smtp.last_reply.code == 501
        assert smtp.noop()[0] == 250
        smtp.user, smtp.password = "alice", "wonderland"
        assert smtp.auth("LOGIN", smtp.auth_login)[0] == 235


def test_non_ascii_password_on_a_challenge_cancels_the_exchange(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL, timeout=5) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "alice", "wönderland"
        with pytest.raises(UnicodeEncodeError):
            smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        assert smtp.noop()[0] == 250


def test_data_with_a_non_ascii_str_fails_before_data_is_sent(scripted: Scripted) -> None:
    server = scripted([GREET])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(UnicodeEncodeError):
            smtp.data("Subject: caf\u00e9\n\nbody\n")
        received = quit_and_read(smtp, server)
    finally:
        smtp.close()
    # smtplib sends DATA first and leaves the server waiting for a message that never comes.
    assert received == [b"quit\r\n"]


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(
    ("to_addrs", "rcpt_options"),
    [
        (["ok@example.com", "jörg@example.com"], ()),  # no SMTPUTF8: not encodable in ASCII
        (["ok@example.com"], ("ORCPT=rfc822;jörg@example.com",)),
    ],
)
def test_an_argument_that_cannot_be_encoded_is_refused_before_mail(
    scripted: Scripted, to_addrs: list[str], rcpt_options: Any, pipelining: bool
) -> None:
    # smtplib raises the same UnicodeEncodeError, but from RCPT, after MAIL was accepted and
    # without RSET: its next sendmail meets "503 nested MAIL command".
    server = scripted(
        [
            GREET,
            (b"EHLO", b"250-scripted\r\n250 PIPELINING\r\n"),
            (b"MAIL", b"250 ok\r\n"),
            (b"RCPT", b"250 ok\r\n"),
            (b"DATA", b"354 go\r\n"),
            (b".", b"250 queued\r\n"),
        ]
    )
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    smtp.pipelining = pipelining
    try:
        with pytest.raises(UnicodeEncodeError, match="ascii"):
            smtp.sendmail("a@example.com", to_addrs, "hi\n", (), rcpt_options)
        assert smtp.sendmail("a@example.com", ["ok@example.com"], "hi\n") == {}
        received = quit_and_read(smtp, server)
    finally:
        smtp.close()
    assert [line.split(b" ")[0].lower() for line in received] == [
        b"ehlo", b"mail", b"rcpt", b"data\r\n", b"hi\r\n", b"quit\r\n"
    ]  # fmt: skip

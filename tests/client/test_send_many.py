"""``SMTP.send_many``: one result per message, one round trip per message when pipelined.

Against smtpfake (which advertises PIPELINING) for the results, and raw scripted servers for
what only they can show: that message 2's commands leave before message 1 is confirmed, and
what a 421 or a hang-up between the two does.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import smtpclient
from smtpfake import FakeLMTPServer, FakeSMTPServer

from ._servers import DATA_END, HANGUP, ScriptedServer

LOCAL = "client.test"
Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]
GREETING = (None, b"220 scripted ESMTP\r\n")
EHLO = (b"EHLO", b"250-scripted\r\n250 PIPELINING\r\n")


@pytest.fixture
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as running:
        yield running


def letter(subject: str, to: str = "b@example.com") -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = to
    msg["Bcc"] = "hidden@example.com"
    msg["Subject"] = subject
    msg.set_content("body")
    return msg


@pytest.mark.parametrize("pipelining", [True, False])
def test_results_in_order_one_per_item(server: FakeSMTPServer, pipelining: bool) -> None:
    server.refuse_recipient("no@example.com")
    server.on("MAIL", sender="bad@example.com").reply(550, "5.7.1 not you")
    server.on("END_OF_DATA", sender="spam@example.com").reply(554, "5.6.0 spam")
    items: list[Any] = [
        ("a@example.com", ["b@example.com", "no@example.com"], "one\n"),
        letter("two"),
        ("bad@example.com", "b@example.com", b"three\r\n"),
        ("spam@example.com", "b@example.com", b"four\r\n"),
        ("a@example.com", ["no@example.com"], b"five\r\n"),
        ("a@example.com", ["b\r\n@example.com"], b"six\r\n"),
        ("a@example.com", [], b"seven\r\n"),
        ("a@example.com", "c@example.com", b"eight\r\n"),
    ]
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.pipelining = pipelining
        results = smtp.send_many(items)
        assert smtp.noop()[0] == 250  # in step afterwards
    assert results[0] == {"no@example.com": (550, b"5.1.1 No such user")}
    assert results[1] == {}
    assert isinstance(results[2], smtpclient.SMTPSenderRefused)
    assert results[2].args == (550, b"5.7.1 not you", "bad@example.com")
    assert isinstance(results[3], smtpclient.SMTPDataError)
    assert results[3].args == (554, b"5.6.0 spam")
    assert isinstance(results[4], smtpclient.SMTPRecipientsRefused)
    assert results[4].recipients == {"no@example.com": (550, b"5.1.1 No such user")}
    assert isinstance(results[5], ValueError)
    assert isinstance(results[6], smtpclient.SMTPRecipientsRefused)
    assert results[6].recipients == {}
    assert results[7] == {}
    delivered = server.wait_for(3)
    assert [m.raw.splitlines()[0] for m in delivered if not m.raw.startswith(b"From")] == [
        b"one",
        b"eight",
    ]
    assert [m.subject for m in delivered if m.raw.startswith(b"From")] == ["two"]
    assert delivered[1].rcpt_tos == ("b@example.com", "hidden@example.com")
    assert b"hidden" not in delivered[1].raw


def test_the_next_message_leaves_before_this_one_is_confirmed(scripted: Scripted) -> None:
    # Message 1's end of data is answered only once message 2's MAIL, RCPT and DATA arrived:
    # a client that waited for each message's reply would time out.
    server = scripted(
        [
            GREETING,
            EHLO,
            (b"MAIL FROM:<a@example.com>", b""),
            (b"RCPT", b""),
            (b"DATA", b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (DATA_END, b""),
            (b"MAIL FROM:<c@example.com>", b""),
            (b"RCPT", b""),
            (b"DATA", b"250 2.0.0 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
            (DATA_END, b"250 2.0.0 queued 2\r\n"),
        ]
    )
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5) as smtp:
        results = smtp.send_many(
            [
                ("a@example.com", "b@example.com", b"one\r\n"),
                ("c@example.com", "d@example.com", b"two\r\n"),
            ]
        )
        assert smtp.last_data_reply is not None
        assert smtp.last_data_reply.message == b"2.0.0 queued 2"
    assert results == [{}, {}]
    assert server.errors == []


@pytest.mark.parametrize(
    "end_of_first",
    [b"421 4.3.2 shutting down\r\n", HANGUP],
    ids=["421", "hang-up"],
)
def test_a_lost_connection_fails_every_message_not_yet_confirmed(
    scripted: Scripted, end_of_first: Any
) -> None:
    server = scripted(
        [
            GREETING,
            EHLO,
            (b"MAIL", b"250 ok\r\n"),
            (b"RCPT", b"250 ok\r\n"),
            (b"DATA", b"354 go\r\n"),
            (DATA_END, b"250 2.0.0 queued 1\r\n"),
            (b"MAIL", b"250 ok\r\n"),
            (b"RCPT", b"250 ok\r\n"),
            (b"DATA", b"354 go\r\n"),
            (DATA_END, end_of_first),
        ]
    )
    items = [("a@example.com", "b@example.com", f"message {i}\n") for i in range(4)]
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5) as smtp:
        results = smtp.send_many(items)
        assert smtp.sock is None
    assert results[0] == {}
    if end_of_first == HANGUP:
        assert isinstance(results[1], smtpclient.SMTPServerDisconnected)
    else:
        assert isinstance(results[1], smtpclient.SMTPDataError)
        assert results[1].smtp_code == 421
    for result in results[2:]:  # never reported as sent
        assert isinstance(result, smtpclient.SMTPServerDisconnected)


def test_lmtp_gives_per_recipient_results() -> None:
    with FakeLMTPServer() as server:
        server.on("END_OF_DATA", to="full@example.com").reply(452, "4.2.2 mailbox full")
        with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
            results = lmtp.send_many(
                [
                    ("a@example.com", ["b@example.com", "full@example.com"], b"one\r\n"),
                    ("a@example.com", ["c@example.com"], b"two\r\n"),
                ]
            )
    assert results == [{"full@example.com": (452, b"4.2.2 mailbox full")}, {}]


def test_not_connected_fails_every_item() -> None:
    smtp = smtpclient.SMTP(local_hostname=LOCAL)
    results = smtp.send_many([("a@example.com", "b@example.com", b"x\r\n")] * 2)
    assert [type(r) for r in results] == [smtpclient.SMTPServerDisconnected] * 2


def test_an_overridden_sendmail_sees_every_message(server: FakeSMTPServer) -> None:
    class Rewriting(smtpclient.SMTP):
        def sendmail(self, from_addr: str, to_addrs: Any, msg: Any, *args: Any) -> Any:
            return super().sendmail(from_addr, "staging@example.com", msg, *args)

    with Rewriting(server.host, server.port, local_hostname=LOCAL) as smtp:
        results = smtp.send_many([("a@example.com", "b@example.com", "x\n"), letter("y")])
    assert results == [{}, {}]
    assert [m.rcpt_tos for m in server.wait_for(2)] == [("staging@example.com",)] * 2

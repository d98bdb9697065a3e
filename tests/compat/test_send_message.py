"""send_message: envelope from headers (Sender, Resent-*), Bcc stripped, SMTPUTF8, 8BITMIME."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from typing import Any

import pytest

from tests._support.wire import wire

from ._harness import Conversation, compare

UTF8_EHLO = "250-peer.test\n250-8BITMIME\n250-SIZE 100000\n250 SMTPUTF8"


def message(headers: list[tuple[str, str]], body: str = "Hello.\n.dot line\n") -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    return msg


BASIC = [
    ("From", "Alice <alice@example.org>"),
    ("To", "Bob <bob@example.org>, carol@example.org"),
    ("Cc", "dave@example.org"),
    ("Bcc", "Eve <eve@example.org>"),
    ("Subject", "envelope"),
]


def send_message(msg: Message, **kw: Any) -> Any:
    def conv(c: Conversation) -> Any:
        return c.smtp().send_message(msg, **kw)

    return conv


def test_envelope_from_headers_and_bcc_stripped(make_peer: Any) -> None:
    out = compare(make_peer(), send_message(message(BASIC)))
    units = out.sent[0]
    assert units[1] == wire(b"mail FROM:<alice@example.org>\r\n")
    rcpts = [u for u in units if u.startswith(b"rcpt")]
    assert rcpts == [
        wire(b"rcpt TO:<bob@example.org>\r\n"),
        wire(b"rcpt TO:<carol@example.org>\r\n"),
        wire(b"rcpt TO:<eve@example.org>\r\n"),
        wire(b"rcpt TO:<dave@example.org>\r\n"),
    ]
    payload = next(u for u in units if u.endswith(b"\r\n.\r\n"))
    assert b"Bcc" not in payload
    assert b"\r\n..dot line\r\n" in payload


def test_sender_header_wins_over_from(make_peer: Any) -> None:
    msg = message([*BASIC, ("Sender", "Secretary <sec@example.org>")])
    out = compare(make_peer(), send_message(msg))
    assert out.sent[0][1] == wire(b"mail FROM:<sec@example.org>\r\n")


def test_resent_block_gives_the_envelope(make_peer: Any) -> None:
    headers = [
        *BASIC,
        ("Resent-Date", "Thu, 1 Jan 2026 00:00:00 +0000"),
        ("Resent-From", "Forwarder <fwd@example.org>"),
        ("Resent-To", "new@example.org"),
        ("Resent-Bcc", "hidden@example.org"),
    ]
    out = compare(make_peer(), send_message(message(headers)))
    units = out.sent[0]
    assert units[1] == wire(b"mail FROM:<fwd@example.org>\r\n")
    assert [u for u in units if u.startswith(b"rcpt")] == [
        wire(b"rcpt TO:<new@example.org>\r\n"),
        wire(b"rcpt TO:<hidden@example.org>\r\n"),
    ]
    payload = next(u for u in units if u.endswith(b"\r\n.\r\n"))
    assert b"Resent-Bcc" not in payload
    assert b"\r\nBcc" not in payload


def test_two_resent_blocks_are_refused(make_peer: Any) -> None:
    headers = [
        *BASIC,
        ("Resent-Date", "Thu, 1 Jan 2026 00:00:00 +0000"),
        ("Resent-Date", "Fri, 2 Jan 2026 00:00:00 +0000"),
    ]
    out = compare(make_peer(), send_message(message(headers)))
    assert out.error is not None
    assert out.error.type == "ValueError"


def test_explicit_envelope_overrides_headers(make_peer: Any) -> None:
    msg = message(BASIC)
    conv = send_message(msg, from_addr="bounce@example.org", to_addrs=["only@example.org"])
    out = compare(make_peer(), conv)
    assert out.sent[0][1:3] == [
        wire(b"mail FROM:<bounce@example.org>\r\n"),
        wire(b"rcpt TO:<only@example.org>\r\n"),
    ]


def test_internationalised_address_uses_smtputf8(make_peer: Any) -> None:
    msg = message(
        [
            ("From", "J\u00f6rg <j\u00f6rg@exampl\u00e9.org>"),
            ("To", "b@example.org"),
            ("Subject", "x"),
        ],
        body="Gr\u00fc\u00dfe\n",
    )
    out = compare(make_peer({"EHLO": UTF8_EHLO}), send_message(msg))
    assert out.sent[0][1].startswith(wire("mail FROM:<j\u00f6rg@exampl\u00e9.org> size=").encode())
    assert out.sent[0][1].endswith(b" SMTPUTF8 BODY=8BITMIME\r\n")


def test_internationalised_address_without_smtputf8(make_peer: Any) -> None:
    msg = message([("From", "j\u00f6rg@example.org"), ("To", "b@example.org")])
    out = compare(make_peer(), send_message(msg))
    assert out.error is not None
    assert out.error.type == "SMTPNotSupportedError"
    assert [u for u in out.sent[0] if u.startswith(b"mail")] == []


def test_eight_bit_body_with_mail_options(make_peer: Any) -> None:
    msg = message(BASIC[:2], body="na\u00efve caf\u00e9 \u2014 8 bit body\n")
    out = compare(make_peer({"EHLO": UTF8_EHLO}), send_message(msg, mail_options=["BODY=8BITMIME"]))
    assert out.sent[0][1].endswith(b" BODY=8BITMIME\r\n")


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.SMTP, email.policy.default])
def test_legacy_message_objects(make_peer: Any, policy: Any) -> None:
    raw = (
        "From: a@example.org\nTo: b@example.org, c@example.org\nBcc: d@example.org\n"
        "Subject: legacy\n\nfirst line\n.second line\n"
    )
    msg = email.message_from_string(raw, policy=policy)
    out = compare(make_peer(), send_message(msg))
    assert len([u for u in out.sent[0] if u.startswith(b"rcpt")]) == 3

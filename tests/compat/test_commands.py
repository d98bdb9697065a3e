"""Single commands: verify/expn/help/noop/rset/docmd, putcmd+getreply, mail/rcpt, data."""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.wire import wire

from ._harness import Conversation, compare
from ._peer import SILENT

SMTPUTF8_EHLO = "250-peer.test\n250-8BITMIME\n250 SMTPUTF8"


def test_verify_vrfy_expn_use_the_bare_address(make_peer: Any) -> None:
    peer = make_peer({"VRFY": ["250 Alice <alice@example.org>", "550 5.1.1 unknown"]})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return (
            s.verify("Alice <alice@example.org>"),
            s.vrfy("bob@example.org"),
            s.expn("Staff List <staff@example.org>"),
            s.verify("not an address"),
        )

    out = compare(peer, conv)
    assert out.sent[0][:3] == [
        b"vrfy alice@example.org\r\n",
        b"vrfy bob@example.org\r\n",
        b"expn staff@example.org\r\n",
    ]


def test_help_returns_the_text_only(make_peer: Any) -> None:
    peer = make_peer({"HELP": "214-commands:\n214 HELO EHLO MAIL RCPT DATA"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.help(), s.help("MAIL")

    out = compare(peer, conv)
    assert out.value[0] == b"commands:\nHELO EHLO MAIL RCPT DATA"


def test_noop_rset_docmd(make_peer: Any) -> None:
    peer = make_peer({"XCLIENT": "220 2.0.0 fine", "XEMPTY": "250"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.noop(), s.rset(), s.docmd("XCLIENT", "NAME=x"), s.docmd("XEMPTY"), s.docmd("QQQ")

    out = compare(peer, conv)
    assert out.value[3] == (250, b"")
    assert out.value[4] == (500, b"5.5.2 command not recognized")


def test_putcmd_then_getreply(make_peer: Any) -> None:
    peer = make_peer({"NOOP": "250-one\n250-two\n250 three"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.putcmd("NOOP")
        s.putcmd("noop", "with args")
        return s.getreply(), s.getreply()

    out = compare(peer, conv)
    assert out.value[0] == (250, b"one\ntwo\nthree")


@pytest.mark.parametrize(
    "raw",
    [
        b"250 plain\r\n",
        b"250 bare LF line\n",
        b"250\r\n",
        b"250-\r\n250 \r\n",
        b"250 trailing spaces and tab \t \r\n",
        b"250 caf\xc3\xa9 \xff bytes\r\n",
    ],
)
def test_odd_replies_are_parsed_the_same(make_peer: Any, raw: bytes) -> None:
    """Well-formed if unusual replies; malformed ones are in test_deliberate_differences."""
    peer = make_peer({"NOOP": raw})
    compare(peer, lambda c: c.smtp().noop())


def test_mail_and_rcpt_with_options_on_esmtp(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        return (
            s.mail("Sender <sender@example.org>", ["BODY=8BITMIME", "RET=HDRS"]),
            s.rcpt("rcpt@example.org", ["NOTIFY=NEVER"]),
            s.rcpt("<already@quoted.org>"),
            s.mail(""),
        )

    out = compare(make_peer(), conv)
    assert out.sent[0][1:5] == [
        wire(b"mail FROM:<sender@example.org> BODY=8BITMIME RET=HDRS\r\n"),
        wire(b"rcpt TO:<rcpt@example.org> NOTIFY=NEVER\r\n"),
        wire(b"rcpt TO:<already@quoted.org>\r\n"),
        wire(b"mail FROM:<>\r\n"),
    ]


def test_options_are_dropped_without_esmtp(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.helo()
        return s.mail("a@example.org", ["SIZE=10"]), s.rcpt("b@example.org", ["NOTIFY=NEVER"])

    out = compare(make_peer(), conv)
    assert out.sent[0][1:3] == [
        wire(b"mail FROM:<a@example.org>\r\n"),
        wire(b"rcpt TO:<b@example.org>\r\n"),
    ]


def test_mail_smtputf8_not_supported(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        s.mail("a@example.org", ["SMTPUTF8"])

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPNotSupportedError",
        ("SMTPUTF8 not supported by server",),
    )


def test_mail_smtputf8_switches_encoding_until_rset(make_peer: Any) -> None:
    peer = make_peer({"EHLO": SMTPUTF8_EHLO})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        s.mail("j\u00f6rg@example.org", ["SMTPUTF8"])
        s.rcpt("\u00e9lodie@example.org")
        encoding = s.command_encoding
        s.rset()
        return encoding

    out = compare(peer, conv)
    assert out.value == "utf-8"
    assert out.sent[0][1] == wire("mail FROM:<j\u00f6rg@example.org> SMTPUTF8\r\n").encode()
    assert out.clients[0]["command_encoding"] == "ascii"


def test_non_ascii_command_without_smtputf8(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        c.smtp().mail("j\u00f6rg@example.org")

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert out.error.type == "UnicodeEncodeError"
    assert out.sent == [[b"[client closed]"]]


@pytest.mark.parametrize(
    "body",
    [
        "line one\nline two\n",
        "CR only\rline\r",
        "mixed\r\nends\nand\rmore",
        ".leading dot\n..two dots\n.\nend",
        "no final newline",
        "",
        b".bytes keep\nbare LF\r\n.as is",
        b"ends with CRLF\r\n",
        b"\r\n.\r\n",
    ],
)
def test_data_quotes_and_terminates(make_peer: Any, body: str | bytes) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.data(body)

    out = compare(make_peer(), conv)
    assert out.value == (250, b"2.0.0 queued as 4711")
    assert out.sent[0][1].endswith(b"\r\n.\r\n") or out.sent[0][1] == b".\r\n"


def test_data_refused(make_peer: Any) -> None:
    peer = make_peer({"DATA": "503 5.5.1 need RCPT first"})

    def conv(c: Conversation) -> Any:
        c.smtp().data("hello")

    out = compare(peer, conv)
    assert out.error is not None
    assert out.error.type == "SMTPDataError"
    assert out.error.attrs == {"smtp_code": 503, "smtp_error": b"5.5.1 need RCPT first"}


def test_data_end_refused_is_returned(make_peer: Any) -> None:
    peer = make_peer({"EOD": "554 5.6.0 content rejected"})

    def conv(c: Conversation) -> Any:
        return c.smtp().data("hello")

    assert compare(peer, conv).value == (554, b"5.6.0 content rejected")


INJECTIONS = {
    "docmd": lambda s: s.docmd("NOOP", "x\r\nRSET"),
    "helo": lambda s: s.helo("client.test\nRSET"),
    "mail option": lambda s: s.mail("a@example.org", ["X=1\rRSET"]),
    "rcpt option": lambda s: s.rcpt("b@example.org", ["NOTIFY=NEVER\r\nRSET"]),
    "putcmd": lambda s: s.putcmd("NOOP\r\nRSET"),
}


@pytest.mark.parametrize("call", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_newlines_in_commands_are_refused_before_sending(make_peer: Any, call: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        call(s)

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert out.error.type == "ValueError"
    assert out.sent == [[b"ehlo client.test\r\n", b"[client closed]"]]


def test_read_timeout_closes_the_connection(make_peer: Any) -> None:
    peer = make_peer({"NOOP": SILENT})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.sock.settimeout(0.3)  # short for the NOOP only, so a slow greeting cannot time out
        s.noop()

    out = compare(peer, conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPServerDisconnected",
        ("Connection unexpectedly closed: timed out",),
    )
    assert out.clients[0]["sock is None"] is True

"""The views a captured message offers: text, HTML, Cc/Bcc, attachments, headers, links; and
text that cannot be decoded, which never breaks an assertion (issue 11 item 7)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from smtpfake import Attachment, CapturedMessage, FakeSMTPServer


def _deliver(server: FakeSMTPServer, msg: EmailMessage | bytes, to: list[str]) -> CapturedMessage:
    with smtplib.SMTP(*server.address) as client:
        if isinstance(msg, bytes):
            client.sendmail("app@example.com", to, msg)
        else:
            client.send_message(msg, to_addrs=to)
    return server.outbox.last


def _rich() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Shop <shop@example.com>"
    msg["To"] = "Ann <ann@example.org>, bob@example.org"
    msg["Cc"] = "Carol <CAROL@example.org>"
    msg["Subject"] = "Your invoice"
    msg["X-Tag"] = "first"
    msg["X-Tag"] = "second"
    msg.set_content("Hello Ann,\nreset: https://shop.example.com/reset?t=abc.\nBye\n")
    msg.add_alternative(
        '<p>Hello <b>Ann</b>, <a href="https://shop.example.com/reset?t=abc&amp;u=1">reset</a>'
        ' or <a href="https://shop.example.com/unsubscribe">leave</a>.</p>\n',
        subtype="html",
    )
    msg.add_attachment(b"%PDF-1.4 \x00\xff", maintype="application", subtype="pdf",
                       filename="invoice.pdf")
    msg.add_attachment("a,b\n1,2\n", subtype="csv", filename="données.csv")
    return msg


def test_text_html_and_addresses(server: FakeSMTPServer) -> None:
    to = ["ann@example.org", "bob@example.org", "carol@example.org", "dave@example.org"]
    captured = _deliver(server, _rich(), to)
    assert captured.text == "Hello Ann,\nreset: https://shop.example.com/reset?t=abc.\nBye\n"
    assert captured.html is not None
    assert captured.html.startswith("<p>Hello <b>Ann</b>")
    assert captured.to == ("ann@example.org", "bob@example.org")
    assert captured.cc == ("CAROL@example.org",)
    assert captured.bcc == ("dave@example.org",)  # Carol is in Cc, whatever the case


def test_plain_message_has_no_html_and_no_attachments(server: FakeSMTPServer) -> None:
    captured = _deliver(server, b"Subject: hi\r\n\r\nJust text\r\n", ["a@example.org"])
    assert captured.text == "Just text\n"
    assert captured.html is None
    assert captured.attachments == ()
    assert captured.cc == ()
    assert captured.bcc == ("a@example.org",)


def test_html_only_message_has_empty_text(server: FakeSMTPServer) -> None:
    raw = b"Subject: hi\r\nContent-Type: text/html\r\n\r\n<p>only html</p>\r\n"
    captured = _deliver(server, raw, ["a@example.org"])
    assert captured.text == ""
    assert captured.html == "<p>only html</p>\n"


def test_attachments_with_names_types_and_bytes(server: FakeSMTPServer) -> None:
    captured = _deliver(server, _rich(), ["ann@example.org"])
    assert captured.attachments == (
        Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 \x00\xff"),
        Attachment("données.csv", "text/csv", b"a,b\r\n1,2\r\n"),  # text travels with CRLF
    )
    assert repr(captured.attachments[0]) == (
        "Attachment(filename='invoice.pdf', content_type='application/pdf', size=11)"
    )


def test_attached_message_is_one_attachment(server: FakeSMTPServer) -> None:
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner body")
    inner.add_attachment(b"x", maintype="application", subtype="octet-stream", filename="in.bin")
    outer = EmailMessage()
    outer["Subject"] = "fwd"
    outer.set_content("see attached")
    outer.add_attachment(inner)
    captured = _deliver(server, outer, ["a@example.org"])
    [attached] = captured.attachments
    assert attached.content_type == "message/rfc822"
    assert attached.filename is None
    assert b"Subject: forwarded" in attached.content
    assert captured.text == "see attached\n"


def test_headers_by_name_case_insensitive_all_values(server: FakeSMTPServer) -> None:
    captured = _deliver(server, _rich(), ["ann@example.org"])
    assert captured.headers["x-tag"] == ("first", "second")
    assert captured.headers["SUBJECT"] == ("Your invoice",)
    assert "X-Tag" in captured.headers
    assert captured.headers.get("X-Missing", ()) == ()
    with pytest.raises(KeyError):
        captured.headers["X-Missing"]
    assert list(captured.headers).count("X-Tag") == 1


def test_encoded_headers_are_decoded(server: FakeSMTPServer) -> None:
    raw = (b"Subject: =?utf-8?q?caf=C3=A9?=\r\nTo: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>\r\n"
           b"X-Note: a long value\r\n folded over two lines\r\n\r\nbody\r\n")
    captured = _deliver(server, raw, ["zoe@example.org"])
    assert captured.subject == "café"
    assert captured.headers["To"] == ("Zoë <zoe@example.org>",)
    assert captured.headers["X-Note"] == ("a long value folded over two lines",)
    assert captured.to == ("zoe@example.org",)


def test_links_in_order_each_once(server: FakeSMTPServer) -> None:
    captured = _deliver(server, _rich(), ["ann@example.org"])
    assert captured.links == (
        "https://shop.example.com/reset?t=abc",  # the text's, without the full stop
        "https://shop.example.com/reset?t=abc&u=1",  # the HTML's, entity decoded
        "https://shop.example.com/unsubscribe",
    )


def test_text_links_keep_balanced_parentheses() -> None:
    from smtpfake._mail import _text_links

    text = "See (https://en.example.org/wiki/Mail_(x)), or <https://b.example/p>; http://c.example!"
    assert _text_links(text) == [
        "https://en.example.org/wiki/Mail_(x)", "https://b.example/p", "http://c.example",
    ]


def test_link_matching_returns_the_one_link(server: FakeSMTPServer) -> None:
    import re

    captured = _deliver(server, _rich(), ["ann@example.org"])
    assert captured.link(matching="unsubscribe") == "https://shop.example.com/unsubscribe"
    assert captured.link(matching=re.compile(r"u=\d")) == "https://shop.example.com/reset?t=abc&u=1"
    with pytest.raises(AssertionError, match=r"expected one link matching 'reset', found 2"):
        captured.link(matching="reset")
    with pytest.raises(AssertionError, match=r"found 0; the message has 3 link\(s\):\n  https"):
        captured.link(matching="nowhere")
    with pytest.raises(AssertionError, match=r"expected one link, found 3"):
        captured.link()


def test_link_without_links_says_so(server: FakeSMTPServer) -> None:
    captured = _deliver(server, b"Subject: x\r\n\r\nno links\r\n", ["a@example.org"])
    assert captured.links == ()
    with pytest.raises(AssertionError, match=r"found 0; the message has 0 link\(s\)$"):
        captured.link()


UNDECODABLE = [
    b"Subject: x\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nna\xefve caf\xc3\xa9 https://a.example/x\r\n",
    b"Subject: x\r\nContent-Type: text/plain; charset=utf8mb4\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nna\xefve caf\xc3\xa9 https://a.example/x\r\n",
    b"Subject: x\r\nContent-Type: text/plain; charset=us-ascii\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nna\xefve caf\xc3\xa9 https://a.example/x\r\n",
]


@pytest.mark.parametrize("raw", UNDECODABLE, ids=["unknown-8bit", "utf8mb4", "8bit-in-ascii"])
def test_undecodable_text_is_read_with_replacement_characters(
    server: FakeSMTPServer, raw: bytes
) -> None:
    captured = _deliver(server, raw, ["a@example.org"])
    assert "\ufffd" in captured.text  # the stray byte
    assert captured.text.startswith("na")
    assert captured.links == ("https://a.example/x",)
    server.assert_sent(1, body_contains="https://a.example/x")
    assert server.outbox.find(body_contains="ve caf") == [captured]
    with pytest.raises(AssertionError, match="expected at least 1 message"):
        server.assert_sent(body_contains="absent")


def test_undecodable_html_part_and_attachment(server: FakeSMTPServer) -> None:
    raw = (b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/html; charset=utf8mb4\r\n\r\n<a href='https://h.example'>"
           b"caf\xc3\xa9</a>\r\n"
           b"--B\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
           b"Content-Disposition: attachment; filename=notes.txt\r\n\r\n\xff\xfe\r\n--B--\r\n")
    captured = _deliver(server, raw, ["a@example.org"])
    assert captured.html == "<a href='https://h.example'>café</a>"  # the CRLF is the boundary's
    assert captured.attachments == (Attachment("notes.txt", "text/plain", b"\xff\xfe"),)
    server.assert_sent(1, html_contains="café", has_attachment="notes.txt")

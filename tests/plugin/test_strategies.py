"""``smtpfake.strategies``: what they draw is valid, international, and survives delivery."""

from __future__ import annotations

import html
import re
import smtplib
import unicodedata
from collections.abc import Iterator
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from smtpfake import Attachment, FakeSMTPServer
from smtpfake.strategies import (
    addresses,
    attachments,
    display_names,
    domains,
    email_messages,
    header_texts,
    urls,
)

ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")


def parse_address_header(value: str) -> list[tuple[str, str]]:
    # A str parse: BytesParser would read non-ASCII header bytes as surrogate escapes.
    parsed = message_from_string(f"To: {value}\n\n", policy=policy.SMTPUTF8)
    return [(a.display_name, a.addr_spec) for a in parsed["To"].addresses]


@given(addresses())
def test_addresses_are_valid_and_parse_back(address: str) -> None:
    local, _, domain = address.rpartition("@")
    assert parse_address_header(address) == [("", address)]
    assert 1 <= len(local.encode()) <= 64
    assert len(address.encode()) <= 254
    atoms = local.split(".")
    assert all(atoms), "no empty atom: no leading, trailing or doubled dot"
    assert all(c in ATEXT or (not c.isascii() and c.isalpha()) for c in "".join(atoms))
    for label in domain.split("."):
        a_label = label.encode("idna")
        assert 1 <= len(a_label) <= 63
        assert not label.startswith("-")
        assert not label.endswith("-")


@given(addresses(international=False))
def test_ascii_addresses_need_no_smtputf8(address: str) -> None:
    assert address.isascii()
    assert parse_address_header(address) == [("", address)]


def test_international_values_are_drawn() -> None:
    assert not find(addresses(), lambda a: not a.partition("@")[0].isascii()).isascii()
    assert not find(domains(), lambda d: not d.isascii()).isascii()
    assert not find(display_names(), lambda n: not n.isascii()).isascii()
    assert not find(header_texts(), lambda t: not t.isascii()).isascii()


def test_email_messages_rejects_no_recipients() -> None:
    with pytest.raises(ValueError, match="max_recipients"):
        email_messages(max_recipients=0)


def mailboxes(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = msg[name]
    return [] if header is None else [(a.display_name, a.addr_spec) for a in header.addresses]


def squeeze(text: str) -> str:
    return "".join(text.split())


def assert_same_message(
    parsed: EmailMessage, original: EmailMessage, *, encoded_words: bool = False
) -> None:
    """Headers read back equal the original's.

    With ``encoded_words`` (a serialisation without SMTPUTF8, where non-ASCII text becomes RFC
    2047 encoded words) whitespace in display names and the Subject is not compared: the
    email package of the Pythons we support may fold a long value between two encoded words
    with the space on the wrong side, so "ab c" reads back as "a bc" (CPython gh-144156).
    """
    for name in ("From", "To", "Cc"):
        got, want = mailboxes(parsed, name), mailboxes(original, name)
        if encoded_words:
            got = [(squeeze(display), address) for display, address in got]
            want = [(squeeze(display), address) for display, address in want]
        assert got == want
    # A Subject too long for one line may be folded before its first word: unfolding keeps
    # that leading space, so the value is compared without it.
    if encoded_words:
        assert squeeze(parsed["Subject"]) == squeeze(original["Subject"])
    else:
        assert parsed["Subject"].strip() == original["Subject"]
    assert parsed["Message-ID"] == original["Message-ID"]


@given(email_messages())
def test_messages_round_trip_through_smtputf8_serialisation(msg: EmailMessage) -> None:
    raw = msg.as_bytes(policy=policy.SMTPUTF8)
    assert_same_message(message_from_string(raw.decode(), policy=policy.default), msg)
    body = message_from_bytes(raw, policy=policy.default)
    assert body.get_content().replace("\r\n", "\n") == msg.get_content()


@given(email_messages(international=False))
def test_ascii_address_messages_serialise_for_any_server(msg: EmailMessage) -> None:
    raw = msg.as_bytes(policy=policy.SMTP)
    assert raw.isascii() or msg["Content-Transfer-Encoding"] == "8bit"
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()  # non-ASCII headers are RFC 2047 encoded words
    parsed = message_from_bytes(raw, policy=policy.default)
    assert_same_message(parsed, msg, encoded_words=True)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as server:
        yield server


@given(msg=email_messages(), data=st.data())
def test_messages_are_delivered_intact(
    server: FakeSMTPServer, msg: EmailMessage, data: st.DataObject
) -> None:
    server.reset()
    with smtplib.SMTP(*server.address, timeout=5) as client:
        refused = client.send_message(msg)  # SMTPUTF8 when an address needs it
    assert refused == {}
    (captured,) = server.wait_for(1)
    recipients = [addr for name in ("To", "Cc") for _, addr in mailboxes(msg, name)]
    assert list(captured.rcpt_tos) == recipients
    assert captured.mail_from == mailboxes(msg, "From")[0][1]
    parsed = message_from_string(captured.raw.decode(), policy=policy.default)
    international = not all(address.isascii() for address in [captured.mail_from, *recipients])
    assert_same_message(parsed, msg, encoded_words=not international)
    assert captured.text.replace("\r\n", "\n") == msg.get_content()


def test_rich_message_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_attachments"):
        email_messages(max_attachments=-1)
    with pytest.raises(ValueError, match="max_words"):
        header_texts(max_words=0)


@given(attachment=attachments())
def test_attachments_are_valid(attachment: Attachment) -> None:
    assert attachment.filename
    assert "." in attachment.filename
    assert unicodedata.normalize("NFC", attachment.filename) == attachment.filename
    assert attachment.content_type.count("/") == 1


@given(url=urls())
def test_urls_are_found_in_text(url: str) -> None:
    assert url.startswith("https://")
    from smtpfake._mail import _text_links

    assert _text_links(f"Reset it at {url}.") == [url]


def test_rich_messages_draw_html_attachments_and_folded_headers() -> None:
    drawn: list[EmailMessage] = []

    @settings(max_examples=60)
    @given(email_messages(international=False, html=True, max_attachments=3))
    def collect(msg: EmailMessage) -> None:
        drawn.append(msg)

    collect()
    assert all(m.get_body(preferencelist=("html",)) is not None for m in drawn)
    assert any(len(list(m.iter_attachments())) >= 2 for m in drawn)
    assert any(not (a.get_filename() or "").isascii() for m in drawn for a in m.iter_attachments())
    wire = [m.as_bytes(policy=policy.SMTP) for m in drawn]
    assert any(b"=?utf-8?" in raw.split(b"\r\n\r\n")[0] for raw in wire)  # encoded words
    assert any(b"\r\n " in raw.split(b"\r\n\r\n")[0].split(b"Subject:")[1].split(b"\r\nDate")[0]
               for raw in wire)  # a folded Subject


@settings(max_examples=50)  # each example is a delivery
@given(msg=email_messages(html=True, max_attachments=3), bcc=addresses(international=False))
def test_rich_messages_read_back_through_the_views(
    server: FakeSMTPServer, msg: EmailMessage, bcc: str
) -> None:
    server.reset()
    shown = [addr for name in ("To", "Cc") for _, addr in mailboxes(msg, name)]
    with smtplib.SMTP(*server.address, timeout=5) as client:
        refused = client.send_message(msg, to_addrs=[*shown, bcc])
    assert refused == {}
    (captured,) = server.wait_for(1)
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    assert captured.html == html_part.get_content().replace("\r\n", "\n")
    assert captured.text == msg.get_body(preferencelist=("plain",)).get_content()
    assert captured.attachments == tuple(
        Attachment(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in msg.iter_attachments()
    )
    assert list(captured.to) == [addr for _, addr in mailboxes(msg, "To")]
    assert list(captured.cc) == [addr for _, addr in mailboxes(msg, "Cc")]
    hidden = [bcc] if bcc.casefold() not in {a.casefold() for a in shown} else []
    assert list(captured.bcc) == hidden
    assert captured.headers["Message-ID"] == (msg["Message-ID"],)
    hrefs = list(dict.fromkeys(html.unescape(h) for h in
                               re.findall(r'href="([^"]+)"', html_part.get_content())))
    assert [link for link in captured.links if link in hrefs] == hrefs  # all, in order
    for part in msg.iter_attachments():
        server.assert_sent(1, has_attachment=part.get_filename())

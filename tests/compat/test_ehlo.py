"""HELO/EHLO, the fallback to HELO, and parsing of the advertised extensions."""

from __future__ import annotations

from typing import Any

import pytest

from ._harness import Conversation, compare

ODD_EHLO = "\n".join(
    [
        "250-peer.test hello",
        "250-SIZE 35882577",
        "250-AUTH=LOGIN PLAIN",
        "250-AUTH CRAM-MD5 XOAUTH2",
        "250-8BITMIME",
        "250-X-Weird   spaced   params  ",
        "250-lowercase",
        "250-bad!feature here",
        "250-ENHANCEDSTATUSCODES",
        "250-SIZE",
        "250 DSN",
    ]
)


def test_ehlo_features_are_parsed_the_same(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ODD_EHLO})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        reply = s.ehlo()
        probes = ["size", "SIZE", "auth", "8bitmime", "x-weird", "bad", "starttls", "dsn"]
        return reply, {p: s.has_extn(p) for p in probes}

    out = compare(peer, conv)
    features = out.clients[0]["esmtp_features"]
    assert features["auth"] == " LOGIN PLAIN CRAM-MD5 XOAUTH2"
    assert features["size"] == ""  # the later bare SIZE replaces the earlier value
    assert out.clients[0]["does_esmtp"] is True


def test_ehlo_with_explicit_name(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        return c.smtp().ehlo("explicit.example")

    out = compare(make_peer(), conv)
    assert out.sent[0][0] == b"ehlo explicit.example\r\n"


def test_helo(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.helo(), s.helo("other.example")

    out = compare(make_peer(), conv)
    assert out.clients[0]["helo_resp"] == b"peer.test"
    assert out.clients[0]["does_esmtp"] is False


def test_refused_ehlo_falls_back_to_helo(make_peer: Any) -> None:
    peer = make_peer({"EHLO": "502 5.5.1 no ESMTP here"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo_or_helo_if_needed()
        s.ehlo_or_helo_if_needed()  # a second call sends nothing
        return s.has_extn("8bitmime")

    out = compare(peer, conv)
    assert out.sent[0][:2] == [b"ehlo client.test\r\n", b"helo client.test\r\n"]
    assert out.clients[0]["ehlo_resp"] == b"5.5.1 no ESMTP here"


def test_refused_ehlo_and_helo_raise_helo_error(make_peer: Any) -> None:
    peer = make_peer({"EHLO": "502 no", "HELO": "550 5.7.1 go away"})

    def conv(c: Conversation) -> Any:
        c.smtp().ehlo_or_helo_if_needed()

    out = compare(peer, conv)
    assert out.error is not None
    assert out.error.type == "SMTPHeloError"
    assert out.error.attrs == {"smtp_code": 550, "smtp_error": b"5.7.1 go away"}


def test_second_ehlo_replaces_features(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ["250-peer.test\n250-SIZE 10\n250 STARTTLS", "250 peer.test"]})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        first = dict(s.esmtp_features)
        s.ehlo()
        return first

    out = compare(peer, conv)
    assert out.value == {"size": "10", "starttls": ""}
    assert out.clients[0]["esmtp_features"] == {}


@pytest.mark.parametrize(
    "reply",
    [
        "250 peer.test",
        "250-peer.test\n250 PIPELINING",
        "250-peer.test\r\n250 CHUNKING",
        "250-peer.test\n250-AUTH\n250 AUTH=PLAIN",
        "250-peer.test\n250 \xe9l\xe8ve",
    ],
)
def test_ehlo_reply_shapes(make_peer: Any, reply: str) -> None:
    peer = make_peer({"EHLO": reply})
    compare(peer, lambda c: c.smtp().ehlo())


def test_ehlo_refused_with_4xx_is_returned(make_peer: Any) -> None:
    peer = make_peer({"EHLO": "421 4.3.2 try later"})

    def conv(c: Conversation) -> Any:
        return c.smtp().ehlo()

    out = compare(peer, conv)
    assert out.value == (421, b"4.3.2 try later")
    assert out.clients[0]["does_esmtp"] is False

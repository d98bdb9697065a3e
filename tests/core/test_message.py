"""Message bytes: line endings, dot-stuffing (same results as smtplib's regexes), envelope."""

from __future__ import annotations

import email.message
import smtplib
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpclient import _message, quotedata
from smtpclient._message import (
    data_payload,
    envelope_from_headers,
    fix_eols,
    needs_smtputf8,
    stuff_dots,
)

texts = st.text(alphabet="ab.\r\n é", max_size=60)
blobs = st.binary(max_size=60) | st.lists(st.sampled_from([b".", b"\r", b"\n", b"x", b".."])).map(
    b"".join
)


def unstuff(data: str) -> str:
    """The receiver's side: drop the first dot of every line that starts with one."""
    lines = data.split("\r\n")
    return "\r\n".join(line[1:] if line.startswith(".") else line for line in lines)


@given(texts)
def test_quotedata_agrees_with_smtplib(text: str) -> None:
    assert quotedata(text) == smtplib.quotedata(text)


@given(texts)
def test_quotedata_then_unstuffing_is_the_identity(text: str) -> None:
    assert unstuff(quotedata(text)) == fix_eols(text)


@given(texts)
def test_fix_eols_agrees_with_smtplib(text: str) -> None:
    assert fix_eols(text) == smtplib._fix_eols(text)  # type: ignore[attr-defined]


@given(blobs)
def test_stuff_dots_agrees_with_smtplib(data: bytes) -> None:
    assert stuff_dots(data) == smtplib._quote_periods(data)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("msg", "payload"),
    [
        ("a\nb", b"a\r\nb\r\n.\r\n"),
        ("a\r\n", b"a\r\n.\r\n"),
        (".x\n.\n", b"..x\r\n..\r\n.\r\n"),
        (b"a\nb", b"a\nb\r\n.\r\n"),  # bytes are sent as they are, as smtplib does
        (b"", b"\r\n.\r\n"),
    ],
)
def test_data_payload(msg: str | bytes, payload: bytes) -> None:
    assert data_payload(msg) == payload


def test_data_payload_refuses_non_ascii_str() -> None:
    with pytest.raises(UnicodeEncodeError):
        data_payload("é")


def make(headers: list[tuple[str, str]]) -> email.message.Message:
    msg = email.message.Message()
    for name, value in headers:
        msg[name] = value
    return msg


def test_envelope_sender_prefers_sender_over_from() -> None:
    msg = make([("From", "a@x"), ("Sender", "s@x"), ("To", "b@x, c@x"), ("Cc", "d@x")])
    assert envelope_from_headers(msg, None, None) == ("s@x", ["b@x", "c@x", "d@x"])


def test_envelope_resent_headers_win() -> None:
    msg = make(
        [
            ("From", "a@x"),
            ("To", "b@x"),
            ("Resent-Date", "Mon, 1 Jan 2024 00:00:00 +0000"),
            ("Resent-From", "r@x"),
            ("Resent-To", "t@x"),
            ("Resent-Bcc", "hidden@x"),
        ]
    )
    assert envelope_from_headers(msg, None, None) == ("r@x", ["t@x", "hidden@x"])


def test_envelope_two_resent_blocks_is_an_error() -> None:
    msg = make([("Resent-Date", "x"), ("Resent-Date", "y")])
    with pytest.raises(ValueError, match="more than one 'Resent-' header block"):
        envelope_from_headers(msg, None, None)


def test_given_envelope_is_kept() -> None:
    msg = make([("From", "a@x"), ("To", "b@x")])
    assert envelope_from_headers(msg, "me@x", ["you@x"]) == ("me@x", ["you@x"])


def test_needs_smtputf8() -> None:
    assert not needs_smtputf8("a@x", ["b@x"])
    assert needs_smtputf8("a@x", ["bö@x"])
    assert needs_smtputf8("jö@x", "b@x")


@given(blobs)
def test_large_and_small_messages_are_stuffed_alike(data: bytes) -> None:
    # A large message goes out as views into it, a small one as one stuffed copy.
    with mock.patch.object(_message, "_SMALL", -1):
        as_views = _message.data_pieces(data)
    assert b"".join(as_views) == b"".join(_message.data_pieces(data))
    assert b"".join(as_views) == smtplib._quote_periods(data) + (  # type: ignore[attr-defined]
        b".\r\n" if data[-2:] == b"\r\n" else b"\r\n.\r\n"
    )

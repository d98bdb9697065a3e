"""assert_sent / outbox.find criteria: bodies across text and HTML, regular expressions,
attachments, headers; and failures that show the nearest misses first, a few at most."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

import pytest

from smtpfake import FakeSMTPServer


def _message(subject: str, text: str | None = None, html: str | None = None,
             attach: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "app@example.com"
    msg["To"] = "ann@example.org"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    if attach is not None:
        msg.add_attachment(b"data", maintype="application", subtype="pdf", filename=attach)
    return msg


def _send(server: FakeSMTPServer, *messages: EmailMessage, to: str = "ann@example.org") -> None:
    with smtplib.SMTP(*server.address) as client:
        for msg in messages:
            client.send_message(msg, to_addrs=[to])


def test_body_contains_searches_text_and_html(server: FakeSMTPServer) -> None:
    _send(server, _message("html only", html="<p>Your code is <b>1234</b></p>"),
          _message("both", text="plain words", html="<p>html words</p>"))
    assert [m.subject for m in server.outbox.find(body_contains="1234")] == ["html only"]
    assert [m.subject for m in server.outbox.find(body_contains="html words")] == ["both"]
    assert [m.subject for m in server.outbox.find(body_contains="plain words")] == ["both"]
    server.assert_sent(2, body_contains=re.compile(r"words|\d{4}"))


def test_regular_expressions_for_subject_headers_and_addresses(server: FakeSMTPServer) -> None:
    _send(server, _message("Reset your password", text="x", X_Request_Id="req-42"))
    server.assert_sent(1, subject=re.compile(r"^Reset"),
                       headers={"X-Request-Id": re.compile(r"\d+")})
    server.assert_sent(1, to=re.compile(r"@example\.org$"), sender=re.compile("^app@"))
    assert server.outbox.find(subject="Reset") == []  # a str subject means equality
    assert server.outbox.find(subject=re.compile("(?i)reset YOUR"))
    assert server.outbox.find(headers={"x-request-id": "req-42"})
    assert not server.outbox.find(headers={"X-Request-Id": "req"})
    assert not server.outbox.find(headers={"X-Absent": re.compile("")})


def test_headers_match_any_of_their_values(server: FakeSMTPServer) -> None:
    raw = b"Subject: s\r\nX-Tag: one\r\nX-Tag: two\r\n\r\nbody\r\n"
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("app@example.com", ["ann@example.org"], raw)
    server.assert_sent(1, headers={"X-Tag": "two"})
    server.assert_sent(1, headers={"X-Tag": "one"})
    assert server.outbox.count(headers={"X-Tag": "three"}) == 0


def test_html_contains_and_has_attachment(server: FakeSMTPServer) -> None:
    _send(server,
          _message("invoice", text="see attached", html="<p>Invoice <i>7</i></p>",
                   attach="invoice-7.pdf"),
          _message("note", text="no html here"))
    server.assert_sent(1, html_contains="<i>7</i>")
    server.assert_sent(1, html_contains=re.compile(r"Invoice <i>\d</i>"))
    server.assert_sent(1, has_attachment="invoice-7.pdf")
    server.assert_sent(1, has_attachment=re.compile(r"\.pdf$"))
    server.assert_sent(1, has_attachment=True)
    server.assert_sent(1, has_attachment=False, subject="note")
    assert server.outbox.find(has_attachment="invoice") == []  # a str file name means equality
    assert server.outbox.find(html_contains="no html") == []  # the text is not the HTML


def test_unknown_criterion_or_wrong_type_is_a_type_error(server: FakeSMTPServer) -> None:
    with pytest.raises(TypeError, match=r"unknown criterion 'subjet'; the criteria are to, "):
        server.assert_sent(subjet="x")
    with pytest.raises(TypeError, match=r"subject= takes a str or a compiled re.Pattern"):
        server.outbox.find(subject=3)
    with pytest.raises(TypeError, match=r"headers= takes a mapping"):
        server.outbox.find(headers={"X": 1})


def test_failure_shows_the_nearest_miss_first(server: FakeSMTPServer) -> None:
    _send(server, _message("Welcome", text="hello"), _message("Reset", text="use this link"),
          _message("Invoice", text="pay"))
    with pytest.raises(AssertionError) as info:
        server.assert_sent(subject="Reset", body_contains="https://")
    assert str(info.value) == (
        "expected at least 1 message(s) matching subject='Reset', body_contains='https://', "
        "found 0; 3 message(s) captured, nearest first:\n"
        "  [1] from='app@example.com' to=['ann@example.org'] subject='Reset' size="
        f"{len(server.outbox[1].raw)}\n"
        "      wanted body containing 'https://' but it reads 'use this link'\n"
        "  [2] from='app@example.com' to=['ann@example.org'] subject='Invoice' size="
        f"{len(server.outbox[2].raw)}\n"
        "      wanted subject 'Reset' but it is 'Invoice'\n"
        "      wanted body containing 'https://' but it reads 'pay'\n"
        "  [0] from='app@example.com' to=['ann@example.org'] subject='Welcome' size="
        f"{len(server.outbox[0].raw)}\n"
        "      wanted subject 'Reset' but it is 'Welcome'\n"
        "      wanted body containing 'https://' but it reads 'hello'"
    )


def test_failure_names_what_each_criterion_missed(server: FakeSMTPServer) -> None:
    _send(server, _message("s", text="t"))
    with pytest.raises(AssertionError) as info:
        server.assert_sent(to="bob@example.org", sender="x@example.com",
                           html_contains=re.compile("a+"), has_attachment="a.pdf",
                           headers={"X-Id": "1"})
    text = str(info.value)
    assert "matching to='bob@example.org', sender='x@example.com', html_contains=/a+/, " in text
    assert "has_attachment='a.pdf', headers={'X-Id': '1'}, found 0" in text
    assert "wanted to 'bob@example.org' not among ['ann@example.org']" in text
    assert "wanted sender 'x@example.com' but it is 'app@example.com'" in text
    assert "wanted HTML containing /a+/ but there is no HTML part" in text
    assert "wanted attachment 'a.pdf' but the attachments are []" in text
    assert "wanted header X-Id '1' but it is []" in text


def test_failure_with_many_messages_shows_a_few(server: FakeSMTPServer) -> None:
    messages = [_message(f"note {i}", text="x") for i in range(200)]
    _send(server, *messages)
    with pytest.raises(AssertionError) as info:
        server.assert_sent(subject="note 7x")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("found 0; 200 message(s) captured, the 5 nearest:")
    shown = [line for line in lines if line.startswith("  [")]
    assert [line.split("]")[0] for line in shown] == ["  [199", "  [198", "  [197", "  [196",
                                                       "  [195"]  # equally near: latest first
    assert len(lines) == 11


def test_too_many_matches_shows_the_matches(server: FakeSMTPServer) -> None:
    _send(server, _message("a", text="x"), _message("b", text="x"), _message("a", text="y"))
    with pytest.raises(AssertionError) as info:
        server.assert_sent(1, subject="a")
    text = str(info.value)
    assert text.startswith(
        "expected 1 message(s) matching subject='a', found 2; 3 message(s) captured, "
        "the matching ones:\n  [0] "
    )
    assert "\n  [2] " in text
    assert "[1]" not in text
    assert "wanted" not in text


def test_nothing_captured(server: FakeSMTPServer) -> None:
    with pytest.raises(AssertionError, match=r"^expected at least 1 message\(s\), found 0; "
                                             r"nothing was captured$"):
        server.assert_sent()


def test_matches_takes_the_same_criteria(server: FakeSMTPServer) -> None:
    _send(server, _message("hello", text="body", html="<b>x</b>"))
    captured = server.outbox.last
    assert captured.matches(subject="hello", html_contains="<b>", body_contains="body")
    assert not captured.matches(subject=re.compile("^ello"))


def test_envelope_criteria_rule_messages_out_before_parsing(server: FakeSMTPServer) -> None:
    _send(server, _message("a", text="x"), _message("b", text="x"))
    assert server.outbox.find(body_contains="x", to="nobody@example.org") == []
    assert all("message" not in m._cache for m in server.outbox)  # never parsed


def test_assert_nothing_sent_shows_the_count_and_the_last_few(server: FakeSMTPServer) -> None:
    _send(server, *[_message(f"n{i}", text="x") for i in range(12)])
    with pytest.raises(AssertionError) as info:
        server.assert_nothing_sent()
    lines = str(info.value).splitlines()
    assert lines[0] == "expected no message; 12 message(s) captured; the last 5:"
    assert [line.split("]")[0] for line in lines[1:]] == ["  [7", "  [8", "  [9", "  [10", "  [11"]

"""Records say what happened when it happened: sessions cut at acceptance, escaped transcripts."""

from __future__ import annotations

import smtplib
import unicodedata

import pytest

from smtpfake import FakeSMTPServer

USERS = {"alice": "secret"}
MESSAGE = "Subject: {}\r\n\r\nbody\r\n"


def test_a_message_keeps_the_session_as_it_was_when_accepted() -> None:
    # Plaintext and anonymous first, then upgraded, renamed and logged in on the same connection:
    # the first message's record must not learn what happened after it was accepted.
    with FakeSMTPServer(tls="starttls", users=USERS) as server:
        with smtplib.SMTP("localhost", server.port, timeout=5) as client:
            client.ehlo("before.example")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE.format("plain"))
            client.starttls(context=server.client_context())
            client.ehlo("after.example")
            client.login("alice", "secret")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE.format("secure"))
        plain, secure = server.wait_for(2)
        first, second = plain.session, secure.session
    assert (first.helo_name, first.tls, first.auth_user) == ("before.example", False, None)
    assert (second.helo_name, second.tls, second.auth_user) == ("after.example", True, "alice")
    assert "!: TLS established" not in first.format_transcript()
    assert "!: TLS established" in second.format_transcript()
    assert first.transcript == second.transcript[: len(first.transcript)]


def test_a_login_does_not_survive_starttls() -> None:
    # RFC 3207 4.2: the server forgets the login at STARTTLS (aiosmtpd does); so must the record,
    # or a client that never logs in again over TLS would be captured as authenticated.
    with FakeSMTPServer(tls="starttls", users=USERS) as server:
        with smtplib.SMTP("localhost", server.port, timeout=5) as client:
            client.login("alice", "secret")
            client.starttls(context=server.client_context())
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE.format("no login"))
        [captured] = server.wait_for(1)
        [session] = server.sessions
    assert (captured.session.tls, captured.session.auth_user) == (True, None)
    assert (session.tls, session.auth_user) == (True, None)


def _controls(text: str) -> list[str]:
    """Characters a terminal or a line splitter would act on."""
    return [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")]


@pytest.mark.parametrize(
    ("line", "command", "reply"),
    [
        (b"FOO\x1b[31m bar\x00\r\n", r"FOO\x1b[31m bar\x00", r'"FOO\x1b[31M" not recognized'),
        (b"X\rY z\r\n", r"X\rY z", r'"X\rY" not recognized'),
        ("X\u009bY \u2028z\r\n".encode(), r"X\x9bY \u2028z", None),
        (b"NOOP \x07\x7f\r\n", r"NOOP \x07\x7f", None),
    ],
    ids=["esc-nul", "bare-cr", "c1-line-separator", "bel-del-in-argument"],
)
def test_control_characters_are_escaped_in_both_directions(
    server: FakeSMTPServer, wire, line: bytes, command: str, reply: str | None
) -> None:
    # aiosmtpd's "500 ... not recognized" echoes the client's verb: the S: line needs it too.
    client = wire(server.address)
    client.reply()
    client.send(line)
    client.reply()
    assert client.cmd("QUIT")[0] == 221
    [session] = server.sessions
    assert all(not _controls(t.text) for t in session.transcript), session.transcript
    assert ("C", command) in session.transcript
    if reply is not None:
        assert any(t.direction == "S" and reply in t.text for t in session.transcript)
    assert len(session.format_transcript().splitlines()) == len(session.transcript)


def test_a_wait_for_timeout_names_the_count_and_only_the_last_few(server) -> None:
    with smtplib.SMTP(*server.address, timeout=5) as client:
        for n in range(30):
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE.format(f"no. {n}"))
    with pytest.raises(TimeoutError) as raised:
        server.wait_for(31, timeout=0.01)
    text = str(raised.value)
    assert "30 message(s) captured" in text
    assert "[29]" in text
    assert "'no. 29'" in text
    assert "[0]" not in text
    assert len(text.splitlines()) <= 8


def test_server_sessions_is_read_anew_and_each_session_stays_as_read(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO first.example")
    [early] = server.sessions
    client.cmd("EHLO second.example")
    assert client.cmd("QUIT")[0] == 221
    [late] = server.sessions
    assert early.helo_name == "first.example"
    assert late.helo_name == "second.example"
    assert late.transcript[: len(early.transcript)] == early.transcript
    assert len(late.transcript) > len(early.transcript)

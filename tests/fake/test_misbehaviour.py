"""The transcript says what a misbehaving client did: broken lines, vanishing, failed TLS."""

from __future__ import annotations

import smtplib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpfake import FakeSMTPServer, ServerError, Session, _connection
from smtpfake._misbehaviour import _notes as full_notes
from smtpfake._misbehaviour import line_notes, show_line

HELLO_CUT_SHORT = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32


def _notes(session: Session) -> list[str]:
    return [line.text for line in session.transcript if line.direction == "!"]


def _session_when(server: FakeSMTPServer, ready: Callable[[Session], bool]) -> Session:
    """The first session once ``ready`` holds for it. The loop thread writes the last line
    after the client's socket is gone and there is no event for that, so re-read every 10 ms
    (at most 2 s)."""
    deadline = time.monotonic() + 2.0
    tick = threading.Event()
    while True:
        sessions = server.sessions
        if sessions and ready(sessions[0]):
            return sessions[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached: {[s.format_transcript() for s in sessions]}")
        tick.wait(0.01)


@pytest.mark.parametrize(
    ("line", "notes"),
    [
        (b"NOOP\r\n", []),
        (b"MAIL FROM:<j\xc3\xb6rg@example.com>\r\n", []),  # UTF-8 in an argument is fine
        (b"NOOP\n", ["bare LF line ending"]),
        (b"EHLO a\rMAIL FROM:<x>\r\n", ["bare CR inside a command line"]),
        (b"\xffNOOP\r\n", ["non-ASCII bytes in the command verb"]),
        (b"NOOP \x00\x1b\r\n", ["control characters in a command line"]),
        (b"\x16\x03\x01\x00\xa5\x01\n", ["a TLS handshake on a plaintext connection"]),
    ],
)
def test_line_notes_name_each_fault(line: bytes, notes: list[str]) -> None:
    assert line_notes(line) == notes


@given(st.lists(st.sampled_from([b"MAIL", b" ", b"\t", b"\r", b"\n", b"\x16\x03", b"\x00",
                                 b"\x7f", b"\xc3\xb6", b"~", b"<a@b.test>"]), max_size=8)
       .map(b"".join))
def test_the_fast_path_for_clean_lines_agrees_with_the_full_check(line: bytes) -> None:
    assert line_notes(line) == full_notes(line)
    assert line_notes(line + b"\r\n") == full_notes(line + b"\r\n")


def test_show_line_escapes_controls_cuts_long_lines_and_hides_credentials() -> None:
    assert show_line(b"EHLO a\rb\x00\r\n") == "EHLO a\\rb\\x00"
    assert show_line(b"\xff\xfe\r\n") == "\\xff\\xfe"
    long = show_line(b"NOOP " + b"x" * 5000 + b"\r\n")
    assert long.endswith("... (5005 bytes)")
    assert len(long) < 230
    assert show_line(b"auth plain " + b"QUJD" * 300 + b"\r\n") == "auth plain <credentials>"


def test_refused_lines_appear_with_what_was_wrong(server: FakeSMTPServer, wire) -> None:
    client = wire(server.address)
    client.reply()
    assert client.cmd("\x00\x1bgarbage")[0] == 500
    assert client.cmd("NOOP " + "x" * 5000)[0] == 500
    assert client.cmd("FOO bar")[0] == 500
    client.send(b"MAIL FROM:<" + b"y" * (3 << 19) + b">\r\n")  # over the 1 MiB reader limit
    assert client.reply()[0] == 500
    client.send(b"NOOP\n")
    assert client.reply()[0] == 250
    client.send(b"EHLO a\rMAIL FROM:<smuggled@example.com>\r\n")
    assert client.reply()[0] == 250
    assert client.cmd("QUIT")[0] == 221
    lines = [str(line) for line in server.sessions[0].transcript if line.text[:4] != "250-"]
    assert lines[:5] == [
        "S: 220 smtpfake.test ESMTP smtpfake",
        "C: \\x00\\x1bgarbage",
        "!: control characters in a command line",
        'S: 500 Error: command "\\x00\\x1bGARBAGE" not recognized',  # the echo escaped too
        "C: NOOP " + "x" * 195 + "... (5005 bytes)",
    ]
    assert lines[5:] == [
        "!: command line of 5005 bytes, over the limit",
        "S: 500 Command line too long",
        "C: FOO bar",
        'S: 500 Error: command "FOO" not recognized',
        "C: ... " + "y" * 59 + ">",
        "!: command line longer than 1048576 bytes",
        "S: 500 Command line too long",
        "C: NOOP",
        "!: bare LF line ending",
        "S: 250 OK",
        "C: EHLO a\\rMAIL FROM:<smuggled@example.com>",
        "!: bare CR inside a command line",
        "S: 250 DSN",
        "C: QUIT",
        "S: 221 Bye",
    ]


def test_credentials_of_a_refused_auth_line_stay_hidden(wire) -> None:
    secret = "c2VjcmV0" * 100
    with FakeSMTPServer(users={"alice": "pw"}) as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        assert client.cmd(f"AUTH PLAIN {secret}")[0] == 500  # too long for aiosmtpd
        client.cmd("QUIT")
        transcript = server.sessions[0].format_transcript()
    assert "C: AUTH PLAIN <credentials>" in transcript
    assert "c2Vj" not in transcript


def test_a_client_that_quits_gets_no_departure_note(server: FakeSMTPServer) -> None:
    with smtplib.SMTP(*server.address) as client:
        client.noop()
    session = _session_when(server, lambda s: s.transcript[-1].text == "221 Bye")
    assert _notes(session) == []


@pytest.mark.parametrize(
    ("commands", "how", "note"),
    [
        (b"EHLO me\r\n", "close", "client disconnected without QUIT"),
        (b"EHLO me\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: half",
         "close", "client disconnected during DATA without QUIT"),
        (b"EHLO me\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: half",
         "reset", "client reset the connection during DATA without QUIT"),
    ],
)
def test_a_vanishing_client_is_noted(
    server: FakeSMTPServer, wire, commands: bytes, how: str, note: str
) -> None:
    client = wire(server.address)
    client.reply()
    client.send(commands)
    for _ in range(commands.count(b"\r\n")):
        client.reply()
    if how == "reset":
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    session = _session_when(server, lambda s: bool(_notes(s)))
    assert _notes(session) == [note]
    assert len(server.outbox) == 0


def test_stop_notes_the_connections_it_drops(wire) -> None:
    server = FakeSMTPServer()
    server.start()
    try:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
    finally:
        server.stop()
    assert _notes(server.sessions[0]) == ["connection dropped: the server stopped"]
    assert client.closed_by_peer()


def test_implicit_tls_failed_handshake_leaves_a_session(wire) -> None:
    with FakeSMTPServer(tls="implicit") as server:
        plain = wire(server.address)
        plain.send(b"EHLO plaintext.test\r\n")  # plaintext to a TLS port
        assert plain.closed_by_peer()
        session = _session_when(server, lambda s: bool(_notes(s)))
    assert not session.tls
    assert session.peer == plain.sock.getsockname()
    (note,) = _notes(session)
    assert note.startswith("TLS handshake failed: ")


def test_implicit_tls_client_leaving_mid_handshake_is_noted(wire) -> None:
    with FakeSMTPServer(tls="implicit") as server:
        stuck = wire(server.address)
        stuck.send(HELLO_CUT_SHORT)
        stuck.close()
        session = _session_when(server, lambda s: bool(_notes(s)))
        with smtplib.SMTP_SSL("localhost", server.port, context=server.client_context()) as c:
            c.noop()
    assert _notes(session) == ["client left during the TLS handshake"]
    assert [s.tls for s in server.sessions] == [False, True]


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_stop_drops_a_client_stuck_in_a_handshake(mode: str, wire) -> None:
    server = FakeSMTPServer(tls=mode)
    server.start()
    try:
        stuck = wire(server.address)
        if mode == "starttls":
            stuck.reply()
            stuck.cmd("EHLO me")
            assert stuck.cmd("STARTTLS")[0] == 220
        stuck.send(HELLO_CUT_SHORT)
        _session_when(server, lambda s: True)
    finally:
        server.stop()
    assert _notes(server.sessions[0])[-1] == "connection dropped: the server stopped"
    assert stuck.closed_by_peer()
    assert not any(t.name == "smtpfake-loop" for t in threading.enumerate())


def test_a_client_refusing_our_certificate_is_noted_with_its_alert() -> None:
    with FakeSMTPServer(tls="implicit") as server:
        distrust = ssl.create_default_context()  # does not trust the test CA
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("localhost", server.port, context=distrust, timeout=2)
        session = _session_when(server, lambda s: bool(_notes(s)))
    (note,) = _notes(session)
    assert note.startswith("TLS handshake failed: ")
    assert "unknown ca" in note
    server.check()  # a client's failed handshake is not a server error


def test_a_whole_session_pipelined_then_half_closed_is_served_without_notes(
    server: FakeSMTPServer,
) -> None:
    """QUIT and the client's FIN arrive together: the QUIT counts, nothing is noted."""
    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"EHLO me\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
                     b"Subject: all at once\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.endswith(b"221 Bye\r\n")
    assert server.outbox.last.subject == "all at once"
    assert _notes(_session_when(server, lambda s: s.transcript[-1].text == "221 Bye")) == []


def test_a_bug_noting_a_failed_handshake_reaches_the_test(monkeypatch, wire) -> None:
    def broken(self: object, error: object) -> None:
        raise ZeroDivisionError("bug in handshake_lost")

    monkeypatch.setattr(_connection.ConnectionProtocol, "handshake_lost", broken)
    server = FakeSMTPServer(tls="implicit")
    server.start()
    try:
        plain = wire(server.address)
        plain.send(b"EHLO plaintext.test\r\n")
        assert plain.closed_by_peer()
    finally:
        with pytest.raises(ServerError, match="bug in handshake_lost"):
            server.stop()

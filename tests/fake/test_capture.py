"""What the server captures: envelopes, exact bytes, parsed messages, sessions, transcripts."""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage

import pytest

from smtpfake import CapturedMessage, FakeSMTPServer, Session, TranscriptLine


def _send(server: FakeSMTPServer, data: bytes, to: tuple[str, ...] = ("b@example.com",)) -> None:
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("a@example.com", list(to), data)


def test_envelope_message_and_session_are_captured(server) -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "Hello"
    msg.set_content("Hi Bob\n")
    with smtplib.SMTP(*server.address) as client:
        client.send_message(msg, rcpt_options=["NOTIFY=SUCCESS"], mail_options=["BODY=8BITMIME"])
    [captured] = server.wait_for(1)
    assert isinstance(captured, CapturedMessage)
    assert captured.mail_from == "a@example.com"
    assert captured.rcpt_tos == ("b@example.com",)
    assert captured.mail_options == ("BODY=8BITMIME",)
    assert captured.rcpt_options == (("NOTIFY=SUCCESS",),)
    assert captured.subject == "Hello"
    assert captured.text == "Hi Bob\n"
    assert captured.message["To"] == "b@example.com"
    assert captured.accepted_for == ("b@example.com",)
    session = captured.session
    assert isinstance(session, Session)
    assert session.peer[0] == "127.0.0.1"
    assert session.helo_name
    assert session.tls is False
    assert session.auth_user is None


def test_captured_message_is_immutable(server) -> None:
    _send(server, b"Subject: x\r\n\r\nbody\r\n")
    captured = server.outbox.last
    with pytest.raises(AttributeError):
        captured.raw = b""  # type: ignore[misc]


@pytest.mark.parametrize(
    "body",
    [
        b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n.x\r\nend\r\n",
        b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9\r\n",
        "Subject: utf8 \u00e9\r\n\r\nna\u00efve \u2603\r\n".encode(),
        b"Subject: long\r\n\r\n" + b"x" * 998 + b"\r\n" + b"y" * 997 + b"\r\n",
        b"Subject: bare\r\n\r\nbare LF\n and bare CR\r here\r\n",
        b"Subject: no trailing newline\r\n\r\nlast line",
        b"Subject: binary\r\n\r\n" + bytes(range(1, 256)).replace(b"\r", b"").replace(b"\n", b"")
        + b"\r\n",
    ],
    ids=["dots", "8bit", "utf8", "long-lines", "bare-lf-cr", "no-final-crlf", "binary"],
)
def test_raw_bytes_are_exactly_what_the_client_meant(server, body: bytes) -> None:
    _send(server, body)
    raw = server.wait_for(1)[0].raw
    expected = body if body.endswith(b"\r\n") else body + b"\r\n"  # smtplib adds the final CRLF
    assert raw == expected


def test_wire_level_bare_lf_and_cr_are_content_not_line_ends(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    client.cmd("MAIL FROM:<a@example.com>")
    client.cmd("RCPT TO:<b@example.com>")
    assert client.cmd("DATA")[0] == 354
    # "\n.\n" and "\r.\r" must not end the data (SMTP smuggling); only CRLF.CRLF does.
    client.send(b"Subject: s\r\n\r\nA\n.\nB\r.\rC\n.\r\nD\r\n.\r\n")
    assert client.reply()[0] == 250
    assert server.outbox.last.raw == b"Subject: s\r\n\r\nA\n.\nB\r.\rC\n.\r\nD\r\n"


def test_empty_message_and_a_dot_first_line(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    cases = [(b".\r\n", b""), (b"..\r\n.\r\n", b".\r\n"), (b"..x\r\n.\r\n", b".x\r\n")]
    for data, expected in cases:
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        assert client.cmd("DATA")[0] == 354
        client.send(data)
        assert client.reply()[0] == 250
        assert server.outbox.last.raw == expected


def test_data_arriving_in_tiny_pieces_is_reassembled(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    client.cmd("MAIL FROM:<a@example.com>")
    client.cmd("RCPT TO:<b@example.com>")
    client.cmd("DATA")
    payload = b"Subject: t\r\n\r\nline\r\n..dot\r\n.\r\n"
    for i in range(len(payload)):
        client.send(payload[i : i + 1])
    assert client.reply()[0] == 250
    assert server.outbox.last.raw == b"Subject: t\r\n\r\nline\r\n.dot\r\n"


def test_pipelined_commands_after_the_data_are_not_lost(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO me")
    client.send(
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
        "Subject: one\r\n\r\n1\r\n.\r\nMAIL FROM:<c@example.com>\r\nRCPT TO:<d@example.com>\r\n"
        "DATA\r\nSubject: two\r\n\r\n2\r\n.\r\nQUIT\r\n"
    )
    codes = [client.reply()[0] for _ in range(9)]
    assert codes == [250, 250, 354, 250, 250, 250, 354, 250, 221]
    assert [m.subject for m in server.outbox] == ["one", "two"]
    assert server.outbox[1].mail_from == "c@example.com"


def test_a_line_over_the_limit_is_refused_after_the_data(server, wire) -> None:
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    client.cmd("MAIL FROM:<a@example.com>")
    client.cmd("RCPT TO:<b@example.com>")
    client.cmd("DATA")
    client.send(b"Subject: t\r\n\r\n" + b"z" * 1000 + b"\r\n.\r\n")
    code, lines = client.reply()
    assert code == 500
    assert "too long" in lines[0].lower()
    assert len(server.outbox) == 0
    assert client.cmd("NOOP")[0] == 250  # the session goes on


def test_sessions_and_transcripts_record_each_command_and_reply(server) -> None:
    with smtplib.SMTP(*server.address) as client:
        client.ehlo("client.example")
        client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nhi\r\n")
    [session] = server.sessions
    assert session.helo_name == "client.example"
    lines = [str(line) for line in session.transcript]
    assert lines[0] == "S: 220 smtpfake.test ESMTP smtpfake"
    assert "C: EHLO client.example" in lines
    assert "c: mail from:<a@example.com>" in [line.casefold() for line in lines]  # as sent
    assert "C: DATA" in lines
    assert lines[-3].startswith("S: 250 2.0.0 OK: queued as ")
    assert lines[-2] == "C: QUIT"
    assert lines[-1] == "S: 221 Bye"
    assert session.transcript[1] == TranscriptLine("C", "EHLO client.example")
    assert "C: QUIT" in session.format_transcript()


def test_wait_for_returns_mail_sent_from_another_thread(server) -> None:
    def send() -> None:
        _send(server, b"Subject: from a thread\r\n\r\nhi\r\n")

    sender = threading.Thread(target=send)
    sender.start()
    try:
        [captured] = server.wait_for(1, timeout=5)
    finally:
        sender.join()
    assert captured.subject == "from a thread"


def test_wait_for_times_out_with_what_was_captured(server) -> None:
    _send(server, b"Subject: only one\r\n\r\nhi\r\n")
    with pytest.raises(TimeoutError, match="only one"):
        server.wait_for(2, timeout=0.2)


def test_outbox_is_list_like_and_searchable(server) -> None:
    _send(server, b"Subject: one\r\n\r\nhi\r\n", to=("x@example.com",))
    _send(server, b"Subject: two\r\n\r\nhello\r\n", to=("y@example.com", "z@example.com"))
    outbox = server.outbox
    assert len(outbox) == 2
    assert outbox[0].subject == "one"
    assert [m.subject for m in outbox[0:2]] == ["one", "two"]
    assert [m.subject for m in outbox] == ["one", "two"]
    assert outbox.last.subject == "two"
    assert outbox.find(to="Z@EXAMPLE.COM") == [outbox[1]]
    assert outbox.find(subject="one", to="y@example.com") == []
    assert "2 message(s)" in repr(outbox)


def test_empty_outbox_last_is_an_index_error(server) -> None:
    with pytest.raises(IndexError, match="empty"):
        _ = server.outbox.last


def test_assert_sent_passes_and_fails_with_what_was_captured(server) -> None:
    _send(server, b"From: a@example.com\r\nSubject: Invoice\r\nX-Id: 7\r\n\r\nTotal: 12 EUR\r\n")
    server.assert_sent()
    server.assert_sent(1, to="b@example.com", subject="Invoice")
    server.assert_sent(1, body_contains="12 EUR", headers={"X-Id": "7"}, sender="a@example.com")
    with pytest.raises(AssertionError) as excinfo:
        server.assert_sent(to="carol@example.com")
    text = str(excinfo.value)
    assert "carol@example.com" in text
    assert "found 0" in text
    assert "subject='Invoice'" in text
    assert "b@example.com" in text
    with pytest.raises(AssertionError, match="expected 2 message"):
        server.assert_sent(2)


def test_assert_nothing_sent(server) -> None:
    server.assert_nothing_sent()
    _send(server, b"Subject: oops\r\n\r\nhi\r\n")
    with pytest.raises(AssertionError, match="oops"):
        server.assert_nothing_sent()


def test_text_of_a_multipart_message_is_its_plain_part(server) -> None:
    msg = EmailMessage()
    msg["Subject"] = "multi"
    msg.set_content("plain body\n")
    msg.add_alternative("<p>html body</p>\n", subtype="html")
    msg.add_attachment(b"\x00\x01\x02binary", maintype="application", subtype="octet-stream",
                       filename="blob.bin")
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("a@example.com", ["b@example.com"], data)
    captured = server.wait_for(1)[0]
    assert captured.raw == data
    assert captured.text == "plain body\n"
    [attachment] = list(captured.message.iter_attachments())
    assert attachment.get_content() == b"\x00\x01\x02binary"


def test_null_sender_is_an_empty_string(server) -> None:
    server.on("MAIL", sender="").reply(250, "2.1.0 bounce accepted")
    with smtplib.SMTP(*server.address) as client:
        client.ehlo()
        assert client.mail("") == (250, b"2.1.0 bounce accepted")
        client.rcpt("b@example.com")
        client.data(b"Subject: bounce\r\n\r\nundeliverable\r\n")
    captured = server.wait_for(1)[0]
    assert captured.mail_from == ""
    server.assert_sent(1, sender="")


def test_repr_stays_short_for_big_messages(server) -> None:
    _send(server, b"Subject: big\r\n\r\n" + b"x" * 900 + b"\r\n" * 2000)
    text = repr(server.outbox.last)
    assert text.startswith("<CapturedMessage from='a@example.com'")
    assert len(text) < 120

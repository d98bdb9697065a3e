"""Plain SMTP against a real aiosmtpd server: transactions, replies, refusals, SMTPUTF8."""

from __future__ import annotations

import email.message

import pytest

import smtpclient

from ._servers import RecordingHandler, StartServer


def test_sendmail_delivers_and_returns_empty_refused_dict(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        refused = smtp.sendmail("a@example.com", ["b@example.com"], "Subject: hi\n\nline\n.dot\n")
    assert refused == {}
    [message] = server.handler.messages
    assert message.mail_from == "a@example.com"
    assert message.rcpt_tos == ["b@example.com"]
    assert message.content == b"Subject: hi\r\n\r\nline\r\n.dot\r\n"


def test_end_of_data_reply_is_kept_with_enhanced_status(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        smtp.sendmail("a@example.com", "b@example.com", b"Subject: x\r\n\r\nbody\r\n")
        reply = smtp.last_data_reply
    assert reply is not None
    assert reply.code == 250
    assert reply.message == b"2.0.0 Ok: queued as 4F2A9C"
    assert reply.enhanced_status == "2.0.0"


def test_partial_refusal_returns_refused_dict(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"nobody@example.com"}))
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        refused = smtp.sendmail(
            "a@example.com", ["nobody@example.com", "b@example.com"], "Subject: x\n\nhi\n"
        )
    assert refused == {"nobody@example.com": (550, b"5.1.1 No such user here")}
    assert server.handler.messages[0].rcpt_tos == ["b@example.com"]


def test_total_refusal_raises_and_resets(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"x@example.com", "y@example.com"}))
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as caught:
            smtp.sendmail("a@example.com", ["x@example.com", "y@example.com"], "hi")
        assert caught.value.recipients == {
            "x@example.com": (550, b"5.1.1 No such user here"),
            "y@example.com": (550, b"5.1.1 No such user here"),
        }
        # The transaction was reset: a new one works on the same connection.
        assert smtp.sendmail("a@example.com", "b@example.com", "hi") == {}
    assert len(server.handler.messages) == 1


def test_command_methods_return_smtplib_tuples(start_server: StartServer) -> None:
    server = start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test")
    try:
        code, greeting = smtp.connect(f"{server.host}:{server.port}")
        assert code == 220
        assert greeting.startswith(b"testserver.example")
        assert smtp.ehlo()[0] == 250
        assert smtp.does_esmtp
        assert smtp.has_extn("SMTPUTF8")
        assert smtp.has_extn("8bitmime")
        assert smtp.noop() == (250, b"OK")
        assert smtp.mail("a@example.com") == (250, b"OK")
        assert smtp.rcpt("b@example.com") == (250, b"2.1.5 OK")
        assert smtp.data("hello") == (250, b"2.0.0 Ok: queued as 4F2A9C")
        assert smtp.rset() == (250, b"OK")
        assert smtp.vrfy("someone@example.com")[0] == 252
        assert smtp.expn("list")[0] == 502
        assert isinstance(smtp.help(), bytes)
        assert smtp.quit()[0] == 221
        assert smtp.sock is None
        assert smtp.ehlo_resp is None
    finally:
        smtp.close()


def test_send_message_strips_bcc_and_uses_headers(start_server: StartServer) -> None:
    server = start_server()
    msg = email.message.EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "bob@example.com"
    msg["Cc"] = "carol@example.com"
    msg["Bcc"] = "dave@example.com"
    msg["Subject"] = "hello"
    msg.set_content("body\n")
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        assert smtp.send_message(msg) == {}
    [received] = server.handler.messages
    assert received.mail_from == "alice@example.com"
    assert received.rcpt_tos == ["bob@example.com", "dave@example.com", "carol@example.com"]
    assert b"dave@example.com" not in received.content
    assert b"Subject: hello" in received.content


def test_send_message_smtputf8(start_server: StartServer) -> None:
    server = start_server()
    msg = email.message.EmailMessage()
    msg["From"] = "jörg@example.com"
    msg["To"] = "zoë@example.com"
    msg["Subject"] = "grüße"
    msg.set_content("hällo\n")
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        assert smtp.send_message(msg) == {}
        assert smtp.command_encoding == "utf-8"
    [received] = server.handler.messages
    assert received.smtp_utf8
    assert received.mail_from == "jörg@example.com"
    assert received.rcpt_tos == ["zoë@example.com"]
    assert "BODY=8BITMIME" in received.mail_options
    assert "Subject: grüße".encode() in received.content


def test_smtputf8_refused_when_not_advertised(start_server: StartServer) -> None:
    server = start_server(enable_SMTPUTF8=False)
    msg = email.message.EmailMessage()
    msg["From"] = "jörg@example.com"
    msg["To"] = "b@example.com"
    msg.set_content("x")
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(smtpclient.SMTPNotSupportedError):
            smtp.send_message(msg)
        with pytest.raises(smtpclient.SMTPNotSupportedError):
            smtp.mail("a@example.com", ["SMTPUTF8"])
    assert server.handler.messages == []


def test_control_characters_refused_before_sending(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(ValueError, match="newline"):
            smtp.docmd("NOOP", "x\r\nRSET")
        with pytest.raises(ValueError, match="newline"):
            smtp.ehlo("client\nMAIL FROM:<evil@example.com>")
        with pytest.raises(ValueError, match="control"):
            smtp.rcpt("b\x00@example.com")
        with pytest.raises(ValueError, match="control"):
            smtp.putcmd("NOOP", "\x7f")
        # Nothing was sent: the session is still in step.
        assert smtp.noop() == (250, b"OK")


def test_client_side_size_check(start_server: StartServer) -> None:
    server = start_server(data_size_limit=1000)
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        with pytest.raises(smtpclient.SMTPSenderRefused) as caught:
            smtp.sendmail("a@example.com", "b@example.com", b"x" * 2000)
        assert caught.value.smtp_code == 552
        assert caught.value.enhanced_status == "5.3.4"
        assert smtp.sendmail("a@example.com", "b@example.com", b"x" * 500) == {}
    assert len(server.handler.messages) == 1


def test_reconnect_same_object(start_server: StartServer) -> None:
    first, second = start_server(), start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test")
    try:
        smtp.connect(first.host, first.port)
        smtp.sendmail("a@example.com", "b@example.com", "one")
        smtp.close()
        smtp.connect(second.host, second.port)
        smtp.sendmail("a@example.com", "b@example.com", "two")
        smtp.quit()
    finally:
        smtp.close()
    assert [m.content for m in first.handler.messages] == [b"one\r\n"]
    assert [m.content for m in second.handler.messages] == [b"two\r\n"]


def test_large_message_with_dotted_lines_arrives_intact(start_server: StartServer) -> None:
    server = start_server()
    line = b"..a line that starts with dots, then text to make it longer than the rest\r\n"
    body = b"Subject: big\r\n\r\n" + b"".join(
        line if i % 3 == 0 else b"ordinary line number %d\r\n" % i for i in range(24000)
    )
    assert len(body) > 1_000_000
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        assert smtp.sendmail("a@example.com", "b@example.com", body) == {}
    assert server.handler.messages[0].content == body


def test_source_address_is_bound(start_server: StartServer) -> None:
    server = start_server()
    smtp = smtpclient.SMTP(local_hostname="client.test", source_address=("127.0.0.2", 0))
    try:
        smtp.connect(server.host, server.port)
        smtp.sendmail("a@example.com", "b@example.com", "x")
        smtp.quit()
    finally:
        smtp.close()
    assert server.handler.messages[0].peer[0] == "127.0.0.2"


def test_str_message_line_endings_are_converted(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        smtp.sendmail("a@example.com", "b@example.com", "a\rb\nc\r\nd")
    assert server.handler.messages[0].content == b"a\r\nb\r\nc\r\nd\r\n"


def test_last_reply_carries_enhanced_status(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"x@example.com"}))
    with smtpclient.SMTP(server.host, server.port, local_hostname="client.test") as smtp:
        smtp.ehlo()
        smtp.mail("a@example.com")
        assert smtp.rcpt("x@example.com")[0] == 550
        assert smtp.last_reply is not None
        assert smtp.last_reply.enhanced_status == "5.1.1"

"""The main flows against the project's own fake server, smtpfake (next to the aiosmtpd tests).

Each test starts its own server (a fraction of a millisecond) and reads what it captured: the
envelope, the bytes, the session (TLS, authenticated user) and the transcript.
"""

from __future__ import annotations

import email.message
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import smtpclient
from smtpfake import CertificateAuthority, FakeLMTPServer, FakeSMTPServer

LOCAL = "client.test"
USERS = {"alice": "wonderland"}
MESSAGE = b"Subject: hello\r\n\r\nline one\r\n.dotted line\r\n"


@pytest.fixture
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as running:
        yield running


def commands(server: FakeSMTPServer | FakeLMTPServer, session: int = 0) -> list[str]:
    """The verbs the client sent in one session, in order."""
    lines = server.sessions[session].transcript
    return [line.text.split()[0].upper() for line in lines if line.direction == "C"]


def email_message(body: str, **headers: str) -> email.message.EmailMessage:
    """A message with ``body`` and the given headers (``From="..."``, ``Bcc="..."``...)."""
    msg = email.message.EmailMessage()
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg


def test_plain_transaction(server: FakeSMTPServer) -> None:
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
        assert smtp.last_data_reply is not None
        assert smtp.last_data_reply.code == 250
        assert smtp.last_data_reply.enhanced_status == "2.0.0"
        assert b"queued as" in smtp.last_data_reply.message
    message = server.outbox.last
    assert (message.mail_from, message.rcpt_tos, message.raw) == (
        "a@example.com",
        ("b@example.com",),
        MESSAGE,
    )
    assert message.session.helo_name == LOCAL
    assert commands(server) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_send_message_strips_bcc_and_uses_headers(server: FakeSMTPServer) -> None:
    msg = email_message(
        "body\n",
        From="Alice <alice@example.com>",
        To="bob@example.com",
        Cc="carol@example.com",
        Bcc="dave@example.com",
        Subject="hello",
    )
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.send_message(msg) == {}
    message = server.outbox.last
    assert message.mail_from == "alice@example.com"
    assert message.rcpt_tos == ("bob@example.com", "dave@example.com", "carol@example.com")
    assert b"dave@example.com" not in message.raw
    assert b"Subject: hello" in message.raw


def test_send_message_smtputf8(server: FakeSMTPServer) -> None:
    msg = email_message("hällo\n", From="jörg@exämple.com", To="zoë@example.com", Subject="grüße")
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.send_message(msg) == {}
        assert smtp.command_encoding == "utf-8"
    message = server.outbox.last
    assert "SMTPUTF8" in message.mail_options
    assert "BODY=8BITMIME" in message.mail_options
    assert message.mail_from == "jörg@exämple.com"
    assert message.rcpt_tos == ("zoë@example.com",)
    assert "Subject: grüße".encode() in message.raw
    assert message.subject == "grüße"


def test_starttls_verified_with_the_fake_servers_ca() -> None:
    with FakeSMTPServer(tls="starttls", tls_required=True) as server:
        with smtpclient.SMTP("localhost", server.port, local_hostname=LOCAL) as smtp:
            smtp.starttls(context=server.client_context())
            assert isinstance(smtp.sock, ssl.SSLSocket)
            assert smtp.sendmail("a@example.com", "b@example.com", MESSAGE) == {}
        assert server.outbox.last.session.tls


def test_starttls_with_another_ca_fails_verification_and_closes() -> None:
    other = CertificateAuthority()
    with FakeSMTPServer(tls="starttls") as server:
        smtp = smtpclient.SMTP("localhost", server.port, local_hostname=LOCAL)
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=other.client_context())
        assert smtp.sock is None
        smtp.connect("localhost", server.port)  # the same object, once more, with the right CA
        smtp.starttls(context=server.client_context())
        assert smtp.sendmail("a@example.com", "b@example.com", MESSAGE) == {}
        smtp.quit()
        assert server.outbox.last.session.tls


def test_implicit_tls() -> None:
    with FakeSMTPServer(tls="implicit") as server:
        context = server.client_context()
        with smtpclient.SMTP_SSL("localhost", server.port, LOCAL, context=context) as smtp:
            assert smtp.sendmail("a@example.com", "b@example.com", MESSAGE) == {}
        assert server.outbox.last.session.tls
        with pytest.raises(ssl.SSLCertVerificationError):
            smtpclient.SMTP_SSL(
                "localhost", server.port, LOCAL, context=ssl.create_default_context()
            )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"])
def test_login_with_each_mechanism(mechanism: str) -> None:
    with FakeSMTPServer(users=USERS, auth_mechanisms=(mechanism,), auth_required=True) as server:
        with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
            assert smtp.login("alice", "wonderland")[0] == 235
            assert smtp.sendmail("alice@example.com", "b@example.com", MESSAGE) == {}
        assert server.outbox.last.session.auth_user == "alice"
        assert f"AUTH {mechanism}" in server.sessions[0].format_transcript()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"])
def test_login_failure_keeps_the_session_usable(mechanism: str) -> None:
    with (
        FakeSMTPServer(users=USERS, auth_mechanisms=(mechanism,)) as server,
        smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp,
    ):
        with pytest.raises(smtpclient.SMTPAuthenticationError) as caught:
            smtp.login("alice", "wrong")
        assert caught.value.smtp_code == 535
        assert caught.value.enhanced_status == "5.7.8"
        assert smtp.noop()[0] == 250  # still in step, even after XOAUTH2's JSON challenge


def test_partial_refusal(server: FakeSMTPServer) -> None:
    server.refuse_recipient("bob@example.com")
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        refused = smtp.sendmail("a@example.com", ["alice@example.com", "bob@example.com"], MESSAGE)
    assert refused == {"bob@example.com": (550, b"5.1.1 No such user")}
    assert server.outbox.last.rcpt_tos == ("alice@example.com",)


@pytest.mark.parametrize("pipelining", [True, False])
def test_total_refusal_raises_and_resets(server: FakeSMTPServer, pipelining: bool) -> None:
    server.refuse_recipient("bob@example.com")
    server.refuse_recipient("dan@example.com")
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.pipelining = pipelining
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as caught:
            smtp.sendmail("a@example.com", ["bob@example.com", "dan@example.com"], MESSAGE)
        assert caught.value.recipients == {
            "bob@example.com": (550, b"5.1.1 No such user"),
            "dan@example.com": (550, b"5.1.1 No such user"),
        }
        # The transaction was reset: a new one works on the same connection.
        assert smtp.sendmail("a@example.com", ["carol@example.com"], MESSAGE) == {}
    # Pipelined, DATA went with the batch; the server refused it (no recipient), so the
    # message was never sent.
    first = ["MAIL", "RCPT", "RCPT", "DATA"] if pipelining else ["MAIL", "RCPT", "RCPT"]
    assert commands(server) == ["EHLO", *first, "RSET", "MAIL", "RCPT", "DATA", "QUIT"]
    assert len(server.outbox) == 1


def test_sender_and_message_refused(server: FakeSMTPServer) -> None:
    server.on("MAIL", times=1).reply(553, "5.1.8 Bad sender domain")
    server.on("END_OF_DATA", times=1).reply(554, "5.6.0 Message rejected")
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        with pytest.raises(smtpclient.SMTPSenderRefused) as sender:
            smtp.sendmail("a@bad.test", ["b@example.com"], MESSAGE)
        assert (sender.value.sender, sender.value.enhanced_status) == ("a@bad.test", "5.1.8")
        with pytest.raises(smtpclient.SMTPDataError) as data:
            smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert data.value.enhanced_status == "5.6.0"
    server.assert_nothing_sent()


def send_one(smtp: smtpclient.SMTP, server: FakeSMTPServer) -> dict[str, tuple[int, bytes]]:
    smtp.connect(server.host, server.port)
    return smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE)


FAULTS: dict[str, tuple[Callable[[FakeSMTPServer], object], type[Exception]]] = {
    "421 at RCPT": (
        lambda server: server.on("RCPT", times=1).reply(421, "4.3.2 Shutting down"),
        smtpclient.SMTPRecipientsRefused,
    ),
    **{
        f"hang-up at {phase}": (
            lambda server, phase=phase: server.disconnect_at(phase, times=1),
            smtpclient.SMTPServerDisconnected,
        )
        for phase in ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "END_OF_DATA"]
    },
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_closes_and_the_same_object_reconnects(server: FakeSMTPServer, fault: str) -> None:
    arrange, error = FAULTS[fault]
    arrange(server)
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(error):
            send_one(smtp, server)
        assert smtp.sock is None
        assert smtp.file is None
        assert send_one(smtp, server) == {}
        smtp.quit()
    finally:
        smtp.close()
    assert [m.raw for m in server.outbox] == [MESSAGE]


def test_timeout_at_end_of_data_closes(server: FakeSMTPServer) -> None:
    server.on("END_OF_DATA", times=1).hang()
    smtp = smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL, timeout=0.3)
    try:
        with pytest.raises(smtpclient.SMTPServerDisconnected, match="timed out"):
            smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert smtp.sock is None
    finally:
        smtp.close()


def test_client_side_size_check_sends_nothing() -> None:
    with FakeSMTPServer(size_limit=50) as server:
        with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
            with pytest.raises(smtpclient.SMTPSenderRefused) as caught:
                smtp.sendmail("a@example.com", ["b@example.com"], b"x" * 51)
            assert (caught.value.smtp_code, caught.value.enhanced_status) == (552, "5.3.4")
            assert smtp.sendmail("a@example.com", ["b@example.com"], b"x" * 40) == {}
        assert commands(server) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
        assert len(server.outbox) == 1
        assert "SIZE=40" in server.outbox.last.mail_options


def test_lmtp_per_recipient_replies() -> None:
    with FakeLMTPServer() as server:
        server.on("END_OF_DATA", to="bob@example.com").reply(452, "4.2.2 Mailbox full")
        recipients = ["alice@example.com", "bob@example.com", "carol@example.com"]
        with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
            refused = lmtp.sendmail("a@example.com", recipients, MESSAGE)
            replies = [(rcpt, reply.code) for rcpt, reply in lmtp.last_data_replies]
    assert refused == {"bob@example.com": (452, b"4.2.2 Mailbox full")}
    assert replies == [(recipients[0], 250), (recipients[1], 452), (recipients[2], 250)]
    assert server.outbox.last.accepted_for == ("alice@example.com", "carol@example.com")


def test_lmtp_over_a_unix_socket() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "lmtp.sock")
        with FakeLMTPServer(path=path) as server:
            with smtpclient.LMTP(path, local_hostname=LOCAL) as lmtp:
                assert (
                    lmtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], MESSAGE)
                    == {}
                )
                assert len(lmtp.last_data_replies) == 2
                assert lmtp.noop()[0] == 250  # every reply was read: still in step
            assert server.outbox.last.rcpt_tos == ("b@example.com", "c@example.com")
            assert server.outbox.last.raw == MESSAGE


def test_refused_data_command_leaves_the_session_clean(server: FakeSMTPServer) -> None:
    server.tempfail("DATA", times=1)
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        with pytest.raises(smtpclient.SMTPDataError) as caught:
            smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert caught.value.smtp_code == 451
        # smtplib would meet "503 nested MAIL command" here: its transaction is still open.
        assert smtp.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
    assert commands(server) == [
        "EHLO",
        "MAIL",
        "RCPT",
        "DATA",
        "RSET",
        "MAIL",
        "RCPT",
        "DATA",
        "QUIT",
    ]

"""The project's own client against the fake server: both ends of the project, real sockets."""

from __future__ import annotations

import os
import ssl
import tempfile

import pytest

import smtpclient
from smtpfake import FakeLMTPServer, FakeSMTPServer


def test_sendmail_and_capture() -> None:
    with FakeSMTPServer() as server:
        with smtpclient.SMTP(*server.address) as client:
            refused = client.sendmail(
                "a@example.com", ["b@example.com"], b"Subject: ours\r\n\r\n.dot\r\nbody\r\n"
            )
            assert refused == {}
            assert client.last_data_reply.message.startswith(b"2.0.0 OK: queued as ")
        assert server.wait_for(1)[0].raw == b"Subject: ours\r\n\r\n.dot\r\nbody\r\n"


def test_starttls_verifies_with_the_fake_ca_and_logs_in() -> None:
    with FakeSMTPServer(tls="starttls", tls_required=True, users={"alice": "pw"}) as server:
        with smtpclient.SMTP("localhost", server.port) as client:
            client.starttls(context=server.client_context())
            client.login("alice", "pw")
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: tls\r\n\r\nhi\r\n")
        captured = server.wait_for(1)[0]
    assert captured.session.tls
    assert captured.session.auth_user == "alice"


def test_default_verification_refuses_the_untrusted_fake_certificate() -> None:
    with FakeSMTPServer(tls="implicit") as server, pytest.raises(ssl.SSLCertVerificationError):
        smtpclient.SMTP_SSL("localhost", server.port, timeout=2)


def test_implicit_tls() -> None:
    with FakeSMTPServer(tls="implicit") as server:
        with smtpclient.SMTP_SSL("localhost", server.port,
                                 context=server.client_context()) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: ssl\r\n\r\nhi\r\n")
        assert server.wait_for(1)[0].session.tls


def test_xoauth2_login() -> None:
    with FakeSMTPServer(users={"alice@example.com": "token"}, auth_mechanisms=["XOAUTH2"]) as srv:
        with smtpclient.SMTP(*srv.address) as client:
            client.ehlo()
            code, _ = client.auth("XOAUTH2", smtpclient.xoauth2("alice@example.com", "token"))
            assert code == 235
        assert srv.sessions[0].auth_user == "alice@example.com"


def test_tempfail_and_enhanced_status_reach_the_client() -> None:
    with FakeSMTPServer() as server:
        server.refuse_recipient("bob@example.com", 550, "5.1.1 No such user")
        with smtpclient.SMTP(*server.address) as client:
            with pytest.raises(smtpclient.SMTPRecipientsRefused) as excinfo:
                client.sendmail("a@example.com", ["bob@example.com"], b"hi\r\n")
            code, text = excinfo.value.recipients["bob@example.com"]
            assert (code, text) == (550, b"5.1.1 No such user")


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_lmtp_per_recipient_replies_over_tcp_and_unix(transport: str) -> None:
    directory = tempfile.mkdtemp(prefix="smtpfake-")
    path = os.path.join(directory, "lmtp.sock")
    server = FakeLMTPServer(path=path) if transport == "unix" else FakeLMTPServer()
    try:
        with server:
            server.on("END_OF_DATA", to="bob@example.com").reply(452, "4.2.2 Mailbox full")
            host = path if transport == "unix" else server.host
            with smtpclient.LMTP(host, server.port) as client:
                refused = client.sendmail(
                    "a@example.com", ["alice@example.com", "bob@example.com"],
                    b"Subject: lmtp\r\n\r\nhi\r\n",
                )
                assert refused == {"bob@example.com": (452, b"4.2.2 Mailbox full")}
                replies = [(r, reply.code) for r, reply in client.last_data_replies]
                assert replies == [("alice@example.com", 250), ("bob@example.com", 452)]
            assert server.wait_for(1)[0].accepted_for == ("alice@example.com",)
    finally:
        os.rmdir(directory)

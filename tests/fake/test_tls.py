"""TLS: STARTTLS and implicit TLS with certificates from the trustme CA helper."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import subprocess
import sys

import pytest

from smtpfake import CertificateAuthority, FakeSMTPServer, TranscriptLine


def test_shared_ca_is_cached_and_a_new_one_is_distinct() -> None:
    assert CertificateAuthority.shared() is CertificateAuthority.shared()
    assert CertificateAuthority().ca_pem != CertificateAuthority.shared().ca_pem


def test_ca_pem_path_holds_the_pem_and_is_stable() -> None:
    ca = CertificateAuthority.shared()
    path = ca.ca_pem_path
    assert path == ca.ca_pem_path
    with open(path, "rb") as f:
        assert f.read() == ca.ca_pem
    assert ca.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    context = ssl.create_default_context(cafile=path)
    with (
        FakeSMTPServer(tls="implicit") as server,
        smtplib.SMTP_SSL("localhost", server.port, context=context) as client,
    ):
        assert client.noop()[0] == 250


def test_starttls_then_mail_is_captured_as_tls() -> None:
    with FakeSMTPServer(tls="starttls") as server:
        with smtplib.SMTP("localhost", server.port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=server.client_context())
            client.ehlo()
            assert not client.has_extn("starttls")
            client.sendmail("a@example.com", ["b@example.com"], "Subject: s\r\n\r\nsecret\r\n")
        captured = server.wait_for(1)[0]
    assert captured.session.tls is True
    assert TranscriptLine("!", "TLS established") in captured.session.transcript


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_implicit_tls_verifies_for_localhost_and_the_ip(host: str) -> None:
    with FakeSMTPServer(tls="implicit") as server:
        with smtplib.SMTP_SSL(host, server.port, context=server.client_context()) as client:
            client.sendmail("a@example.com", ["b@example.com"], "Subject: s\r\n\r\nhi\r\n")
        assert server.wait_for(1)[0].session.tls is True


def test_starttls_required_refuses_mail_before_tls() -> None:
    with FakeSMTPServer(tls="starttls", tls_required=True) as server:
        with smtplib.SMTP("localhost", server.port) as client:
            client.ehlo()
            code, text = client.mail("a@example.com")
            assert (code, text[:5]) == (530, b"5.7.0")
            client.rset()
            client.starttls(context=server.client_context())
            client.ehlo()
            client.sendmail("a@example.com", ["b@example.com"], "hi")
        server.assert_sent(1)


def test_optional_starttls_allows_plain_mail() -> None:
    with FakeSMTPServer(tls="starttls") as server:
        with smtplib.SMTP("localhost", server.port) as client:
            client.sendmail("a@example.com", ["b@example.com"], "hi")
        assert server.outbox.last.session.tls is False


def test_sni_gets_a_certificate_for_any_requested_name() -> None:
    with FakeSMTPServer(tls="implicit") as server:
        context = server.client_context()
        with socket.create_connection(server.address, timeout=2) as raw, context.wrap_socket(
            raw, server_hostname="smtp.example.com"
        ) as tls:
            cert = tls.getpeercert()
            assert ("DNS", "smtp.example.com") in cert["subjectAltName"]
            assert tls.recv(100).startswith(b"220 ")


def test_a_client_not_trusting_the_ca_fails_and_the_server_stays_healthy() -> None:
    with FakeSMTPServer(tls="implicit") as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("localhost", server.port, context=ssl.create_default_context(),
                             timeout=2)
        with smtplib.SMTP_SSL("localhost", server.port, context=server.client_context()) as c:
            assert c.noop()[0] == 250
    # the failed handshake is the client's business, not a ServerError at stop


def test_failed_starttls_handshake_is_not_a_server_error(wire) -> None:
    with FakeSMTPServer(tls="starttls") as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        assert client.cmd("STARTTLS")[0] == 220
        with pytest.raises(ssl.SSLError):
            client.starttls(ssl.create_default_context(), "localhost")
    # stop() raised nothing


def test_own_ca_is_used_and_exposed() -> None:
    ca = CertificateAuthority()
    with FakeSMTPServer(tls="implicit", ca=ca) as server:
        assert server.ca is ca
        other = CertificateAuthority.shared().client_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("localhost", server.port, context=other, timeout=2)
        ctx = ssl.create_default_context()
        ca.trust(ctx)
        with smtplib.SMTP_SSL("localhost", server.port, context=ctx) as client:
            assert client.noop()[0] == 250


def test_server_context_is_cached_per_hostnames() -> None:
    ca = CertificateAuthority.shared()
    assert ca.server_context() is ca.server_context()
    assert ca.server_context(("mail.test",)) is not ca.server_context()
    assert os.path.exists(ca.ca_pem_path)


def test_plain_servers_never_import_trustme() -> None:
    # trustme brings in ``cryptography`` (tens of milliseconds): a process that runs only plain
    # servers must not pay for it; the first CA imports it.
    code = (
        "import sys, smtplib, smtpfake\n"
        "with smtpfake.FakeSMTPServer() as server:\n"
        "    with smtplib.SMTP(*server.address) as client:\n"
        "        client.sendmail('a@example.com', ['b@example.com'], 'Subject: hi\\r\\n\\r\\nx')\n"
        "    assert server.wait_for(1)[0].subject == 'hi'\n"
        "before = sorted(m for m in ('trustme', 'cryptography') if m in sys.modules)\n"
        "smtpfake.CertificateAuthority()\n"
        "print(before, 'trustme' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[] True"

"""Advertised extensions, hiding them, refusing ESMTP, size limits, greeting and host name."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake import FakeSMTPServer


def _features(server: FakeSMTPServer) -> dict[str, str]:
    with smtplib.SMTP(*server.address) as client:
        client.ehlo()
        return dict(client.esmtp_features)


def test_default_extensions() -> None:
    with FakeSMTPServer() as server:
        features = _features(server)
    assert set(features) == {"8bitmime", "smtputf8", "pipelining", "chunking", "binarymime",
                             "enhancedstatuscodes", "dsn"}


def test_every_extension_when_everything_is_on() -> None:
    with FakeSMTPServer(tls="starttls", users={"a": "b"}, size_limit=1000) as server:
        features = _features(server)
    assert features["size"] == "1000"
    assert features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]
    assert "starttls" in features


@pytest.mark.parametrize(
    "hidden",
    ["SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "CHUNKING", "BINARYMIME",
     "ENHANCEDSTATUSCODES", "DSN", "STARTTLS", "AUTH"],
)
def test_each_extension_can_be_hidden(hidden: str) -> None:
    with FakeSMTPServer(
        tls="starttls", users={"a": "b"}, size_limit=1000, hide=[hidden.lower()]
    ) as server:
        features = _features(server)
    assert hidden.lower() not in features
    # 10 extensions; BINARYMIME needs CHUNKING (RFC 3030), so hiding CHUNKING hides both
    assert len(features) == (8 if hidden == "CHUNKING" else 9)


def test_esmtp_refused_makes_clients_fall_back_to_helo() -> None:
    with FakeSMTPServer(esmtp=False) as server:
        with smtplib.SMTP(*server.address) as client:
            client.sendmail("a@example.com", ["b@example.com"], "Subject: old\r\n\r\nschool\r\n")
            assert not client.does_esmtp
        captured = server.wait_for(1)[0]
    assert captured.subject == "old"
    lines = [str(line) for line in captured.session.transcript]
    assert lines[1:4] == ["C: EHLO [127.0.0.1]", "S: 502 5.5.1 EHLO not supported, use HELO",
                          "C: HELO [127.0.0.1]"]


def test_size_limit_refuses_a_declared_size_at_mail(wire) -> None:
    with FakeSMTPServer(size_limit=100) as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        code, [text] = client.cmd("MAIL FROM:<a@example.com> SIZE=101")
        assert (code, text[:5]) == (552, "5.3.4")
        assert client.cmd("MAIL FROM:<a@example.com> SIZE=100")[0] == 250


def test_size_limit_refuses_oversized_data_after_reading_it() -> None:
    with FakeSMTPServer(size_limit=100) as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            del client.esmtp_features["size"]  # so smtplib does not declare the size at MAIL
            with pytest.raises(smtplib.SMTPDataError) as excinfo:
                client.sendmail("a@example.com", ["b@example.com"], "x" * 200)
            assert (excinfo.value.smtp_code, excinfo.value.smtp_error[:5]) == (552, b"5.3.4")
            client.sendmail("a@example.com", ["b@example.com"], "x" * 90)  # session goes on
        assert [len(m.raw) for m in server.outbox] == [92]


def test_dsn_parameters_are_accepted_and_kept() -> None:
    with FakeSMTPServer() as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            client.sendmail(
                "a@example.com", ["b@example.com"], "hi",
                mail_options=["RET=HDRS", "ENVID=abc"],
                rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@example.com"],
            )
        captured = server.wait_for(1)[0]
    assert captured.mail_options == ("RET=HDRS", "ENVID=ABC")  # aiosmtpd upper-cases them
    assert captured.rcpt_options == (("NOTIFY=SUCCESS,FAILURE", "ORCPT=RFC822;B@EXAMPLE.COM"),)


def test_smtputf8_addresses_and_body() -> None:
    with FakeSMTPServer() as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            client.sendmail(
                "j\u00f6rg@example.com", ["\u00e9l\u00e8ve@\u00e9cole.example"],
                "Subject: \u00e9t\u00e9\r\n\r\n\u00e7a va\r\n".encode(),
                mail_options=["SMTPUTF8"],
            )
        captured = server.wait_for(1)[0]
    assert captured.mail_from == "j\u00f6rg@example.com"
    assert captured.rcpt_tos == ("\u00e9l\u00e8ve@\u00e9cole.example",)
    assert captured.mail_options == ("SMTPUTF8",)


def test_greeting_and_hostname() -> None:
    with FakeSMTPServer(hostname="mx.example.org", greeting="ESMTP Postfix (Debian)") as server:
        with smtplib.SMTP(*server.address) as client:
            code, text = client.ehlo()
        assert code == 250
        assert text.splitlines()[0] == b"mx.example.org"
        assert server.sessions[0].transcript[0].text == "220 mx.example.org ESMTP Postfix (Debian)"

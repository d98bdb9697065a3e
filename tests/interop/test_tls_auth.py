"""smtpclient against a real Postfix over TLS: STARTTLS on the submission port and SMTPS, the
certificate verified against the test CA, and AUTH PLAIN and LOGIN through Dovecot SASL."""

from __future__ import annotations

import ssl

import pytest

import smtpclient

from ._dovecot import USERS
from ._maildir import Maildir, assert_same_message
from ._messages import DOMAIN, raw_message
from ._postfix import Postfix

ALICE = USERS[0]


def untrusted_contexts() -> list[ssl.SSLContext]:
    """Verifying contexts that do not trust the test CA: the system's, and smtpclient's."""
    return [ssl.create_default_context(), smtpclient.default_context()]


def send_and_read_back(smtp: smtpclient.SMTP, postfix: Postfix, tag: str) -> None:
    to = f"inbox+{tag}@{DOMAIN}"
    message = raw_message(to, f"tls {tag}")
    box = Maildir(postfix.maildir("inbox"))
    before = box.names()
    assert smtp.sendmail(ALICE.address, [to], message) == {}
    [name] = box.wait_new(before, 1, delivered_to=to)
    fields = assert_same_message(box.read(name), message)
    received = b" ".join(value for key, value in fields if key == b"received")
    assert b"ESMTPSA" in received  # Postfix: ESMTP, TLS (S), authenticated (A)


def test_starttls_verified_then_auth_and_send(
    postfix: Postfix, client_tls: ssl.SSLContext, tag: str
) -> None:
    with smtpclient.SMTP("localhost", postfix.ports.submission) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")  # smtpd_tls_auth_only: AUTH only inside TLS
        code, _ = smtp.starttls(context=client_tls)
        assert code == 220
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sock.getpeercert() is not None
        smtp.ehlo()
        assert set(smtp.esmtp_features["auth"].upper().split()) == {"PLAIN", "LOGIN"}
        assert smtp.login(ALICE.address, ALICE.password)[0] == 235
        send_and_read_back(smtp, postfix, tag)


def test_smtps_verified_then_auth_and_send(
    postfix: Postfix, client_tls: ssl.SSLContext, tag: str
) -> None:
    with smtpclient.SMTP_SSL("localhost", postfix.ports.smtps, context=client_tls) as smtp:
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sock.getpeercert() is not None
        assert smtp.login(ALICE.address, ALICE.password)[0] == 235
        send_and_read_back(smtp, postfix, tag)


@pytest.mark.parametrize("context", untrusted_contexts(), ids=["system-ca", "default-context"])
def test_starttls_refuses_a_certificate_from_an_untrusted_ca(
    postfix: Postfix, context: ssl.SSLContext
) -> None:
    smtp = smtpclient.SMTP("localhost", postfix.ports.submission)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=context)
        assert smtp.sock is None  # a failed handshake closes the connection
    finally:
        smtp.close()


@pytest.mark.parametrize("context", untrusted_contexts(), ids=["system-ca", "default-context"])
def test_smtps_refuses_a_certificate_from_an_untrusted_ca(
    postfix: Postfix, context: ssl.SSLContext
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        smtpclient.SMTP_SSL("localhost", postfix.ports.smtps, context=context)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_mechanism_good_and_bad_password(
    postfix: Postfix, client_tls: ssl.SSLContext, mechanism: str
) -> None:
    with smtpclient.SMTP("localhost", postfix.ports.submission) as smtp:
        smtp.starttls(context=client_tls)
        smtp.ehlo()
        smtp.user, smtp.password = ALICE.address, "wrong password"
        authobject = getattr(smtp, f"auth_{mechanism.lower()}")
        with pytest.raises(smtpclient.SMTPAuthenticationError) as refused:
            smtp.auth(mechanism, authobject)
        assert refused.value.smtp_code == 535
        assert refused.value.enhanced_status == "5.7.8"
        smtp.password = ALICE.password
        code, text = smtp.auth(mechanism, authobject)
        assert code == 235
        assert text.startswith(b"2.7.0")


def test_submission_refuses_to_relay_without_auth(
    postfix: Postfix, client_tls: ssl.SSLContext, tag: str
) -> None:
    to = f"inbox+{tag}@{DOMAIN}"
    with smtpclient.SMTP("localhost", postfix.ports.submission) as smtp:
        smtp.starttls(context=client_tls)
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as refused:
            smtp.sendmail(ALICE.address, [to], raw_message(to, f"no auth {tag}"))
    [(code, _)] = refused.value.recipients.values()
    assert code == 554

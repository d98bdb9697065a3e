"""AUTH against aiosmtpd: PLAIN, LOGIN, CRAM-MD5 and XOAUTH2, success and failure."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

import smtpclient

from ._servers import ScriptedServer, StartServer

LOCAL = "client.test"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
@pytest.mark.parametrize("initial_response_ok", [True, False])
def test_auth_mechanism_success(
    start_server: StartServer, mechanism: str, initial_response_ok: bool
) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "alice", "wonderland"
        authobject = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
        code, _ = smtp.auth(mechanism, authobject, initial_response_ok=initial_response_ok)
        assert code == 235
        smtp.sendmail("alice@example.com", "b@example.com", "hi")
    assert server.handler.messages[0].authenticated


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_mechanism_failure(start_server: StartServer, mechanism: str) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "alice", "wrong"
        authobject = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
        with pytest.raises(smtpclient.SMTPAuthenticationError) as caught:
            smtp.auth(mechanism, authobject)
        assert caught.value.smtp_code == 535
        assert caught.value.enhanced_status == "5.7.8"


def test_login_success_and_failure(start_server: StartServer) -> None:
    server = start_server(auth_exclude_mechanism=["XOAUTH2"])
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.login("bob", "builder")[0] == 235
        assert smtp.user == "bob"
    with (
        smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp,
        pytest.raises(smtpclient.SMTPAuthenticationError),
    ):
        smtp.login("bob", "nope")


def test_login_without_a_known_mechanism(start_server: StartServer) -> None:
    server = start_server(auth_exclude_mechanism=["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"])
    with (
        smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp,
        pytest.raises(smtpclient.SMTPException, match="No suitable authentication method"),
    ):
        smtp.login("bob", "builder")


def test_login_not_supported_without_auth(scripted: Callable[..., ScriptedServer]) -> None:
    server = scripted([(None, b"220 hi\r\n"), (b"EHLO", b"250-hi\r\n250 8BITMIME\r\n")])
    with (
        smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL) as smtp,
        pytest.raises(smtpclient.SMTPNotSupportedError),
    ):
        smtp.login("bob", "builder")


# login() choosing XOAUTH2 when it is the only mechanism: test_against_smtpfake.py.


def test_xoauth2_authobject(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        assert smtp.auth("XOAUTH2", smtpclient.xoauth2("alice", "ya29.token"))[0] == 235
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        with pytest.raises(smtpclient.SMTPAuthenticationError):
            smtp.auth("XOAUTH2", smtpclient.xoauth2("alice", "expired"))
        assert smtp.noop()[0] == 250  # still in step after the failure dance


def _xoauth2_authobject(smtp: smtpclient.SMTP, kind: str, token: str) -> Any:
    if kind == "method":
        smtp.user, smtp.password = "alice", token
        return smtp.auth_xoauth2
    return smtpclient.xoauth2("alice", token)


@pytest.mark.parametrize("kind", ["method", "function"])
@pytest.mark.parametrize("initial_response_ok", [True, False])
def test_xoauth2_with_and_without_initial_response(
    start_server: StartServer, kind: str, initial_response_ok: bool
) -> None:
    """Two-step form: AUTH XOAUTH2, an empty 334, then the token (never an empty line)."""
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        authobject = _xoauth2_authobject(smtp, kind, "ya29.token")
        code, _ = smtp.auth("XOAUTH2", authobject, initial_response_ok=initial_response_ok)
        assert code == 235
        smtp.sendmail("alice@example.com", "b@example.com", "hi")
    assert server.handler.messages[0].authenticated
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        authobject = _xoauth2_authobject(smtp, kind, "expired")
        with pytest.raises(smtpclient.SMTPAuthenticationError) as caught:
            smtp.auth("XOAUTH2", authobject, initial_response_ok=initial_response_ok)
        assert caught.value.smtp_code == 535
        assert smtp.noop()[0] == 250  # the error report was acknowledged: still in step


def test_login_with_xoauth2_in_two_steps(start_server: StartServer) -> None:
    server = start_server(auth_exclude_mechanism=["PLAIN", "LOGIN", "CRAM-MD5"])
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.login("alice", "ya29.token", initial_response_ok=False)[0] == 235


def test_xoauth2_empty_error_report_gets_an_empty_line(
    scripted: Callable[..., ScriptedServer],
) -> None:
    """A server whose error report after the token is an empty 334 (no JSON)."""
    token = base64.b64encode(b"user=alice\x01auth=Bearer expired\x01\x01")
    server = scripted(
        [
            (None, b"220 hi\r\n"),
            (b"EHLO", b"250-hi\r\n250 AUTH XOAUTH2\r\n"),
            (b"AUTH XOAUTH2\r\n", b"334 \r\n"),
            (token + b"\r\n", b"334 \r\n"),
            (b"\r\n", b"535 5.7.8 bad token\r\n"),
        ]
    )
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "alice", "expired"
        with pytest.raises(smtpclient.SMTPAuthenticationError) as caught:
            smtp.auth("XOAUTH2", smtp.auth_xoauth2, initial_response_ok=False)
        assert caught.value.smtp_code == 535
    assert server.received[2:4] == [token + b"\r\n", b"\r\n"]
    assert not server.errors


def test_challenge_that_is_not_base64_is_a_typed_error_and_cancels(
    scripted: Callable[..., ScriptedServer],
) -> None:
    """``334 abc`` (incorrect padding): SMTPAuthenticationError, ``*`` sent, still usable."""
    server = scripted(
        [
            (None, b"220 hi\r\n"),
            (b"EHLO", b"250-hi\r\n250 AUTH LOGIN\r\n"),
            (b"AUTH LOGIN", b"334 abc\r\n"),
            (b"*", b"501 5.7.0 cancelled\r\n"),
            (b"NOOP", b"250 still here\r\n"),
        ]
    )
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL) as smtp:
        with pytest.raises(smtpclient.SMTPAuthenticationError, match="Invalid base64"):
            smtp.login("alice", "wonderland")
        assert smtp.noop() == (250, b"still here")
    assert not server.errors


@pytest.mark.parametrize(
    ("user", "password"), [("alice\0admin", "wonderland"), ("alice", "wonder\r\nland")]
)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"])
def test_nul_cr_lf_in_credentials_refused_before_sending(
    scripted: Callable[..., ScriptedServer], mechanism: str, user: str, password: str
) -> None:
    server = scripted(
        [(None, b"220 hi\r\n"), (b"EHLO", f"250-hi\r\n250 AUTH {mechanism}\r\n".encode())]
    )
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        with pytest.raises(ValueError, match="NUL, CR or LF"):
            smtp.login(user, password)
        if mechanism != "CRAM-MD5":  # the mechanisms with an initial response
            smtp.user, smtp.password = user, password
            authobject = getattr(smtp, "auth_" + mechanism.lower())
            with pytest.raises(ValueError, match="NUL, CR or LF"):
                smtp.auth(mechanism, authobject)
        with pytest.raises(ValueError, match="NUL, CR or LF"):
            smtpclient.xoauth2(user, password)
    assert [line[:4].lower() for line in server.received] == [b"ehlo", b"quit"]
    assert not server.errors

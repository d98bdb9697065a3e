"""AUTH against aiosmtpd: PLAIN, LOGIN, CRAM-MD5 and XOAUTH2, success and failure."""

from __future__ import annotations

from collections.abc import Callable

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

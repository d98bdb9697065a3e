"""AUTH: every mechanism succeeding and failing, required or optional, with or without TLS."""

from __future__ import annotations

import asyncio
import base64
import hmac
import smtplib

import aiosmtplib
import pytest

from smtpfake import FakeSMTPServer

USERS = {"alice": "s3cret", "bob": "hunter2"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_smtplib_login_with_each_mechanism(mechanism: str) -> None:
    with FakeSMTPServer(users=USERS, auth_mechanisms=[mechanism]) as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            assert client.esmtp_features["auth"].split() == [mechanism]
            assert client.login("alice", "s3cret")[0] == 235
            client.sendmail("alice@example.com", ["b@example.com"], "hi")
        assert server.outbox.last.session.auth_user == "alice"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_wrong_password_is_535_with_each_mechanism(mechanism: str) -> None:
    with (
        FakeSMTPServer(users=USERS, auth_mechanisms=[mechanism]) as server,
        smtplib.SMTP(*server.address) as client,
    ):
        with pytest.raises(smtplib.SMTPAuthenticationError) as excinfo:
            client.login("alice", "wrong")
        assert excinfo.value.smtp_code == 535
        assert excinfo.value.smtp_error.startswith(b"5.7.8")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("nobody", "s3cret")


def _xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def test_xoauth2_succeeds_with_the_token_as_password() -> None:
    with FakeSMTPServer(users=USERS) as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            code, _ = client.auth("XOAUTH2", lambda challenge=None: _xoauth2("bob", "hunter2"))
            assert code == 235
            client.sendmail("bob@example.com", ["c@example.com"], "hi")
        assert server.outbox.last.session.auth_user == "bob"


def test_xoauth2_failure_sends_a_json_challenge_then_535(wire) -> None:
    with FakeSMTPServer(users=USERS) as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        blob = base64.b64encode(_xoauth2("bob", "expired").encode()).decode()
        code, [challenge] = client.cmd(f"AUTH XOAUTH2 {blob}")
        assert code == 334
        assert b'"status": "401"' in base64.b64decode(challenge)
        assert client.cmd("")[0] == 535


def test_xoauth2_without_initial_response(wire) -> None:
    with FakeSMTPServer(users=USERS) as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        assert client.cmd("AUTH XOAUTH2") == (334, [""])
        blob = base64.b64encode(_xoauth2("alice", "s3cret").encode()).decode()
        assert client.cmd(blob)[0] == 235


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_aiosmtplib_logs_in_with_each_mechanism_it_speaks(mechanism: str) -> None:
    # aiosmtplib is a second, independent client implementation.
    async def login(host: str, port: int) -> int:
        client = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=2)
        await client.connect()
        try:
            await client.ehlo()
            method = {"PLAIN": client.auth_plain, "LOGIN": client.auth_login,
                      "CRAM-MD5": client.auth_crammd5}[mechanism]
            return (await method("alice", "s3cret")).code
        finally:
            await client.quit()

    with FakeSMTPServer(users=USERS) as server:
        assert asyncio.run(login(server.host, server.port)) == 235
        assert server.sessions[0].auth_user == "alice"


def test_auth_required_refuses_mail_until_authenticated() -> None:
    with FakeSMTPServer(users=USERS, auth_required=True) as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            code, text = client.mail("a@example.com")
            assert (code, text) == (530, b"5.7.0 Authentication required")
            client.rset()
            client.login("alice", "s3cret")
            client.sendmail("a@example.com", ["b@example.com"], "hi")
        server.assert_sent(1)


def test_auth_require_tls_hides_and_refuses_auth_on_plaintext(wire) -> None:
    with (
        FakeSMTPServer(users=USERS, tls="starttls", auth_require_tls=True) as server,
        smtplib.SMTP("localhost", server.port) as client,
    ):
        client.ehlo()
        assert not client.has_extn("auth")
        code, _ = client.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0s3cret").decode())
        assert code == 538
        client.starttls(context=server.client_context())
        client.ehlo()
        assert client.has_extn("auth")
        assert client.login("alice", "s3cret")[0] == 235


def test_auth_aborted_with_star(wire) -> None:
    with FakeSMTPServer(users=USERS) as server:
        client = wire(server.address)
        client.reply()
        client.cmd("EHLO me")
        assert client.cmd("AUTH LOGIN")[0] == 334
        assert client.cmd("*")[0] == 501
        assert client.cmd("NOOP")[0] == 250


def test_no_users_means_no_auth_advertised() -> None:
    with FakeSMTPServer() as server, smtplib.SMTP(*server.address) as client:
        client.ehlo()
        assert not client.has_extn("auth")


def test_credentials_are_not_in_the_transcript() -> None:
    with FakeSMTPServer(users=USERS) as server:
        with smtplib.SMTP(*server.address) as client:
            client.login("alice", "s3cret")
        transcript = server.sessions[0].format_transcript()
    assert "s3cret" not in transcript
    assert base64.b64encode(b"\0alice\0s3cret").decode() not in transcript
    assert "C: AUTH CRAM-MD5" in transcript or "C: AUTH PLAIN <credentials>" in transcript


def test_non_ascii_credentials_with_every_mechanism(wire) -> None:
    # smtplib only sends ASCII credentials, so the exchanges are written out by hand (UTF-8).
    user, password = "j\u00f6rg", "p\u00e4ss\u2603"

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    with FakeSMTPServer(users={user: password}) as server:
        for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"):
            client = wire(server.address)
            client.reply()
            client.cmd("EHLO me")
            if mechanism == "PLAIN":
                code, _ = client.cmd("AUTH PLAIN " + b64(f"\0{user}\0{password}".encode()))
            elif mechanism == "LOGIN":
                assert client.cmd("AUTH LOGIN")[0] == 334
                assert client.cmd(b64(user.encode()))[0] == 334
                code, _ = client.cmd(b64(password.encode()))
            elif mechanism == "CRAM-MD5":
                _, [challenge] = client.cmd("AUTH CRAM-MD5")
                digest = hmac.new(password.encode(), base64.b64decode(challenge), "md5")
                code, _ = client.cmd(b64(f"{user} {digest.hexdigest()}".encode()))
            else:
                code, _ = client.cmd("AUTH XOAUTH2 " + b64(_xoauth2(user, password).encode()))
            assert code == 235, mechanism
        assert {s.auth_user for s in server.sessions} == {user}

"""login and auth: mechanism choice, PLAIN/LOGIN/CRAM-MD5 exchanges, failures, authobjects."""

from __future__ import annotations

import base64
import hmac
import smtplib
from typing import Any

import pytest

from ._harness import Conversation, candidate, compare, run


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def ehlo(auth: str) -> str:
    return f"250-peer.test\n250-8BITMIME\n250 AUTH {auth}"


def login(user: str = "alice", password: str = "s3cret", **kw: Any) -> Any:
    def conv(c: Conversation) -> Any:
        return c.smtp().login(user, password, **kw)

    return conv


def test_plain_is_preferred_over_login(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ehlo("LOGIN PLAIN"), "AUTH": "235 2.7.0 ok"})
    out = compare(peer, login())
    assert out.value == (235, b"2.7.0 ok")
    assert out.sent[0][1] == f"AUTH PLAIN {b64(chr(0) + 'alice' + chr(0) + 's3cret')}\r\n".encode()


def test_login_with_initial_response(make_peer: Any) -> None:
    peer = make_peer(
        {"EHLO": ehlo("LOGIN"), "AUTH": f"334 {b64('Password:')}", "AUTH_CONT": "235 2.7.0 ok"}
    )
    out = compare(peer, login())
    assert out.sent[0][1:3] == [
        f"AUTH LOGIN {b64('alice')}\r\n".encode(),
        f"{b64('s3cret')}\r\n".encode(),
    ]


def test_login_without_initial_response(make_peer: Any) -> None:
    peer = make_peer(
        {
            "EHLO": ehlo("LOGIN"),
            "AUTH": f"334 {b64('Username:')}",
            "AUTH_CONT": [f"334 {b64('Password:')}", "235 2.7.0 ok"],
        }
    )
    out = compare(peer, login(initial_response_ok=False))
    assert out.sent[0][1:4] == [
        b"AUTH LOGIN\r\n",
        f"{b64('alice')}\r\n".encode(),
        f"{b64('s3cret')}\r\n".encode(),
    ]


def test_cram_md5_is_preferred_and_answers_the_challenge(make_peer: Any) -> None:
    challenge = b"<1896.697170952@peer.test>"
    peer = make_peer(
        {
            "EHLO": ehlo("PLAIN LOGIN CRAM-MD5"),
            "AUTH": f"334 {b64(challenge)}",
            "AUTH_CONT": "235 2.7.0 ok",
        }
    )
    out = compare(peer, login())
    digest = hmac.new(b"s3cret", challenge, "md5").hexdigest()
    assert out.sent[0][1:3] == [b"AUTH CRAM-MD5\r\n", f"{b64('alice ' + digest)}\r\n".encode()]


def test_every_mechanism_fails_raises_the_last_error(make_peer: Any) -> None:
    peer = make_peer(
        {
            "EHLO": ehlo("CRAM-MD5 PLAIN LOGIN"),
            "AUTH": [f"334 {b64('<1.2@peer>')}", "535 5.7.8 bad plain", f"334 {b64('Password:')}"],
            "AUTH_CONT": ["535 5.7.8 bad cram", "535 5.7.8 bad login"],
        }
    )
    out = compare(peer, login())
    assert out.error is not None
    assert out.error.type == "SMTPAuthenticationError"
    assert out.error.attrs == {"smtp_code": 535, "smtp_error": b"5.7.8 bad login"}
    assert [u.split(b" ")[:2] for u in out.sent[0] if u.startswith(b"AUTH")] == [
        [b"AUTH", b"CRAM-MD5\r\n"],
        [b"AUTH", b"PLAIN"],
        [b"AUTH", b"LOGIN"],
    ]


def test_already_authenticated_503_counts_as_success(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ehlo("PLAIN"), "AUTH": "503 5.5.1 already authenticated"})
    assert compare(peer, login()).value == (503, b"5.5.1 already authenticated")


def test_no_auth_advertised(make_peer: Any) -> None:
    out = compare(make_peer(), login())
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPNotSupportedError",
        ("SMTP AUTH extension not supported by server.",),
    )


def test_no_auth_when_only_helo_works(make_peer: Any) -> None:
    out = compare(make_peer({"EHLO": "502 no"}), login())
    assert out.error is not None
    assert out.error.type == "SMTPNotSupportedError"


@pytest.mark.parametrize("auth", ["GSSAPI NTLM", "", "plain login"])
def test_no_suitable_mechanism(make_peer: Any, auth: str) -> None:
    out = compare(make_peer({"EHLO": ehlo(auth)}), login())
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPException",
        ("No suitable authentication method found.",),
    )


def test_old_style_auth_advertisement(make_peer: Any) -> None:
    peer = make_peer({"EHLO": "250-peer.test\n250 AUTH=PLAIN", "AUTH": "235 ok"})
    assert compare(peer, login()).value == (235, b"ok")


def test_auth_with_an_authobject(make_peer: Any) -> None:
    peer = make_peer(
        {
            "EHLO": ehlo("X-TOKEN"),
            "AUTH": f"334 {b64('step one')}",
            "AUTH_CONT": [f"334 {b64('step two')}", "235 2.7.0 welcome"],
        }
    )

    def conv(c: Conversation) -> Any:
        seen: list[bytes | None] = []

        def authobject(challenge: bytes | None = None) -> str | None:
            seen.append(challenge)
            return None if challenge is None else f"answer to {challenge.decode()}"

        s = c.smtp()
        s.ehlo()
        return s.auth("x-token", authobject), seen

    out = compare(peer, conv)
    assert out.value == ((235, b"2.7.0 welcome"), [None, b"step one", b"step two"])
    assert out.sent[0][1] == b"AUTH X-TOKEN\r\n"


def test_auth_with_initial_response_disabled(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ehlo("PLAIN"), "AUTH": "334 ", "AUTH_CONT": "235 ok"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        s.user, s.password = "alice", "s3cret"
        return s.auth("PLAIN", s.auth_plain, initial_response_ok=False)

    out = compare(peer, conv)
    assert out.sent[0][1] == b"AUTH PLAIN\r\n"


def test_endless_challenges_are_cut_off(make_peer: Any) -> None:
    """Same error as smtplib; deliberately, we also hang up on a server stuck mid-AUTH."""
    peer = make_peer(
        {"EHLO": ehlo("LOGIN"), "AUTH": "334 VXNlcm5hbWU6", "AUTH_CONT": ["334 eA=="] * 8}
    )
    theirs, ours = run(smtplib, peer, login()), run(candidate(), peer, login())
    for out in (theirs, ours):
        assert out.error is not None
        assert out.error.type == "SMTPException"
        assert str(out.error.args[0]).startswith("Server AUTH mechanism infinite loop.")
        assert out.error.is_smtplib_class
    assert ours.sent == theirs.sent
    assert theirs.clients[0]["sock is None"] is False
    assert ours.clients[0]["sock is None"] is True


def test_auth_failure_with_unexpected_code(make_peer: Any) -> None:
    peer = make_peer({"EHLO": ehlo("PLAIN"), "AUTH": "454 4.7.0 temporary failure"})
    out = compare(peer, login())
    assert out.error is not None
    assert out.error.attrs == {"smtp_code": 454, "smtp_error": b"4.7.0 temporary failure"}

"""Realistic flows against a real aiosmtpd server: the same results and the same mail delivered.

Here ``Outcome.sent`` is what the server's handler accepted (envelope, options, raw content,
TLS and login state), not a byte transcript.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from ._harness import Conversation, compare

USERS = {"alice": "s3cret"}
BODY = "Subject: real\r\n\r\n" + "".join(
    f"{'.' if i % 7 == 0 else ''}line {i:04d} " + "x" * 60 + "\r\n" for i in range(200)
)


def test_sendmail_with_partial_refusal(make_server: Any) -> None:
    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            return s.sendmail(
                "Sender <a@example.org>",
                ["b@example.org", "nobody@example.org", "c@example.org"],
                BODY,
                mail_options=["BODY=8BITMIME"],
            )

    out = compare(make_server(), conv)
    assert out.value == {"nobody@example.org": (550, b"5.1.1 no such user")}
    [message] = out.sent
    assert message["rcpt_tos"] == ["b@example.org", "c@example.org"]
    assert message["content"] == BODY.encode()


def test_all_refused_then_a_good_message(make_server: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        try:
            s.sendmail("a@example.org", ["nobody@example.org"], "x\n")
        except Exception as exc:
            first = (type(exc).__name__, exc.args)
        return first, s.sendmail("a@example.org", "b@example.org", "y\n"), s.quit()

    out = compare(make_server(), conv)
    assert out.value[0][0] == "SMTPRecipientsRefused"
    assert [m["rcpt_tos"] for m in out.sent] == [["b@example.org"]]


def test_send_message_utf8(make_server: Any) -> None:
    msg = EmailMessage()
    msg["From"] = "J\u00f6rg <j\u00f6rg@example.org>"
    msg["To"] = "b@example.org"
    msg["Bcc"] = "hidden@example.org"
    msg["Subject"] = "gr\u00fc\u00dfe"
    msg.set_content("caf\u00e9\n.dot\n")

    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            return s.send_message(msg)

    out = compare(make_server(), conv)
    [message] = out.sent
    assert message["mail_options"][1:] == ["SMTPUTF8", "BODY=8BITMIME"]
    assert b"hidden@" not in message["content"]


def test_starttls_login_and_send(
    make_server: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        features_before = dict(s.esmtp_features)
        tls = s.starttls(context=client_tls)
        s.ehlo()
        auth = s.login("alice", "s3cret")
        refused = s.sendmail("alice@example.org", ["b@example.org"], BODY)
        return features_before, tls, auth, refused, s.quit()

    out = compare(make_server(starttls=server_tls, users=USERS), conv)
    assert "starttls" in out.value[0]
    [message] = out.sent
    assert message["tls"] is True
    assert message["login"] == b"alice"


def test_starttls_not_offered(make_server: Any, client_tls: ssl.SSLContext) -> None:
    def conv(c: Conversation) -> Any:
        c.smtp().starttls(context=client_tls)

    out = compare(make_server(), conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPNotSupportedError",
        ("STARTTLS extension not supported by server.",),
    )


@pytest.mark.parametrize(("password", "ok"), [("s3cret", True), ("wrong", False)])
def test_login_plain_over_plaintext(make_server: Any, password: str, ok: bool) -> None:
    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            return s.login("alice", password)

    out = compare(make_server(users=USERS), conv)
    assert (out.error is None) is ok
    if not ok:
        assert out.error is not None
        assert out.error.type == "SMTPAuthenticationError"


def test_login_method_fallback_with_login_mechanism(make_server: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        s.esmtp_features["auth"] = "LOGIN"  # what a caller may do to force a mechanism
        return s.login("alice", "s3cret"), s.quit()

    out = compare(make_server(users=USERS), conv)
    assert out.value[0][0] == 235


def test_smtp_ssl(make_server: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    def conv(c: Conversation) -> Any:
        with c.smtp(cls="SMTP_SSL", context=client_tls) as s:
            return s.noop(), s.sendmail("a@example.org", ["b@example.org"], BODY)

    out = compare(make_server(implicit_tls=server_tls), conv)
    assert out.value[0][0] == 250
    assert out.sent[0]["rcpt_tos"] == ["b@example.org"]


def test_lmtp_over_a_unix_socket(make_server: Any, tmp_path: Path) -> None:
    server = make_server(lmtp=True, unix_path=str(tmp_path / "lmtp.sock"))

    def conv(c: Conversation) -> Any:
        s = c.smtp(cls="LMTP", connect=False)
        greeting = s.connect(c.host)
        refused = s.sendmail("a@example.org", ["b@example.org"], BODY)
        return greeting, refused, s.quit()

    out = compare(server, conv)
    assert out.value[0][0] == 220
    assert out.sent[0]["helo"] == "client.test"


def test_big_message(make_server: Any) -> None:
    body = BODY * 40  # about 300 KiB

    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            return s.sendmail("a@example.org", ["b@example.org"], body.encode())

    out = compare(make_server(), conv)
    assert out.sent[0]["content"] == body.encode()

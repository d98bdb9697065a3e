"""Subclasses written for smtplib keep working: the transactions call the public methods.

smtplib's ``sendmail`` calls ``self.mail``, ``self.rcpt`` and ``self.data``; ``send_message``
calls ``self.sendmail``; ``login`` calls ``self.auth``; ``ehlo_or_helo_if_needed`` calls
``self.ehlo``/``self.helo``. Applications override those (to add options, to log) and expect
the whole transaction to go through their override, so ours must too.
"""

from __future__ import annotations

import email.message
from collections.abc import Sequence
from typing import Any
from unittest import mock

import pytest

import smtpclient
from smtpfake import FakeSMTPServer
from tests._support.wire import FROM, TO

from ._servers import RecordingHandler, StartServer

LOCAL = "client.test"


class Recording(smtpclient.SMTP):
    """Records each public call and redirects every recipient to example.net (a staging rewrite)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls: list[str] = []
        super().__init__(*args, **kwargs)

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        self.calls.append("ehlo")
        return super().ehlo(name)

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.calls.append("mail")
        return super().mail(sender, options)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.calls.append("rcpt")
        return super().rcpt(recip.replace("@example.com", "@example.net"), options)

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        self.calls.append("data")
        return super().data(msg)

    def rset(self) -> tuple[int, bytes]:
        self.calls.append("rset")
        return super().rset()

    def sendmail(self, *args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
        self.calls.append("sendmail")
        return super().sendmail(*args, **kwargs)

    def auth(self, mechanism: str, authobject: Any, **kwargs: Any) -> tuple[int, bytes]:
        self.calls.append("auth " + mechanism)
        return super().auth(mechanism, authobject, **kwargs)


def test_sendmail_goes_through_overridden_mail_rcpt_data(start_server: StartServer) -> None:
    server = start_server()
    with Recording(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi\n") == {}
        assert smtp.calls == ["sendmail", "ehlo", "mail", "rcpt", "rcpt", "data"]
        assert smtp.last_data_reply is not None
        assert smtp.last_data_reply.code == 250
    [message] = server.handler.messages
    assert message.rcpt_tos == ["b@example.net", "c@example.net"]


def test_refusal_resets_through_overridden_rset(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"b@example.net"}))
    with Recording(server.host, server.port, local_hostname=LOCAL) as smtp:
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as caught:
            smtp.sendmail("a@example.com", ["b@example.com"], "hi\n")
        # Keyed by the address sendmail was given, as in smtplib.
        assert caught.value.recipients == {"b@example.com": (550, b"5.1.1 No such user here")}
        assert smtp.calls == ["sendmail", "ehlo", "mail", "rcpt", "rset"]


def test_send_message_goes_through_overridden_sendmail(start_server: StartServer) -> None:
    server = start_server()
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg.set_content("body")
    with Recording(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.send_message(msg) == {}
        assert smtp.calls == ["ehlo", "sendmail", "mail", "rcpt", "data"]
    assert len(server.handler.messages) == 1


def test_login_goes_through_overridden_auth(start_server: StartServer) -> None:
    server = start_server()
    with Recording(server.host, server.port, local_hostname=LOCAL) as smtp:
        code, _ = smtp.login("alice", "wonderland")
        assert code == 235
        assert smtp.calls == ["ehlo", "auth CRAM-MD5"]


def test_an_overridden_send_sees_commands_and_the_message(start_server: StartServer) -> None:
    class Counting(smtpclient.SMTP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.sent: list[bytes] = []
            super().__init__(*args, **kwargs)

        def send(self, s: str | bytes) -> None:
            self.sent.append(s.encode() if isinstance(s, str) else s)
            super().send(s)

    server = start_server()
    with Counting(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\n.dot\r\n")
        assert smtp.sent[-1] == b"Subject: x\r\n\r\n..dot\r\n.\r\n"
        assert smtp.sent[0] == b"ehlo client.test\r\n"
    assert server.handler.messages[0].content == b"Subject: x\r\n\r\n.dot\r\n"


def test_a_method_patched_on_the_object_is_used_too(start_server: StartServer) -> None:
    server = start_server()
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        original = smtp.rcpt
        seen: list[str] = []

        def rcpt(recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
            seen.append(recip)
            return original(recip, options)

        smtp.rcpt = rcpt  # type: ignore[method-assign]  # what mock.patch.object(smtp, ...) does
        assert smtp.sendmail("a@example.com", ["b@example.com"], "hi\n") == {}
    assert seen == ["b@example.com"]


def test_overrides_hold_when_the_server_offers_pipelining() -> None:
    # smtpfake advertises PIPELINING: a replaced MAIL/RCPT/DATA still sees each call, in turn.
    with FakeSMTPServer() as server:
        with Recording(server.host, server.port, local_hostname=LOCAL) as smtp:
            assert smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi\n") == {}
            assert smtp.calls == ["sendmail", "ehlo", "mail", "rcpt", "rcpt", "data"]
        assert server.wait_for(1)[0].rcpt_tos == ("b@example.net", "c@example.net")


def test_an_overridden_has_extn_decides_the_size_parameter(start_server: StartServer) -> None:
    class NoSize(smtpclient.SMTP):
        def has_extn(self, opt: str) -> bool:
            return opt.lower() != "size" and super().has_extn(opt)

    server = start_server()  # aiosmtpd advertises SIZE
    with NoSize(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], "hi\n")
        assert "size" in smtp.esmtp_features
    assert server.handler.messages[0].mail_options == []  # smtplib would send no size= either
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], "hi\n")
    assert server.handler.messages[1].mail_options == ["SIZE=4"]


def test_an_overridden_putcmd_sees_every_command() -> None:
    class Logging(smtpclient.SMTP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.log: list[tuple[str, str]] = []
            super().__init__(*args, **kwargs)

        def putcmd(self, cmd: str, args: str = "") -> None:
            self.log.append((cmd, args))
            super().putcmd(cmd, args)

    with FakeSMTPServer() as server:
        with Logging(server.host, server.port, local_hostname=LOCAL) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi\n")
            smtp.noop()
        assert server.wait_for(1)[0].raw == b"hi\r\n"
    assert smtp.log == [
        ("ehlo", LOCAL),
        ("mail", f"{FROM}<a@example.com>"),
        ("rcpt", f"{TO}<b@example.com>"),
        ("rcpt", f"{TO}<c@example.com>"),
        ("data", ""),
        ("noop", ""),
        ("QUIT", ""),
    ]


def test_a_mocked_has_extn_changes_what_send_message_does() -> None:
    # The way suites written for smtplib test their code: no server, the methods mocked.
    smtp = smtpclient.SMTP(local_hostname=LOCAL)
    msg = email.message.EmailMessage()
    msg["From"] = "jörg@example.com"
    msg["To"] = "b@example.com"
    msg.set_content("body")
    with (
        mock.patch.object(smtp, "ehlo", return_value=(250, b"ok")),
        mock.patch.object(smtp, "has_extn", return_value=True) as has_extn,
        mock.patch.object(smtp, "sendmail", return_value={}) as sendmail,
    ):
        assert smtp.send_message(msg) == {}
    has_extn.assert_called_with("smtputf8")
    [call] = sendmail.call_args_list
    assert call.args[0] == "jörg@example.com"
    assert call.args[3] == ("SMTPUTF8", "BODY=8BITMIME")

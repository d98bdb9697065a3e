"""Hang-ups at every phase, timeouts and malformed replies, against a scripted raw server."""

from __future__ import annotations

import gc
import smtplib
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import smtpclient
from tests._support.wire import wire

from ._servers import DATA_END, HANGUP, SILENT, ScriptedServer, StartServer

LOCAL = "client.test"
Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]

GREET = (None, b"220 scripted\r\n")
EHLO = (b"EHLO", b"250-scripted\r\n250 8BITMIME\r\n")
MAIL = (b"MAIL", b"250 ok\r\n")
RCPT = (b"RCPT", b"250 ok\r\n")
DATA = (b"DATA", b"354 go\r\n")
# Hang-ups at the greeting, EHLO, MAIL, RCPT, DATA and the end of data are checked against
# smtpfake (test_against_smtpfake.py); a raw server adds a hang-up in the middle of the data.
PHASES: dict[str, list[tuple[bytes | None, Any]]] = {
    "message": [GREET, EHLO, MAIL, RCPT, DATA, (None, HANGUP)],
}


def send_one(smtp: smtpclient.SMTP, port: int) -> None:
    smtp.connect("127.0.0.1", port)
    smtp.sendmail("a@example.com", ["b@example.com"], "hello\n")


@pytest.mark.parametrize("phase", list(PHASES))
def test_hang_up_then_reconnect(phase: str, scripted: Scripted, start_server: StartServer) -> None:
    server = scripted(PHASES[phase])
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    try:
        with pytest.raises(smtpclient.SMTPServerDisconnected):
            send_one(smtp, server.port)
        assert smtp.sock is None
        assert smtp.file is None
        healthy = start_server()
        smtp.connect(healthy.host, healthy.port)
        assert smtp.sendmail("a@example.com", ["b@example.com"], "again\n") == {}
        smtp.quit()
    finally:
        smtp.close()
    assert healthy.handler.messages[0].content == b"again\r\n"
    assert not server.errors


def test_hang_up_at_quit_is_ignored_by_the_context_manager(scripted: Scripted) -> None:
    server = scripted([GREET, (b"QUIT", HANGUP)])
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5) as smtp:
        pass
    assert smtp.sock is None


def test_quit_hang_up_raises(scripted: Scripted) -> None:
    server = scripted([GREET, (b"QUIT", HANGUP)])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    with pytest.raises(smtpclient.SMTPServerDisconnected):
        smtp.quit()
    assert smtp.sock is None


def test_unconnected_object_raises_disconnected() -> None:
    smtp = smtpclient.SMTP(local_hostname=LOCAL)
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="please run connect"):
        smtp.noop()


def test_greeting_timeout_closes(scripted: Scripted) -> None:
    server = scripted([(None, SILENT)])
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=0.3)
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="timed out"):
        smtp.connect("127.0.0.1", server.port)
    assert smtp.sock is None


def test_end_of_data_timeout_closes(scripted: Scripted) -> None:
    server = scripted([GREET, EHLO, MAIL, RCPT, DATA, (DATA_END, SILENT)])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=0.3)
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="timed out"):
        smtp.sendmail("a@example.com", ["b@example.com"], "hello\n")
    assert smtp.sock is None
    assert server.received[-1] == b"hello\r\n"


def test_connect_error_on_non_220_greeting(scripted: Scripted) -> None:
    server = scripted([(None, b"554 5.3.2 go away\r\n")])
    with pytest.raises(smtpclient.SMTPConnectError) as caught:
        smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    assert caught.value.args == (554, b"5.3.2 go away")
    assert caught.value.enhanced_status == "5.3.2"


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (b"hello there\r\n", -1, "no three-digit reply code"),
        (b"220-one\r\n250 two\r\n", -1, "continues a reply"),
        (b"220 " + b"x" * 9000 + b"\r\n", 500, "Line too long."),
        (b"220-x\r\n" * 1001 + b"220 end\r\n", 500, "more than 1000 lines"),
    ],
)
def test_malformed_greeting_is_a_typed_error_and_closes(
    scripted: Scripted, reply: bytes, code: int, message: str
) -> None:
    server = scripted([(None, reply)])
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    with pytest.raises(smtpclient.SMTPReplyError) as caught:
        smtp.connect("127.0.0.1", server.port)
    assert caught.value.smtp_code == code
    assert message in caught.value.smtp_error
    assert isinstance(caught.value, smtplib.SMTPConnectError)  # "try the next MX" catches it
    assert smtp.sock is None


def test_ehlo_refused_falls_back_to_helo(scripted: Scripted) -> None:
    server = scripted(
        [
            GREET,
            (b"EHLO", b"502 5.5.1 no\r\n"),
            (b"HELO", b"250 hi\r\n"),
            MAIL,
            RCPT,
            DATA,
            (DATA_END, b"250 queued\r\n"),
        ]
    )
    with smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5) as smtp:
        assert smtp.sendmail("a@example.com", "b@example.com", "x", ["BODY=8BITMIME"]) == {}
        assert smtp.helo_resp == b"hi"
        assert not smtp.does_esmtp
    # No ESMTP: the MAIL options were dropped, as smtplib does.
    assert server.received[2] == wire(b"mail FROM:<a@example.com>\r\n")


def test_helo_refused_raises_helo_error(scripted: Scripted) -> None:
    server = scripted([GREET, (b"EHLO", b"502 no\r\n"), (b"HELO", b"501 5.5.4 bad name\r\n")])
    with (
        smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5) as smtp,
        pytest.raises(smtpclient.SMTPHeloError) as caught,
    ):
        smtp.sendmail("a@example.com", "b@example.com", "x")
    assert caught.value.args == (501, b"5.5.4 bad name")


def test_421_at_rcpt_closes_the_connection(scripted: Scripted) -> None:
    server = scripted([GREET, EHLO, MAIL, (b"RCPT", b"421 4.3.2 shutting down\r\n")])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=5)
    with pytest.raises(smtpclient.SMTPRecipientsRefused) as caught:
        smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "x")
    assert caught.value.recipients == {"b@example.com": (421, b"4.3.2 shutting down")}
    assert smtp.sock is None


STARTTLS_EHLO = (b"EHLO", b"250-scripted\r\n250 STARTTLS\r\n")


def test_hang_up_at_the_tls_handshake_then_reconnect(
    scripted: Scripted, start_server: StartServer
) -> None:
    server = scripted([GREET, STARTTLS_EHLO, (b"STARTTLS", b"220 go ahead\r\n"), (None, HANGUP)])
    smtp = smtpclient.SMTP(local_hostname=LOCAL, timeout=5)
    try:
        smtp.connect("127.0.0.1", server.port)
        with pytest.raises(smtpclient.SMTPServerDisconnected, match="TLS handshake"):
            smtp.starttls()
        assert smtp.sock is None
        healthy = start_server()
        smtp.connect(healthy.host, healthy.port)
        assert smtp.sendmail("a@example.com", ["b@example.com"], "again\n") == {}
    finally:
        smtp.close()


def test_hang_up_at_the_implicit_tls_handshake(scripted: Scripted) -> None:
    server = scripted([(None, HANGUP)])
    smtp = smtpclient.SMTP_SSL(local_hostname=LOCAL, timeout=5)
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="TLS handshake"):
        smtp.connect("127.0.0.1", server.port)
    assert smtp.sock is None


def test_silence_at_the_tls_handshake_times_out(scripted: Scripted) -> None:
    server = scripted([GREET, STARTTLS_EHLO, (b"STARTTLS", b"220 go ahead\r\n"), (None, SILENT)])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname=LOCAL, timeout=0.3)
    with pytest.raises(smtpclient.SMTPServerDisconnected, match="timed out"):
        smtp.starttls()
    assert smtp.sock is None


def test_a_constructor_that_fails_leaves_no_socket_behind() -> None:
    # A negative timeout is refused by settimeout() after LMTP has made its unix socket:
    # smtplib raises the ValueError and leaks that socket to the garbage collector.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ValueError, match=r"[Tt]imeout value"):
            smtpclient.LMTP("/nonexistent/lmtp.sock", timeout=-1.0)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]

"""LMTP over TCP and a unix socket: one reply per accepted recipient after the data."""

from __future__ import annotations

from pathlib import Path

import pytest

import smtpclient

from ._servers import RecordingHandler, StartServer

LOCAL = "client.test"
RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com"]


def test_lmtp_tcp_several_recipients(start_server: StartServer) -> None:
    server = start_server(lmtp=True)
    with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
        assert lmtp.sendmail("s@example.com", RECIPIENTS, "hi") == {}
        assert [r for r, _ in lmtp.last_data_replies] == RECIPIENTS
        assert [reply.message for _, reply in lmtp.last_data_replies] == [
            f"2.0.0 {r} OK".encode() for r in RECIPIENTS
        ]
        assert lmtp.noop()[0] == 250  # every reply was read: still in step
    assert server.handler.messages[0].rcpt_tos == RECIPIENTS


# LMTP over a unix socket is checked against smtpfake in test_against_smtpfake.py.


def test_lmtp_recipient_refused_after_data_is_in_refused_dict(start_server: StartServer) -> None:
    handler = RecordingHandler(refuse={"c@example.com"}, refuse_after_data={"b@example.com"})
    server = start_server(handler, lmtp=True)
    with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
        refused = lmtp.sendmail("s@example.com", RECIPIENTS, "hi")
        assert refused == {
            "c@example.com": (550, b"5.1.1 No such user here"),
            "b@example.com": (550, b"5.2.2 Mailbox full"),
        }
        assert lmtp.noop()[0] == 250


def test_lmtp_every_recipient_refused_after_data(start_server: StartServer) -> None:
    handler = RecordingHandler(refuse_after_data=set(RECIPIENTS))
    server = start_server(handler, lmtp=True)
    with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
        with pytest.raises(smtpclient.SMTPDataError) as caught:
            lmtp.sendmail("s@example.com", RECIPIENTS, "hi")
        assert caught.value.enhanced_status == "5.2.2"
        assert lmtp.noop()[0] == 250


def test_lmtp_data_method_reads_all_replies(start_server: StartServer) -> None:
    handler = RecordingHandler(refuse_after_data={"b@example.com"})
    server = start_server(handler, lmtp=True)
    with smtpclient.LMTP(server.host, server.port, local_hostname=LOCAL) as lmtp:
        lmtp.ehlo()
        lmtp.mail("s@example.com")
        for rcpt in RECIPIENTS:
            lmtp.rcpt(rcpt)
        assert lmtp.data("hi") == (550, b"5.2.2 Mailbox full")
        assert len(lmtp.last_data_replies) == 3
        assert lmtp.noop()[0] == 250


def test_lmtp_unix_socket_missing_raises_oserror(tmp_path: Path) -> None:
    lmtp = smtpclient.LMTP(local_hostname=LOCAL)
    with pytest.raises(FileNotFoundError):
        lmtp.connect(str(tmp_path / "absent.sock"))
    assert lmtp.sock is None

"""STARTTLS and SMTP_SSL with an explicit context, and LMTP with one recipient: exact bytes."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from ._harness import Conversation, compare
from ._peer import TLS_MARK

TLS_EHLO = "250-peer.test\n250-8BITMIME\n250 STARTTLS"


def test_starttls_exchange(
    make_peer: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    peer = make_peer(
        {"EHLO": [TLS_EHLO, "250-peer.test\n250 AUTH PLAIN"], "STARTTLS": "220 go"}, tls=server_tls
    )

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        reply = s.starttls(context=client_tls)
        state = (s.ehlo_resp, s.esmtp_features, s.does_esmtp)
        s.ehlo()
        return reply, state, s.has_extn("auth"), s.quit()

    out = compare(peer, conv)
    assert out.value[0] == (220, b"go")
    assert out.value[1] == (None, {}, False)
    assert out.sent[0][:4] == [
        b"ehlo client.test\r\n",
        b"STARTTLS\r\n",
        TLS_MARK,
        b"ehlo client.test\r\n",
    ]


def test_starttls_refused(make_peer: Any, client_tls: ssl.SSLContext) -> None:
    peer = make_peer({"EHLO": TLS_EHLO, "STARTTLS": "454 4.7.0 TLS not available now"})
    out = compare(peer, lambda c: c.smtp().starttls(context=client_tls))
    assert out.error is not None
    assert out.error.type == "SMTPResponseException"
    assert out.error.attrs == {"smtp_code": 454, "smtp_error": b"4.7.0 TLS not available now"}


def test_smtp_ssl_with_context(
    make_peer: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    peer = make_peer(tls=server_tls, implicit_tls=True)

    def conv(c: Conversation) -> Any:
        with c.smtp(cls="SMTP_SSL", context=client_tls) as s:
            return s.ehlo(), s.sendmail("a@example.org", ["b@example.org"], "hi\n")

    out = compare(peer, conv)
    assert out.value[1] == {}
    assert out.clients[0]["default_port"] == 465


LHLO = "250-peer.test\n250-8BITMIME\n250 PIPELINING"


def test_lmtp_single_recipient(make_peer: Any) -> None:
    peer = make_peer({"LHLO": LHLO})

    def conv(c: Conversation) -> Any:
        s = c.smtp(cls="LMTP")
        return s.sendmail("a@example.org", ["b@example.org"], "x\n"), s.quit()

    out = compare(peer, conv)
    assert out.sent[0][0] == b"lhlo client.test\r\n"
    assert out.clients[0]["ehlo_msg"] == "lhlo"


def test_lmtp_refused_lhlo_falls_back_to_helo(make_peer: Any) -> None:
    peer = make_peer({"LHLO": "500 5.5.1 what", "HELO": "250 peer.test"})

    def conv(c: Conversation) -> Any:
        s = c.smtp(cls="LMTP")
        return s.sendmail("a@example.org", ["b@example.org"], "x\n")

    out = compare(peer, conv)
    assert out.sent[0][:2] == [b"lhlo client.test\r\n", b"helo client.test\r\n"]


def test_lmtp_missing_unix_socket(make_peer: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "absent.sock")

    def conv(c: Conversation) -> Any:
        return c.smtp(cls="LMTP", connect=False).connect(path)

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert out.error.type == "FileNotFoundError"

"""The reply limits are attributes a caller can set: on the class, a subclass or one object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import smtpclient

from ._servers import ScriptedServer

Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]
EHLO_REPLY = b"".join(b"250-line %d\r\n" % i for i in range(10)) + b"250 last\r\n"


def test_max_reply_lines_set_on_the_object(scripted: Scripted) -> None:
    server = scripted([(None, b"220 hi\r\n"), (b"EHLO", EHLO_REPLY)])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname="c.test", timeout=5)
    smtp.max_reply_lines = 5
    with pytest.raises(smtpclient.SMTPReplyError, match="more than 5 lines"):
        smtp.ehlo()
    assert smtp.sock is None


def test_max_reply_size_set_in_a_subclass(scripted: Scripted) -> None:
    class Small(smtpclient.SMTP):
        max_reply_size = 64

    server = scripted([(None, b"220 hi\r\n"), (b"EHLO", EHLO_REPLY)])
    smtp = Small("127.0.0.1", server.port, local_hostname="c.test", timeout=5)
    with pytest.raises(smtpclient.SMTPReplyError, match="larger than 64 bytes"):
        smtp.ehlo()
    assert smtp.sock is None


def test_limits_large_enough_accept_the_reply(scripted: Scripted) -> None:
    server = scripted([(None, b"220 hi\r\n"), (b"EHLO", EHLO_REPLY)])
    smtp = smtpclient.SMTP("127.0.0.1", server.port, local_hostname="c.test", timeout=5)
    try:
        smtp.max_reply_lines = 11
        assert smtp.ehlo()[0] == 250
        assert "line" in smtp.esmtp_features
    finally:
        smtp.close()

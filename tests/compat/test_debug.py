"""Debug output: the same lines as smtplib at level 1, and at level 2 apart from the timestamps."""

from __future__ import annotations

import contextlib
import io
import re
from types import ModuleType
from typing import Any

import pytest

from tests._support.wire import wire

from ._harness import Conversation, compare


def conversation(level: int) -> Any:
    def conv(c: Conversation) -> Any:
        s = c.smtp(connect=False)
        s.set_debuglevel(level)
        s.connect(c.host, c.port)
        s.ehlo()
        refused = s.sendmail("a@example.org", ["b@example.org"], "Subject: x\n\n.body\n")
        s.noop()
        return refused, s.quit()

    return conv


@pytest.mark.parametrize("level", [1, 2, True])
def test_debug_output_matches(make_peer: Any, level: int) -> None:
    out = compare(make_peer(), conversation(level), debug=True)
    assert out.debug is not None
    lines = out.debug.splitlines()
    assert lines[0].startswith("connect: to ('127.0.0.1', ")
    assert any(line.startswith(wire("send: 'mail FROM:<a@example.org>")) for line in lines)
    assert any(line.startswith("data: (250, ") for line in lines)


def test_level_two_adds_a_timestamp(make_peer: Any, client_mod: ModuleType) -> None:
    """Checked on the raw output: every level-2 line starts with a time of day."""
    peer = make_peer()
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        s = client_mod.SMTP(local_hostname="client.test", timeout=5)
        try:
            s.set_debuglevel(2)
            s.connect(peer.host, peer.port)
            s.noop()
        finally:
            s.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) >= 4
    for line in lines:
        assert re.match(r"\d\d:\d\d:\d\d(\.\d+)? \S", line), line
    peer.wait_idle()


def test_no_output_at_level_zero(make_peer: Any) -> None:
    out = compare(make_peer(), conversation(0), debug=True)
    assert out.debug == ""


def test_debug_output_of_auth_and_failures(make_peer: Any) -> None:
    peer = make_peer(
        {
            "EHLO": "250-peer.test\n250 AUTH LOGIN",
            "AUTH": "334 UGFzc3dvcmQ6",
            "AUTH_CONT": "235 ok",
            "RCPT": "550 5.1.1 unknown",
        }
    )

    def conv(c: Conversation) -> Any:
        s = c.smtp(connect=False)
        s.set_debuglevel(1)
        s.connect(c.host, c.port)
        s.login("alice", "s3cret")
        s.sendmail("a@example.org", ["b@example.org"], "x\n")

    out = compare(peer, conv, debug=True)
    assert out.error is not None
    assert out.debug is not None
    assert "send: 'rset\\r\\n'" in out.debug

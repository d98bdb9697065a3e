"""Debug output at levels 1 and 2 is smtplib's, line for line (stdlib as the oracle)."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import smtpclient
from tests._support.wire import wire

from ._servers import DATA_END, ScriptedServer

Scripted = Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]
SCRIPT: list[tuple[bytes | None, Any]] = [
    (None, b"220 scripted ESMTP\r\n"),
    (b"EHLO", b"250-scripted\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"),
    (b"MAIL", b"250 2.1.0 ok\r\n"),
    (b"RCPT", b"250 2.1.5 ok\r\n"),
    (b"RCPT", b"550 5.1.1 unknown\r\n"),
    (b"DATA", b"354 go ahead\r\n"),
    (DATA_END, b"250 2.0.0 queued as X1\r\n"),
    (b"QUIT", b"221 bye\r\n"),
]
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d(\.\d+)? ", re.MULTILINE)


def conversation(module: ModuleType, port: int, level: int) -> Any:
    smtp = module.SMTP(local_hostname="client.test", timeout=5)
    smtp.set_debuglevel(level)
    try:
        smtp.connect("127.0.0.1", port)
        refused = smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "Hi\n.\n")
        smtp.quit()
        return refused
    finally:
        smtp.close()


@pytest.mark.parametrize("level", [1, 2])
def test_debug_output_matches_smtplib(
    scripted: Scripted, capsys: pytest.CaptureFixture[str], level: int
) -> None:
    outputs = []
    results = []
    for module in (smtplib, smtpclient):
        server = scripted(SCRIPT)
        results.append(conversation(module, server.port, level))
        err = capsys.readouterr().err.replace(str(server.port), "PORT")
        if level == 2:
            lines = err.splitlines()
            assert all(TIMESTAMP.match(line) for line in lines if line)
            err = TIMESTAMP.sub("", err)
        outputs.append(err)
    assert results[0] == results[1] == {"c@example.com": (550, b"5.1.1 unknown")}
    assert outputs[1] == outputs[0]
    assert wire("send: 'mail FROM:<a@example.com> size=7\\r\\n'") in outputs[1]

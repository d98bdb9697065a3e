"""Checks shared by the hostile-server tests: fail fast, typed, closed, and reusable after."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest

import smtpclient
from smtpfake import FakeSMTPServer

TIMEOUT = 0.3  # the client's timeout in these tests
SLACK = 1.0  # CI headroom on top of the timeout
ALLOWED = (smtpclient.SMTPException, TimeoutError, ssl.SSLError)  # the typed errors
SENDER = "app@example.com"
RECIPIENT = "alice@example.com"
MESSAGE = b"Subject: after the storm\r\n\r\nThe same client object, reconnected.\r\n"


def fails_fast(
    client: smtpclient.SMTP,
    call: Callable[[], Any],
    expected: type[BaseException] | tuple[type[BaseException], ...],
    case: str,
    *,
    bound: float = TIMEOUT + SLACK,
    allowed: tuple[type[BaseException], ...] = ALLOWED,
) -> BaseException:
    """Run ``call``; it must raise ``expected`` within ``bound`` s and leave ``client`` closed."""
    start = time.monotonic()
    error: BaseException | None = None
    try:
        result = call()
    except expected as caught:
        error = caught
    except BaseException as other:
        pytest.fail(f"{case}: expected {expected}, got {other!r}")
    elapsed = time.monotonic() - start
    if error is None:
        pytest.fail(f"{case}: no exception after {elapsed:.2f}s; the call returned {result!r}")
    assert isinstance(error, allowed), f"{case}: {error!r} is not a documented error type"
    assert elapsed <= bound, (
        f"{case}: {type(error).__name__} came after {elapsed:.2f}s, "
        f"more than the {bound:.2f}s bound (timeout {client.timeout}s)"
    )
    assert client.sock is None, f"{case}: client.sock still open after {error!r}"
    assert client.file is None, f"{case}: client.file still open after {error!r}"
    return error


def reusable(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    """The same object connects to a good server and sends; the server got exactly that."""
    code, _ = client.connect(good.host, good.port)
    assert code == 220
    assert client.sendmail(SENDER, [RECIPIENT], MESSAGE) == {}
    assert client.quit()[0] == 221
    assert [m.raw for m in good.outbox] == [MESSAGE]
    assert good.outbox.last.rcpt_tos == (RECIPIENT,)

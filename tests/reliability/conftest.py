"""Fixtures: a good fake server shared by a module, a fresh client object per test, test TLS."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import smtpclient
from smtpfake import FakeSMTPServer
from tests._support.tls import ca, client_tls

from ._checks import TIMEOUT

__all__ = ["ca", "client", "client_tls", "good", "good_server", "no_thread_left"]


@pytest.fixture(scope="module")
def good_server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as server:
        yield server


@pytest.fixture
def good(good_server: FakeSMTPServer) -> FakeSMTPServer:
    """The module's well-behaved fake server, reset for this test."""
    good_server.reset()
    return good_server


@pytest.fixture
def client() -> Iterator[smtpclient.SMTP]:
    """An unconnected client with a short timeout (closed at teardown)."""
    smtp = smtpclient.SMTP(local_hostname="client.test", timeout=TIMEOUT)
    try:
        yield smtp
    finally:
        smtp.close()


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every test joins what it started: no thread outlives it."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"

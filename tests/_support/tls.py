"""Real TLS for tests: a trustme CA, the contexts it gives, and fixtures over them.

A conftest that wants the fixtures imports them (``from tests._support.tls import ca, ...``);
tests that need a certificate for another name call :func:`server_context` themselves.
"""

from __future__ import annotations

import ssl

import pytest
import trustme

__all__ = ["ca", "client_context", "client_tls", "server_context", "server_tls"]

LOCAL_NAMES = ("127.0.0.1", "localhost")


def server_context(authority: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server context with a certificate from ``authority`` for ``names`` (default: loopback)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*(names or LOCAL_NAMES)).configure_cert(context)
    return context


def client_context(authority: trustme.CA) -> ssl.SSLContext:
    """A new verifying client context (certificate and host name) that trusts ``authority``."""
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """One test CA for the session."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The server side: a certificate for 127.0.0.1 and localhost."""
    return server_context(ca)


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA (fresh per test: contexts mutate)."""
    return client_context(ca)

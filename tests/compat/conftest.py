"""Fixtures for the compatibility suite: the scripted peer and the two modules under comparison."""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import trustme

from ._harness import candidate_name
from ._peer import ScriptedPeer
from ._real_server import RealServer


@pytest.fixture(params=["smtplib", candidate_name()])
def client_mod(request: pytest.FixtureRequest) -> ModuleType:
    """Each of the two modules in turn, for checks that hold for both on their own."""
    return importlib.import_module(request.param)


@pytest.fixture
def make_peer() -> Iterator[Callable[..., ScriptedPeer]]:
    """Start scripted peers for one test; all are stopped when it ends."""
    peers: list[ScriptedPeer] = []

    def make(script: dict[str, Any] | None = None, **kwargs: Any) -> ScriptedPeer:
        peer = ScriptedPeer(script, **kwargs)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """One test CA for the suite; its server certificate names 127.0.0.1 and localhost."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA (fresh per test: contexts mutate)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def make_server() -> Iterator[Callable[..., RealServer]]:
    """Start real aiosmtpd servers for one test; all are stopped when it ends."""
    servers: list[RealServer] = []

    def make(**kwargs: Any) -> RealServer:
        server = RealServer(**kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()

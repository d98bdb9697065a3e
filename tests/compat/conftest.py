"""Fixtures for the compatibility suite: the scripted peer and the two modules under comparison."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests._support.tls import ca, client_tls, server_tls

from ._harness import candidate_name
from ._peer import ScriptedPeer
from ._real_server import RealServer

__all__ = ["ca", "client_mod", "client_tls", "make_peer", "make_server", "server_tls"]


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

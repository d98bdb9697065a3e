"""Fixtures: aiosmtpd servers on a session loop thread, shared test TLS, the scripted server."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests._support import LoopThread
from tests._support.tls import ca, client_tls, server_tls

from ._servers import (
    RecordingHandler,
    ScriptedServer,
    Server,
    StartServer,
    _authenticator,
    _LMTPServer,
    _SMTPServer,
)

__all__ = ["ca", "client_tls", "loop_thread", "scripted", "server_tls", "start_server"]


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def start_server(loop_thread: LoopThread) -> Iterator[StartServer]:
    """``start_server(handler=None, lmtp=False, tls=None, implicit_tls=None, path=None, **kw)``."""
    servers: list[Server] = []

    def start(
        handler: RecordingHandler | None = None,
        *,
        lmtp: bool = False,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        path: str | None = None,
        **options: Any,
    ) -> Server:
        handler = handler or RecordingHandler()
        handler.lmtp = lmtp
        protocol = _LMTPServer if lmtp else _SMTPServer
        options.setdefault("auth_require_tls", False)
        options.setdefault("enable_SMTPUTF8", True)

        def factory() -> Any:
            return protocol(
                handler,
                hostname="testserver.example",
                tls_context=starttls,
                authenticator=_authenticator,
                loop=loop_thread.loop,
                **options,
            )

        server = loop_thread.listen(factory, implicit_tls=implicit_tls, path=path)
        port = 0 if path is not None else server.sockets[0].getsockname()[1]
        running = Server(handler, "127.0.0.1", port, path, server)
        servers.append(running)
        return running

    try:
        yield start
    finally:
        for running in servers:
            loop_thread.close(running._server)


@pytest.fixture
def scripted() -> Iterator[Callable[[list[tuple[bytes | None, Any]]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(steps: list[tuple[bytes | None, Any]]) -> ScriptedServer:
        server = ScriptedServer(steps)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.close()

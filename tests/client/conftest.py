"""Fixtures: aiosmtpd servers on a session loop thread, trustme TLS, the scripted server."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from ._servers import (
    LoopThread,
    RecordingHandler,
    ScriptedServer,
    Server,
    StartServer,
    _authenticator,
    _LMTPServer,
    _SMTPServer,
)


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The server side: a certificate for localhost and 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


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

        async def listen() -> Any:
            if path is not None:
                return await loop_thread.loop.create_unix_server(factory, path)
            return await loop_thread.loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)

        server = loop_thread.run(listen())
        port = 0 if path is not None else server.sockets[0].getsockname()[1]
        running = Server(handler, "127.0.0.1", port, path, server)
        servers.append(running)
        return running

    try:
        yield start
    finally:
        for running in servers:

            async def close(server: Any = running._server) -> None:
                server.close()
                await server.wait_closed()

            loop_thread.run(close())


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

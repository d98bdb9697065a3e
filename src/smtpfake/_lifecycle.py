"""The loop side of a fake server: binding, serving, closing, and the shared loop thread.

``_server`` holds the public objects; this module is what they run: the socket bound before
``start()`` returns, served on the one loop thread of the process (``LOOP``), and every
connection dropped at ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import select
import socket
import ssl
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._capture import CapturedMessage, Outbox, _SessionRecord
from ._connection import ConnectionProtocol
from ._errors import NotStored, _ErrorStore
from ._loop import SharedLoop
from ._script import Script
from ._tls import ImplicitTLS

__all__ = ["LOOP", "Config", "ServerCore", "bind", "close", "remove_socket_file", "serve"]

STOP_TIMEOUT = 5.0
_HANDSHAKE_TIMEOUT = 10  # seconds
_SETTLE_ROUNDS = 20  # loop iterations to wait for accepted connections to become sessions


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors the loop reports outside a command: a dropped peer is normal, the rest is a bug."""
    error = context.get("exception")
    if isinstance(error, OSError):  # resets, broken pipes, TLS alerts from clients
        return
    protocol = context.get("protocol")
    if isinstance(protocol, ConnectionProtocol):
        protocol._core.errors.add(error or RuntimeError(str(context.get("message"))))
        return
    loop.default_exception_handler(context)


LOOP = SharedLoop(_exception_handler)


@dataclass(frozen=True)
class Config:
    hostname: str
    greeting: str
    tls: str
    tls_required: bool
    starttls_context: ssl.SSLContext | None
    users: Mapping[str, str]
    auth_mechanisms: tuple[str, ...]
    auth_required: bool
    auth_require_tls: bool
    size_limit: int | None
    data_size_limit: int
    hide: frozenset[str]
    esmtp: bool
    store: Callable[[CapturedMessage], None] | None = None


class _HangUp(asyncio.Protocol):
    """Stands in when a connection's protocol could not be built: close it at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class Listener(socket.socket):
    """The listening socket, counting the connections asyncio accepts from it."""

    accepted = 0
    socket_file: tuple[int, int] | None = None  # a unix socket's file: (device, inode)

    def accept(self) -> tuple[socket.socket, Any]:
        conn, address = super().accept()
        self.accepted += 1
        return conn, address

    def has_waiting(self) -> bool:
        """Whether connections wait in the kernel's queue (readable); False once closed."""
        try:
            return bool(select.select([self], [], [], 0)[0])
        except (OSError, ValueError):
            return False


class ServerCore:
    """State shared between the server object (caller's thread) and its connections (loop)."""

    loop: asyncio.AbstractEventLoop  # set on the loop thread, before any connection
    serving: asyncio.Future[asyncio.base_events.Server]

    def __init__(self, cfg: Config, script: Script, outbox: Outbox, errors: _ErrorStore,
                 add_session: Callable[[_SessionRecord], None], listener: Listener) -> None:
        self.cfg = cfg
        self.script = script
        self.outbox = outbox
        self.errors = errors
        self._add_session = add_session
        self.listener = listener
        self.live: set[ConnectionProtocol] = set()
        self.begun = 0  # accepted connections that became a session (or were refused at once)
        self._ids = itertools.count(1)

    def connected(self, protocol: ConnectionProtocol, record: _SessionRecord) -> None:
        self.begun += 1
        self.live.add(protocol)
        self._add_session(record)

    def settled(self) -> bool:
        """Whether every connection made to the listener so far is in ``live`` (or gone).

        A client's connect() returns once the kernel queued the connection; asyncio accepts it
        and builds its protocol over the next few loop iterations. Until then it is neither
        waiting in the kernel nor live. Read from any thread: plain counters and a poll.
        """
        return self.listener.accepted == self.begun and not self.listener.has_waiting()

    def may_hold_clients(self) -> bool:
        """Whether a client could still send mail here: a session open for it, or one on its
        way in. Cheap enough to ask before every test (no hand-over to the loop thread)."""
        return not self.settled() or any(p.open_for_mail for p in list(self.live))

    async def drop_open_clients(self, why: str) -> None:
        """On the loop: let connections on their way in arrive, then hang up on every session
        still open for mail."""
        for _ in range(_SETTLE_ROUNDS):
            if self.settled():
                break
            await asyncio.sleep(0)
        await drop([p for p in self.live if p.open_for_mail], why)

    def disconnected(self, protocol: ConnectionProtocol) -> None:
        self.live.discard(protocol)

    def let_go(self) -> None:
        """The listener is closed: drop it. It refers back to this core through the protocol
        factory; left in place, that cycle would wait for the garbage collector (and bring its
        next run closer, into the middle of whatever the test does next)."""
        del self.serving

    def captured(self, message: CapturedMessage) -> str:
        """Keep an accepted message, the store first (if any), then the outbox; its queue id.

        NotStored if the store failed: the client must then not be told the message was kept.
        The store's OSError is the expected failure (a full disk, a path gone); any other error
        is a bug in the store and also reaches the test as ServerError.
        """
        store = self.cfg.store
        if store is not None:
            try:
                store(message)
            except OSError as error:
                raise NotStored(error.strerror or type(error).__name__) from error
            except Exception as error:
                self.errors.add(error)
                raise NotStored(type(error).__name__) from error
        self.outbox._append(message)
        return f"{next(self._ids):08X}"


def bind(host: str, port: int, path: str | None) -> Listener:
    """A listening, non-blocking socket: TCP (a literal address needs no lookup) or unix."""
    if path is not None:
        _make_way(path)
        sock = Listener(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = path
    else:
        family, address = numeric(host, port)
        if family is None:  # a name ("localhost") gets the address it resolves to
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
            family, _, _, _, address = infos[0]
        sock = Listener(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        if path is not None:
            sock.socket_file = _file_id(path)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _make_way(path: str) -> None:
    """Remove a stale unix socket file at ``path`` (nobody listens on it); one a server listens
    on is in use: OSError (EADDRINUSE), as for a TCP port. Anything else there is left for
    ``bind()`` to refuse."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)  # a listener with a full queue must not block us
        try:
            probe.connect(path)
        except ConnectionRefusedError:  # a socket file nobody listens on
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        except FileNotFoundError:
            return
        except BlockingIOError:  # someone listens, and is busy
            pass
    raise OSError(errno.EADDRINUSE, f"{os.strerror(errno.EADDRINUSE)}: a server listens on {path}")


def _file_id(path: str) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def remove_socket_file(core: ServerCore, path: str) -> None:
    """Remove the unix socket file at ``path`` if it is still the one this server made (not one
    another server made after it was deleted)."""
    with contextlib.suppress(OSError):
        if _file_id(path) == core.listener.socket_file:
            os.unlink(path)


async def serve(
    core: ServerCore, sock: socket.socket, cls: type[ConnectionProtocol],
    implicit: ssl.SSLContext | None,
) -> asyncio.base_events.Server:
    """Serve ``sock`` on the loop (run with ``start_now``: it does not wait)."""

    def factory() -> asyncio.BaseProtocol:
        try:
            protocol = cls(core)
        except Exception as error:  # asyncio would drop it silently and leak the socket
            core.errors.add(error)
            core.begun += 1  # (refused at once: it will never be live)
            return _HangUp()
        if implicit is None:
            return protocol
        return ImplicitTLS(core.loop, protocol, implicit, _HANDSHAKE_TIMEOUT)

    try:
        if sock.family == socket.AF_UNIX:
            return await core.loop.create_unix_server(factory, sock=sock)
        return await core.loop.create_server(factory, sock=sock)
    except BaseException:
        sock.close()
        raise


def numeric(host: str, port: int) -> tuple[socket.AddressFamily | None, Any]:
    """The family and bind address of a literal IPv4/IPv6 address (no lookup), or (None, None)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):  # (ValueError: an embedded NUL)
            continue
        return family, (host, port)
    return None, None


def close(core: ServerCore) -> Awaitable[None] | None:
    """Runs on the loop: close the listener; what is left to wait for, if anything."""
    if core.serving.done() and not core.live:
        core.serving.result().close()  # (re-raises a failure to listen)
        core.let_go()
        return None
    return _close_connections(core)


async def drop(protocols: list[ConnectionProtocol], why: str) -> None:
    """Hang up on these connections and wait until each is gone and its task has ended."""
    if not protocols:
        return
    gone = [p.abort(why) for p in protocols]
    await asyncio.wait(gone, timeout=0.1)
    for protocol in protocols:  # e.g. a client that left in the middle of a TLS handshake
        protocol.force_lost()
    tasks = [t for p in protocols if (t := p.handler_task) is not None and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=STOP_TIMEOUT)


async def _close_connections(core: ServerCore) -> None:
    """Close the listener, drop every connection, end every task."""
    aserver = await core.serving
    aserver.close()
    protocols = list(core.live)
    await drop(protocols, "the server stopped")
    abort_clients = getattr(aserver, "abort_clients", None)
    if abort_clients is not None:  # Python 3.13+: connections still in a TLS handshake too
        abort_clients()
    if protocols or core.cfg.tls == "implicit":  # 3.12+ waits for connections here
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(aserver.wait_closed(), STOP_TIMEOUT)
    else:
        await aserver.wait_closed()
    core.let_go()

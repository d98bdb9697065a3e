"""A scripted hostile SMTP server: what a broken or malicious peer does that smtpfake cannot.

One listening socket on 127.0.0.1 (port 0) and one thread. Each accepted connection runs the
test's script, a function given a :class:`Peer`: it sends bytes (whole, one byte per write, or
trickled), floods endless lines, stalls, resets the connection (SO_LINGER 0), or switches to
TLS. After the script the thread reads until the client closes its end and sets
``client_closed``, so a test can prove the client really closed its socket.

Every loop here is bounded: a flood stops at ``limit`` bytes, a trickle at its data, a stall at
the client's EOF or the server's ``close()`` (which shuts the live connection down).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["HostileServer", "Peer"]

_SAFETY_TIMEOUT = 10.0  # no single socket operation of the server waits longer than this


class Peer:
    """The server's end of one connection, with the misbehaviours as methods.

    Sending methods return False once the client is gone (its socket closed or reset), which
    is how a flood learns that the client stopped reading.
    """

    def __init__(self, conn: socket.socket, stop: threading.Event, gone: threading.Event) -> None:
        self.conn = conn
        self.stop = stop
        self._gone_event = gone
        self.sent = 0
        self.reset_by_us = False
        self.client_gone_at: float | None = None
        self._buffer = b""

    def _gone(self) -> bool:
        if self.client_gone_at is None:
            self.client_gone_at = time.monotonic()
        if not self.stop.is_set():  # not our own shutdown at close()
            self._gone_event.set()
        return False

    def send(self, data: bytes) -> bool:
        """Send ``data`` in one go."""
        try:
            self.conn.sendall(data)
        except OSError:
            return self._gone()
        self.sent += len(data)
        return True

    def send_bytewise(self, data: bytes) -> bool:
        """Send ``data`` one byte per write (TCP_NODELAY, so each byte is its own segment)."""
        with contextlib.suppress(OSError):
            self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return all(self.send(data[i : i + 1]) for i in range(len(data)))

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (dropping what the client sends meanwhile), ending early when the
        client closes or the server stops; True if the client is still there."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and not self.stop.is_set():
            readable, _, _ = select.select([self.conn], [], [], remaining)
            if not readable:
                break
            try:
                data = self.conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                return self._gone()
        return not self.stop.is_set()

    def stall(self) -> None:
        """Send nothing more until the client goes (or the server closes)."""
        self.pause(_SAFETY_TIMEOUT)

    def trickle(self, data: bytes, interval: float) -> bool:
        """Slow loris: one byte every ``interval`` seconds until done, stopped or refused."""
        with contextlib.suppress(OSError):
            self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            if not self.pause(interval) or not self.send(data[i : i + 1]):
                return False
        return True

    def flood(self, first: bytes, chunk: bytes, limit: int) -> bool:
        """Send ``first``, then ``chunk`` again and again up to ``limit`` bytes in all.

        True if all of it went out (the client kept reading), False once the client is gone.
        """
        if not self.send(first):
            return False
        while self.sent < limit:
            if self.stop.is_set() or not self.send(chunk):
                return False
        return True

    def read_line(self, limit: int = 1 << 20) -> bytes:
        """One line from the client (CRLF included), b"" at EOF; bounded by ``limit``."""
        while b"\n" not in self._buffer and len(self._buffer) < limit:
            try:
                data = self.conn.recv(65536)
            except OSError:
                return b""
            if not data:
                break
            self._buffer += data
        end = self._buffer.find(b"\n")
        if end < 0:
            line, self._buffer = self._buffer, b""
        else:
            line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
        return line

    def read_data(self, limit: int = 1 << 26) -> bytes:
        """The message after 354, up to and including CRLF.CRLF (b"" if the client went)."""
        while b"\r\n.\r\n" not in self._buffer and len(self._buffer) < limit:
            try:
                data = self.conn.recv(1 << 16)
            except OSError:
                return b""
            if not data:
                return b""
            self._buffer += data
        end = self._buffer.find(b"\r\n.\r\n") + 5
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def expect(self, verb: str) -> bytes:
        """Read one command line and check that it starts with ``verb`` (any case)."""
        line = self.read_line()
        if not line.upper().startswith(verb.upper().encode()):
            raise AssertionError(f"hostile server expected {verb}, got {line!r}")
        return line

    def reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()
        self.reset_by_us = True

    def close(self) -> None:
        """Close the connection cleanly (a FIN: the client reads EOF)."""
        self.conn.close()
        self.reset_by_us = True

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Switch this connection to TLS, as the server side."""
        self.conn = context.wrap_socket(self.conn, server_side=True)


Script = Callable[[Peer], None]


class HostileServer:
    """Runs ``script(peer)`` for every connection, one at a time, in a thread.

    ``with HostileServer(script) as server:`` starts it; leaving the block (or ``close()``)
    stops the thread, shuts down any live connection and re-raises an assertion or bug of the
    script (client-caused socket errors are expected and swallowed).
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.stop = threading.Event()
        self.client_closed = threading.Event()  # the client closed or reset its end
        self.finished = threading.Event()  # the first connection's script (and wait) ended
        self.connections = 0
        self.done = 0  # connections whose script ended and whose socket the server closed
        self._done_cond = threading.Condition()
        self.peers: list[Peer] = []  # the first connections' peers (at most 4)
        self._error: BaseException | None = None
        self._live: socket.socket | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, name="hostile-smtp", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(raise_error=kind is None)

    @property
    def peer(self) -> Peer:
        """The first connection's peer."""
        return self.peers[0]

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self.stop.is_set():
                conn.close()
                return
            self.connections += 1
            conn.settimeout(_SAFETY_TIMEOUT)
            peer = Peer(conn, self.stop, self.client_closed)
            if len(self.peers) < 4:  # keep the first few for the test; later ones are freed
                self.peers.append(peer)
            self._live = conn
            try:
                self.script(peer)
                if not peer.reset_by_us:
                    self._wait_for_client_close(peer)
            except OSError:
                pass
            except BaseException as error:  # the script's assertion or bug: raise it in the test
                self._error = error
            finally:
                self._live = None
                peer.conn.close()
                self.finished.set()
                with self._done_cond:
                    self.done += 1
                    self._done_cond.notify_all()

    def wait_done(self, count: int, timeout: float = _SAFETY_TIMEOUT) -> None:
        """Wait until ``count`` connections are over and closed on the server's side."""
        with self._done_cond:
            if not self._done_cond.wait_for(lambda: self.done >= count, timeout):
                raise AssertionError(f"{self.done} of {count} connections ended in {timeout}s")

    def _wait_for_client_close(self, peer: Peer) -> None:
        """Read (and drop) what the client still sends, until it closes or resets."""
        while True:
            try:
                data = peer.conn.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                peer._gone()
                return

    def close(self, raise_error: bool = True) -> None:
        """Stop the thread (bounded), close every socket, re-raise a script error."""
        self.stop.set()
        live = self._live
        if live is not None:
            with contextlib.suppress(OSError):
                live.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            # Wake a blocking accept() with a connection the loop drops at once.
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=1).close()
            self._thread.join(_SAFETY_TIMEOUT)
        self._listener.close()
        if self._thread.is_alive():
            raise AssertionError("hostile server thread did not stop")
        if raise_error and self._error is not None:
            raise self._error

"""A scripted SMTP peer: a blocking server thread that answers from a script and records bytes.

The compatibility suite runs one conversation with ``smtplib`` and again with ``smtpclient``
against this peer, so the peer must be exact and deterministic: every reply comes from the
script (keyed by the command verb, consumed in order), and everything the client sends is
recorded unit by unit (one command line, one DATA payload), per connection.

Script values, per verb (``"EHLO"``, ``"MAIL"``, ...) or phase (``"GREETING"``, ``"EOD"`` for the
end of DATA, ``"AUTH_CONT"`` for a line sent after a 334 challenge):

- ``str``: reply lines joined by ``\\n`` (``"250-a\\n250 b"``), each sent with CRLF;
- ``bytes``: sent exactly as given (bare LF, garbage, huge lines...);
- :class:`Say` with ``close=True``: reply then hang up; :data:`HANGUP`: hang up without a reply;
- :data:`SILENT`: never answer (the client's read times out), keep reading;
- a ``list`` of those: used one per command in order, then the default for that verb.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

__all__ = ["EOF_MARK", "HANGUP", "HUP_MARK", "SILENT", "TLS_MARK", "Say", "ScriptedPeer"]


@dataclass(frozen=True)
class Say:
    """One scripted reply; ``close`` hangs up right after sending it."""

    text: str | bytes
    close: bool = False

    def wire(self) -> bytes:
        if isinstance(self.text, bytes):
            return self.text
        return b"".join(line.encode("utf-8") + b"\r\n" for line in self.text.split("\n"))


class _Hangup:
    def __repr__(self) -> str:
        return "HANGUP"


class _Silent:
    def __repr__(self) -> str:
        return "SILENT"


HANGUP = _Hangup()
SILENT = _Silent()
TLS_MARK = b"[tls handshake]"
EOF_MARK = b"[client closed]"
HUP_MARK = b"[peer hung up]"

Action = str | bytes | Say | _Hangup | _Silent

DEFAULTS: dict[str, Action] = {
    "GREETING": "220 peer.test ESMTP scripted peer",
    "EHLO": "250-peer.test at your service\n250-8BITMIME\n250-PIPELINING\n250 HELP",
    "HELO": "250 peer.test",
    "LHLO": "250-peer.test\n250-8BITMIME\n250 PIPELINING",
    "MAIL": "250 2.1.0 sender ok",
    "RCPT": "250 2.1.5 recipient ok",
    "DATA": "354 end data with <CR><LF>.<CR><LF>",
    "EOD": "250 2.0.0 queued as 4711",
    "RSET": "250 2.0.0 reset",
    "NOOP": "250 2.0.0 ok",
    "VRFY": "252 2.5.2 cannot verify, will attempt delivery",
    "EXPN": "502 5.5.1 EXPN not implemented",
    "HELP": "214 2.0.0 see RFC 5321",
    "AUTH": "504 5.5.4 mechanism not supported",
    "AUTH_CONT": "535 5.7.8 authentication failed",
    "STARTTLS": "454 4.7.0 TLS not available",
    "QUIT": Say("221 2.0.0 bye", close=True),
    "*": "500 5.5.2 command not recognized",
}


class ScriptedPeer:
    """Serve connections one after another on 127.0.0.1 (ephemeral port) from a script.

    ``received`` holds, per accepted connection, the list of units the client sent, with
    :data:`TLS_MARK`, :data:`EOF_MARK` and :data:`HUP_MARK` where those events happened.
    Call :meth:`reset` to replay the same script for the next client, on the same port.
    """

    def __init__(
        self,
        script: Mapping[str, Action | Sequence[Action]] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        io_timeout: float = 5.0,
    ) -> None:
        self._script = dict(script or {})
        self._tls = tls
        self._implicit_tls = implicit_tls
        self._io_timeout = io_timeout
        self._lock = threading.Lock()
        self._queues: dict[str, list[Action]] = {}
        self.received: list[list[bytes]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._idle_requests: list[threading.Event] = []
        self._conn: socket.socket | None = None
        self._errors: list[BaseException] = []
        self.reset()
        self._thread = threading.Thread(target=self._serve, name="scripted-peer", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def reset(self) -> None:
        """Restore the script's reply queues and forget what was received."""
        with self._lock:
            self._queues = {
                verb: list(value) if isinstance(value, list) else [cast(Action, value)]
                for verb, value in self._script.items()
            }
            self.received = []

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until every connection made so far has been served to its end."""
        event = threading.Event()
        with self._lock:
            self._idle_requests.append(event)
        self._wake_w.send(b"i")
        if not event.wait(timeout):
            raise TimeoutError("scripted peer still busy with a connection")
        if self._errors:
            raise self._errors[0]

    def close(self) -> None:
        with self._lock:
            self._stop = True
            conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._wake_w.send(b"s")
        self._thread.join(10)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> ScriptedPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server thread -------------------------------------------------------------

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in sel.select()}
                with self._lock:
                    if self._stop:
                        return
                if self._listener in ready:
                    conn, _ = self._listener.accept()
                    self._handle(conn)
                    continue
                # Only when no connection waits in the backlog: answer idle requests.
                self._wake_r.recv(64)
                with self._lock:
                    requests, self._idle_requests = self._idle_requests, []
                for event in requests:
                    event.set()

    def _next(self, key: str) -> Action:
        with self._lock:
            queue = self._queues.get(key)
            if queue:
                return queue.pop(0)
        return DEFAULTS.get(key, DEFAULTS["*"])

    def _handle(self, raw: socket.socket) -> None:
        units: list[bytes] = []
        with self._lock:
            self.received.append(units)
            self._conn = raw
        conn: socket.socket = raw
        try:
            conn.settimeout(self._io_timeout)
            if self._implicit_tls:
                assert self._tls is not None
                conn = self._tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conn = conn
            self._converse(conn, units)
        except (OSError, TimeoutError) as exc:
            units.append(b"[peer error: " + type(exc).__name__.encode() + b"]")
        except BaseException as exc:  # a bug in the peer: surface it in the test
            self._errors.append(exc)
        finally:
            with self._lock:
                current, self._conn = self._conn, None
            # After a TLS wrap the live socket is the wrapper; the original is detached.
            (current or conn).close()

    def _converse(self, conn: socket.socket, units: list[bytes]) -> None:
        buf = bytearray()
        greeting = self._next("GREETING")
        if not self._act(conn, greeting, units):
            return
        challenge = False
        while True:
            line = self._read_line(conn, buf)
            if line is None:
                units.append(EOF_MARK)
                return
            units.append(line)
            if challenge:
                verb = "AUTH_CONT"
            else:
                verb = line.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
            action = self._next(verb)
            if not self._act(conn, action, units):
                return
            code = _code(action)
            challenge = code == b"334"
            if verb == "DATA" and code == b"354":
                payload = self._read_data(conn, buf)
                if payload is None:
                    units.append(EOF_MARK)
                    return
                units.append(payload)
                if not self._act(conn, self._next("EOD"), units):
                    return
            elif verb == "STARTTLS" and code == b"220" and self._tls is not None:
                if buf:
                    units.append(b"[plaintext after STARTTLS: " + bytes(buf) + b"]")
                    buf.clear()
                conn = self._tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conn = conn
                units.append(TLS_MARK)

    def _act(self, conn: socket.socket, action: Action, units: list[bytes]) -> bool:
        """Perform one scripted action; False when the connection is over."""
        if isinstance(action, _Hangup):
            units.append(HUP_MARK)
            return False
        if isinstance(action, _Silent):
            return True
        say = action if isinstance(action, Say) else Say(action)
        conn.sendall(say.wire())
        if say.close:
            units.append(HUP_MARK)
            return False
        return True

    def _read_line(self, conn: socket.socket, buf: bytearray) -> bytes | None:
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                line = bytes(buf[: end + 1])
                del buf[: end + 1]
                return line
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk

    def _read_data(self, conn: socket.socket, buf: bytearray) -> bytes | None:
        while True:
            if buf.startswith(b".\r\n"):
                end = 3
            else:
                found = buf.find(b"\r\n.\r\n")
                end = found + 5 if found >= 0 else -1
            if end >= 0:
                payload = bytes(buf[:end])
                del buf[:end]
                return payload
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk


def _code(action: Action) -> bytes:
    if isinstance(action, (_Hangup, _Silent)):
        return b""
    text = action.text if isinstance(action, Say) else action
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    # The first reply's code decides the next phase (later bytes may be injected on purpose).
    return raw[:3]

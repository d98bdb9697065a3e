"""Reference points for ``fixture_overhead.py``: what the ``smtp_server`` fixture is set against.

Both run on a loop thread of their own with ``create_server`` on port 0, capture each message
before they answer the end of data, and hand captured messages out the way ``FakeSMTPServer``
does (``wait_for(n, timeout)`` on a condition; ``.subject`` parsed with ``email.policy.default``),
so a test body costs the same with either as with ours, and only the server side differs:

- ``PlainAiosmtpd``: aiosmtpd's own ``SMTP`` protocol with a one-line DATA hook, nothing else:
  no rules, transcripts, misbehaviour notes or fast paths. What aiosmtpd alone costs.
- ``CannedResponder``: not an SMTP server at all. It answers every line with a fixed reply and
  finds the end of data with one ``bytes.endswith``: no parsing, no state, no checks. What a
  conversation costs with the least possible work on the server side (the floor of any server
  in a thread of the test process).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session


class Received:
    """A captured message, with ``subject`` decoded as ``CapturedMessage.subject`` does."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    @property
    def subject(self) -> str | None:
        value = email.message_from_bytes(self.raw, policy=email.policy.default)["Subject"]
        return None if value is None else str(value)


class _ThreadedServer:
    """An asyncio server on 127.0.0.1, port 0, served by a loop thread of its own."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self.loop = asyncio.new_event_loop()
        server = self.loop.run_until_complete(
            self.loop.create_server(self.protocol_factory(), "127.0.0.1", 0)
        )
        self._server = server
        self.host, self.port = server.sockets[0].getsockname()[:2]
        self._thread = threading.Thread(target=self.loop.run_forever, name="reference-server")
        self._thread.start()

    def protocol_factory(self) -> Callable[[], asyncio.BaseProtocol]:
        raise NotImplementedError

    def captured(self, raw: bytes) -> None:
        with self._cond:
            self._messages.append(Received(raw))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} message(s), not {count}")
            return list(self._messages)

    def reset(self) -> None:
        with self._cond:
            self._messages.clear()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _DataHook:
    def __init__(self, captured: Callable[[bytes], None]) -> None:
        self._captured = captured

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self._captured(envelope.original_content)
        return "250 OK"


class PlainAiosmtpd(_ThreadedServer):
    """aiosmtpd's ``SMTP`` protocol with a DATA hook that captures the message."""

    def protocol_factory(self) -> Callable[[], asyncio.BaseProtocol]:
        from aiosmtpd.smtp import SMTP  # imported here: the canned responder does without it

        hook = _DataHook(self.captured)
        return lambda: SMTP(hook, hostname="reference.test", loop=self.loop)


class _Canned(asyncio.Protocol):
    """Fixed replies by the first four bytes of a line; DATA until a chunk ends in CRLF.CRLF."""

    def __init__(self, captured: Callable[[bytes], None]) -> None:
        self._captured = captured
        self._transport: Any = None
        self._data: bytearray | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._transport.write(b"220 reference.test ESMTP\r\n")

    def data_received(self, chunk: bytes) -> None:
        if self._data is not None:
            self._data += chunk
            if self._data.endswith(b"\r\n.\r\n"):
                self._captured(bytes(self._data[:-5]) + b"\r\n")
                self._data = None
                self._transport.write(b"250 OK\r\n")
            return
        verb = chunk[:4].upper()
        if verb == b"EHLO":
            self._transport.write(b"250-reference.test\r\n250 PIPELINING\r\n")
        elif verb == b"DATA":
            self._data = bytearray()
            self._transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self._transport.write(b"221 Bye\r\n")
            self._transport.close()
        else:
            self._transport.write(b"250 OK\r\n")


class CannedResponder(_ThreadedServer):
    """Canned replies, no SMTP logic: the least a server thread can do for a conversation."""

    def protocol_factory(self) -> Callable[[], asyncio.BaseProtocol]:
        return lambda: _Canned(self.captured)

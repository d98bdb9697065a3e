"""A third driver, written against the public core alone: ``smtpclient.protocol``.

The flows are driver-neutral: this small asyncio driver imports nothing underscored, and runs
the same sendmail (pipelined, since smtpfake advertises PIPELINING) and send_many as ``SMTP``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import smtpclient
from smtpclient import protocol
from smtpfake import FakeSMTPServer
from tests._support.wire import wire


class AsyncDriver:
    """Performs a flow's events over asyncio streams; records each write it makes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = protocol.ReplyParser()
        self.session = protocol.Session(local_hostname="async.test")
        self.pending: list[bytes] = []
        self.writes: list[bytes] = []

    async def _flush(self) -> None:
        if self.pending:
            data, self.pending = b"".join(self.pending), []
            self.writes.append(data)
            self.writer.write(data)
            await self.writer.drain()

    async def _read(self) -> protocol.Reply:
        await self._flush()
        while (reply := self.parser.next_reply()) is None:
            data = await self.reader.read(65536)
            if not data:
                raise smtpclient.SMTPServerDisconnected("closed")
            self.parser.receive(data)
        return reply

    async def _perform(self, event: protocol.Event) -> Any:
        encoding = self.session.command_encoding
        if isinstance(event, protocol.Send):
            self.pending += [cmd.line.encode(encoding) for cmd in event.commands]
        elif isinstance(event, protocol.Chunk):
            if event.command is not None:
                self.pending.append(event.command.line.encode(encoding))
            self.pending += [bytes(piece) for piece in event.data]
        elif isinstance(event, protocol.Read):
            return await self._read()
        elif isinstance(event, protocol.ReadUpTo):
            replies = [await self._read()]
            while len(replies) < event.limit and (reply := self.parser.next_reply()):
                replies.append(reply)
            return replies
        elif isinstance(event, protocol.Close):
            self.writer.close()
        return None

    async def drive(self, flow: protocol.Flow[Any]) -> Any:
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                event = flow.throw(error) if error else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = await self._perform(event)
            except Exception as exc:  # the flow recovers or re-raises
                error = exc


@pytest.fixture
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as running:
        yield running


def run(server: FakeSMTPServer, conversation: Any) -> Any:
    async def main() -> Any:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        driver = AsyncDriver(reader, writer)
        try:
            return await conversation(driver)
        finally:
            writer.close()
            await writer.wait_closed()

    return asyncio.run(main())


def test_sendmail_pipelined_by_a_hand_written_driver(server: FakeSMTPServer) -> None:
    server.refuse_recipient("no@example.com")

    async def conversation(driver: AsyncDriver) -> Any:
        session = driver.session
        greeting = await driver.drive(protocol.greeting(session))
        refused = await driver.drive(
            protocol.sendmail(session, "a@example.com", ["b@example.com", "no@example.com"], "hi")
        )
        await driver.drive(protocol.quit(session))
        return greeting, refused, session.last_data_reply, driver.writes

    greeting, refused, data_reply, writes = run(server, conversation)
    assert greeting[0] == 220
    assert refused == {"no@example.com": (550, b"5.1.1 No such user")}
    assert data_reply.code == 250
    assert writes[1] == wire(  # after EHLO: MAIL, both RCPT and DATA in one write
        b"mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\n"
        b"rcpt TO:<no@example.com>\r\ndata\r\n"
    )
    [message] = server.wait_for(1)
    assert message.rcpt_tos == ("b@example.com",)
    assert message.raw == b"hi\r\n"


def test_send_many_and_errors_through_a_hand_written_driver(server: FakeSMTPServer) -> None:
    server.on("MAIL", sender="bad@example.com").reply(550, "5.1.0 sender refused")

    async def conversation(driver: AsyncDriver) -> Any:
        session = driver.session
        await driver.drive(protocol.greeting(session))
        items = [
            ("a@example.com", ["b@example.com"], b"one\r\n"),
            ("bad@example.com", ["b@example.com"], b"two\r\n"),
            ("a@example.com", "c@example.com", b"three\r\n"),
        ]
        return await driver.drive(protocol.send_many(session, items))

    results = run(server, conversation)
    assert results[0] == {}
    assert isinstance(results[1], smtpclient.SMTPSenderRefused)
    assert results[1].smtp_code == 550
    assert results[2] == {}
    assert [m.raw for m in server.wait_for(2)] == [b"one\r\n", b"three\r\n"]


def test_the_public_core_needs_no_private_name() -> None:
    # Every name this driver used is public, stable, and listed.
    assert set(protocol.__all__) >= {
        "Chunk", "Close", "Event", "Flow", "Read", "Reply", "ReplyParser", "Send", "Session",
        "greeting", "quit", "send_many", "sendmail",
    }
    assert all(hasattr(protocol, name) for name in protocol.__all__)

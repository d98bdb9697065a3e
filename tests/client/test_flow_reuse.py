"""The flows are driver-agnostic: the same sendmail generator, run by a small asyncio driver."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from smtpclient import Reply, ReplyParser
from smtpclient import _flows as flows

from ._servers import RecordingHandler, StartServer


class AsyncSession:
    """The session attributes the flows use, with asyncio streams for I/O."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = ReplyParser()
        self.pending: list[Reply] = []
        self.debuglevel = 0
        self.local_hostname = "async.test"
        self.ehlo_msg = "ehlo"
        self.helo_resp = self.ehlo_resp = None
        self.does_esmtp = False
        self.esmtp_features: dict[str, str] = {}
        self.command_encoding = "ascii"
        self._auth_challenge_count = 0
        self._accepted: list[str] = []
        self._lmtp = False
        self.last_data_reply = None
        self.last_data_replies: list[Any] = []

    async def reply(self) -> Reply:
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    async def drive(self, flow: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        try:
            while True:
                event = flow.send(value)
                if isinstance(event, str):
                    self.writer.write(event.encode(self.command_encoding))
                elif isinstance(event, (bytes, list)):
                    self.writer.write(b"".join(event) if isinstance(event, list) else event)
                value = await self.reply() if event is not flows.CLOSE else None
        except StopIteration as stop:
            return stop.value


def test_sendmail_flow_under_asyncio(start_server: StartServer) -> None:
    server = start_server(RecordingHandler(refuse={"no@example.com"}))

    async def main() -> Any:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        session = AsyncSession(reader, writer)
        try:
            greeting = await session.drive(flows.greeting(session))
            refused = await session.drive(
                flows.sendmail(session, "a@example.com", ["b@example.com", "no@example.com"], "hi")
            )
            await session.drive(flows.quit(session))
            return greeting, refused, session.last_data_reply
        finally:
            writer.close()
            await writer.wait_closed()

    greeting, refused, data_reply = asyncio.run(main())
    assert greeting[0] == 220
    assert refused == {"no@example.com": (550, b"5.1.1 No such user here")}
    assert data_reply.enhanced_status == "2.0.0"
    assert server.handler.messages[0].content == b"hi\r\n"

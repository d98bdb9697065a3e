"""One asyncio loop on a thread, hosting aiosmtpd listeners for blocking tests.

aiosmtpd's ``Controller`` is slow to start and cannot bind port 0, so tests run their own loop
and listen with ``create_server(port=0)`` (or on a unix socket). The loop thread is not a
daemon: :meth:`LoopThread.stop` cancels what runs on it and joins it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")
TIMEOUT = 5.0


class LoopThread:
    """An event loop running in its own thread until :meth:`stop`."""

    def __init__(self, name: str = "aiosmtpd-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result (within a few seconds)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def listen(
        self,
        factory: Callable[[], asyncio.BaseProtocol],
        *,
        implicit_tls: ssl.SSLContext | None = None,
        path: str | None = None,
    ) -> asyncio.Server:
        """A listener for ``factory`` on the unix socket ``path``, else on 127.0.0.1, port 0."""

        async def start() -> asyncio.Server:
            if path is not None:
                return await self.loop.create_unix_server(factory, path)
            return await self.loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)

        return self.run(start())

    def close(
        self, server: asyncio.Server, transports: Iterable[asyncio.BaseTransport] = ()
    ) -> None:
        """Stop ``server`` listening, close its open ``transports``, wait until it is closed."""

        async def shutdown() -> None:
            server.close()
            for transport in transports:
                transport.close()
            await server.wait_closed()

        self.run(shutdown())

    def stop(self) -> None:
        """Cancel every task on the loop, stop it, join the thread and close the loop."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            self.loop.close()

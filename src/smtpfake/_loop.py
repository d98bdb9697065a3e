"""The one event-loop thread all fake servers of a process share, reference counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["SharedLoop"]


class SharedLoop:
    """Starts a loop thread for the first user and stops and joins it when the last one leaves.

    The thread is not a daemon, so a server is never killed mid-reply; to keep a forgotten
    server from blocking interpreter exit, the loop is also stopped from threading's exit hook.
    """

    def __init__(self, exception_handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]],
                                                   None] | None = None) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._exception_handler = exception_handler
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(self._shutdown)

    def acquire(self) -> asyncio.AbstractEventLoop:
        """Count one more user and return the running (or starting) loop."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                if self._exception_handler is not None:
                    loop.set_exception_handler(self._exception_handler)
                thread = threading.Thread(target=_run, args=(loop,), name="smtpfake-loop")
                thread.start()
                self._loop, self._thread = loop, thread
            self._users += 1
            return self._loop

    def release(self, last_work: Coroutine[Any, Any, None] | None = None,
                timeout: float = 10.0) -> None:
        """Count one user less, after running ``last_work`` on the loop (and waiting for it).

        The last user stops the loop and joins its thread; its ``last_work`` runs just before
        the loop stops, so stopping costs one hand-over between threads, not two.
        """
        with self._lock:
            self._users -= 1
            if self._users > 0:
                loop = self._loop
                assert loop is not None
                if last_work is not None:
                    asyncio.run_coroutine_threadsafe(last_work, loop).result(timeout)
                return
            self._stop_locked(last_work)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _stop_locked(self, last_work: Coroutine[Any, Any, None] | None = None) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._users = 0
        if loop is None or thread is None:
            if last_work is not None:
                last_work.close()
            return
        failures: list[BaseException] = []

        async def finish() -> None:
            try:
                if last_work is not None:
                    await last_work
            except BaseException as error:
                failures.append(error)
            finally:
                loop.stop()

        loop.call_soon_threadsafe(loop.create_task, finish())
        thread.join()
        loop.close()
        if failures:
            raise failures[0]

    def _shutdown(self) -> None:
        with self._lock:
            self._stop_locked()


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:  # none normally: stop() ends every connection's task first
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        asyncio.set_event_loop(None)

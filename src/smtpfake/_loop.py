"""The one event-loop thread all fake servers of a process share, reference counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

LastWork = Callable[[], "Awaitable[None] | None"]
T = TypeVar("T")

__all__ = ["SharedLoop", "start_now"]


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

    def acquire(
        self, first: Callable[[asyncio.AbstractEventLoop], None]
    ) -> asyncio.AbstractEventLoop:
        """Count one more user, have ``first(loop)`` run, and return the loop.

        ``first`` may touch the loop freely: it runs on the loop thread, or, for a new loop,
        right here before the thread starts (nothing else can touch the loop yet), so the
        thread begins with its work queued: no wake-up of a loop already waiting in
        ``select``, one loop iteration less.
        """
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                if self._exception_handler is not None:
                    loop.set_exception_handler(self._exception_handler)
                thread = threading.Thread(target=_run, args=(loop,), name="smtpfake-loop")
                try:
                    first(loop)
                    thread.start()
                except BaseException:
                    _close_unstarted(loop)
                    raise
                self._loop, self._thread = loop, thread
            else:
                self._loop.call_soon_threadsafe(first, self._loop)
            self._users += 1
            return self._loop

    def release(self, last_work: LastWork | None = None, timeout: float = 10.0) -> None:
        """Count one user less, after running ``last_work()`` on the loop (and waiting for it).

        ``last_work`` is a plain function, so the common case (nothing left to wait for) needs
        no task; it returns an awaitable when there is something to wait for. The last user
        stops the loop and joins its thread; its ``last_work`` runs just before the loop stops,
        so stopping costs one hand-over between threads, not two.
        """
        with self._lock:
            self._users -= 1
            if self._users > 0:
                loop = self._loop
                assert loop is not None
                if last_work is not None:
                    asyncio.run_coroutine_threadsafe(_awaited(last_work), loop).result(timeout)
                return
            self._stop_locked(last_work)

    def call(self, what: str, work: LastWork, timeout: float = 10.0) -> None:
        """Run ``work()`` on the loop thread and wait for it (and what it returns, if awaitable).

        Not from the loop thread itself, which would wait on its own work: a RuntimeError
        naming ``what`` (see ``refuse_own_thread``).
        """
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            raise RuntimeError("the loop is not running")
        self.refuse_own_thread(what)
        asyncio.run_coroutine_threadsafe(_awaited(work), loop).result(timeout)

    def refuse_own_thread(self, what: str) -> None:
        """RuntimeError when called on the loop thread (from a rule's callable): ``what`` would
        wait for that thread, that is for itself, and every server of the process with it."""
        thread = self._thread
        if thread is not None and thread.ident == threading.get_ident():
            raise RuntimeError(f"{what} cannot run on the fake servers' own thread (in a rule's "
                               "callable?); do it from the test")

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _stop_locked(self, last_work: LastWork | None = None) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._users = 0
        if loop is None or thread is None:
            return
        failures: list[BaseException] = []

        async def wait(pending: Awaitable[None]) -> None:
            try:
                await pending
            except BaseException as error:
                failures.append(error)
            finally:
                loop.stop()

        def finish() -> None:
            try:
                pending = last_work() if last_work is not None else None
            except BaseException as error:
                failures.append(error)
                pending = None
            if pending is None:
                loop.stop()
            else:
                loop.create_task(wait(pending))

        loop.call_soon_threadsafe(finish)
        thread.join()
        loop.close()
        if failures:
            raise failures[0]

    def _shutdown(self) -> None:
        with self._lock:
            self._stop_locked()


def start_now(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]
) -> asyncio.Future[T]:
    """Run ``coro`` at once, on the loop's thread, for as long as it does not wait.

    ``create_server`` with a bound socket never waits; its one suspension is a bare yield
    (``sleep(0)``: "let the loop go round once"), which as a task would cost two more loop
    iterations before the server exists, and a slower ``stop()`` right after ``start()``. Bare
    yields are skipped here; if ``coro`` does wait on a future, a task carries on from there.
    """
    result: asyncio.Future[T]
    try:
        yielded = coro.send(None)
        while yielded is None:
            yielded = coro.send(None)
    except StopIteration as done:
        result = loop.create_future()
        result.set_result(done.value)
        return result
    except Exception as error:
        result = loop.create_future()
        result.set_exception(error)
        return result
    return loop.create_task(_CarryOn(coro, yielded))


class _CarryOn(Coroutine[Any, Any, T]):
    """``coro`` suspended on ``waiting``, as a coroutine a task can run from that point.

    Its first step gives the task ``waiting``; from then on, and for a cancellation even before
    that, everything is passed to ``coro`` itself.
    """

    def __init__(self, coro: Coroutine[Any, Any, T], waiting: Any) -> None:
        self._coro = coro
        self._waiting: Any = waiting
        self._started = False

    def send(self, value: Any) -> Any:
        if not self._started:
            self._started = True
            return self._waiting
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started = True
        return self._coro.throw(typ if val is None else val)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("run by a task, not awaited")


async def _awaited(work: LastWork) -> None:
    pending = work()
    if pending is not None:
        await pending


def _close_unstarted(loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop whose thread never started, with whatever ``first`` queued on it."""
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def _run(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:  # none normally: stop() ends every connection's task first
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))

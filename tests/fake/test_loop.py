"""The shared loop thread: started by the first user, stopped and joined after the last."""

from __future__ import annotations

import asyncio
import threading

import pytest

from smtpfake._loop import SharedLoop, start_now


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "smtpfake-loop"]


def test_first_work_runs_before_later_work_and_the_last_release_joins() -> None:
    shared = SharedLoop()
    order: list[str] = []
    loop = shared.acquire(lambda loop: order.append("first"))
    thread = shared._thread
    assert thread is not None
    assert thread.is_alive()
    again = shared.acquire(lambda _: order.append(f"second on {threading.current_thread().name}"))
    assert again is loop
    shared.release(lambda: None)
    assert shared.running  # one user left
    shared.release(lambda: None)
    assert order == ["first", "second on smtpfake-loop"]
    assert not shared.running
    assert loop.is_closed()
    assert not thread.is_alive()


def test_last_work_may_return_something_to_wait_for() -> None:
    shared = SharedLoop()
    shared.acquire(lambda loop: None)
    seen: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0.01)
        seen.append(threading.current_thread().name)

    shared.release(slow)
    assert seen == ["smtpfake-loop"]
    assert not shared.running


@pytest.mark.parametrize("waits", [False, True])
def test_an_error_in_last_work_is_raised_after_the_thread_is_joined(waits: bool) -> None:
    shared = SharedLoop()
    shared.acquire(lambda loop: None)
    thread = shared._thread
    assert thread is not None

    async def fail_later() -> None:
        await asyncio.sleep(0)
        raise OSError("listener broke")

    def fail_now() -> None:
        raise OSError("listener broke")

    with pytest.raises(OSError, match="listener broke"):
        shared.release(fail_later if waits else fail_now)
    assert not shared.running
    assert not thread.is_alive()


def test_a_failing_first_work_leaves_no_loop_or_thread() -> None:
    shared = SharedLoop()
    before = len(_loop_threads())  # (another SharedLoop, the servers', may be running)

    def first(loop: asyncio.AbstractEventLoop) -> None:
        loop.create_task(asyncio.sleep(10))
        raise RuntimeError("could not begin")

    with pytest.raises(RuntimeError, match="could not begin"):
        shared.acquire(first)
    assert not shared.running
    assert len(_loop_threads()) == before


def test_start_now_runs_a_coroutine_that_never_waits_at_once() -> None:
    loop = asyncio.new_event_loop()
    try:
        steps: list[str] = []

        async def quick() -> str:
            steps.append("began")
            await asyncio.sleep(0)  # a bare yield: skipped, not a loop iteration
            steps.append("went on")
            return "done"

        result = start_now(loop, quick())
        assert steps == ["began", "went on"]
        assert result.done()
        assert result.result() == "done"

        async def broken() -> None:
            raise OSError("cannot listen")

        failed = start_now(loop, broken())
        with pytest.raises(OSError, match="cannot listen"):
            failed.result()
    finally:
        loop.close()


def test_start_now_hands_a_coroutine_that_waits_to_a_task() -> None:
    loop = asyncio.new_event_loop()
    try:
        gate = loop.create_future()

        async def waits() -> int:
            value: int = await gate
            await asyncio.sleep(0)
            return value + 1

        result = start_now(loop, waits())
        assert not result.done()
        loop.call_soon(gate.set_result, 41)
        assert loop.run_until_complete(result) == 42

        never = loop.create_future()
        cleaned_up: list[bool] = []

        async def cancelled() -> None:
            try:
                await never
            finally:
                cleaned_up.append(True)

        task = start_now(loop, cancelled())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
        assert cleaned_up == [True]
    finally:
        loop.close()

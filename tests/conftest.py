"""Suite-wide settings: one fixed hypothesis profile, so CI runs are repeatable."""

from __future__ import annotations

import glob
import os
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _leftover_threads(grace: float) -> list[threading.Thread]:
    """Threads still alive after giving each up to ``grace`` seconds in all to finish."""
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]


def _leftover_children() -> list[str]:
    """Child processes of this test process that are still running (Linux: /proc)."""
    me = str(os.getpid())
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.append(stat.split("/")[2])
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the tests left a thread or a child process behind."""
    threads = _leftover_threads(grace=5.0)
    children = _leftover_children()
    if threads or children:
        names = ", ".join(t.name for t in threads) or "none"
        sys.stderr.write(
            f"\nleft behind by the tests: threads: {names}; child processes: "
            f"{', '.join(children) or 'none'}\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

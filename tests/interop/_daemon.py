"""A real mail daemon as a child of the test run: started in its own session, waited for
until it answers, stopped so that none of its processes, ports or sockets is left.

The daemon's pid is its session id (``start_new_session``); Postfix and Dovecot keep every
process they fork in that session, so ``/proc`` tells exactly what is still running of it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: Bounds for waiting on a daemon: generous, only there to fail fast instead of hanging.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.01


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now (bound, then released)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def session_members(session_id: int) -> list[int]:
    """Pids of the live (not zombie) processes in session ``session_id`` (Linux ``/proc``)."""
    members = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(stat.split("/")[2]))
    return members


def wait_session_gone(session_id: int, timeout: float) -> list[int]:
    """Wait (bounded) until no process of the session is left; those still there."""
    deadline = time.monotonic() + timeout
    while (members := session_members(session_id)) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
    return members


def tcp_listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def unix_listening(path: Path) -> bool:
    """Whether something accepts connections on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ECONNREFUSED):
                return False
            raise
    return True


def greets(port: int) -> bool:
    """Whether 127.0.0.1:``port`` answers with an SMTP/LMTP 220 greeting (then hang up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return sock.recv(4).startswith(b"220")
    except OSError:  # not listening yet, or too slow to greet: ask again (start() is bounded)
        return False


class DaemonError(RuntimeError):
    """A daemon failed to start or to stop cleanly; the message ends with its log."""


class Daemon:
    """One daemon process (foreground mode) with the log file it and its config write to."""

    def __init__(self, name: str, argv: Sequence[str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the daemon's log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> DaemonError:
        return DaemonError(f"{self.name}: {message}\n--- {self.log} ---\n{self.log_tail()}")

    def start(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        """Start the daemon and return once ``ready()`` holds (bounded; fails if it exits)."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(self.process, ready, timeout)
        except BaseException:
            with contextlib.suppress(DaemonError):
                self.stop()
            raise

    def _wait_ready(
        self, process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise self.fail(f"exited with status {process.returncode} while starting")
            if time.monotonic() > deadline:
                raise self.fail(f"not ready after {timeout} s")
            time.sleep(POLL_INTERVAL)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the daemon (SIGTERM, as its own stop command does) and check that every
        process of its session is gone; what is still there after ``timeout`` is killed and
        reported."""
        process, self.process = self.process, None
        if process is None:
            return
        problems = []
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            problems.append(f"did not exit within {timeout} s of SIGTERM; killed")
        members = wait_session_gone(process.pid, timeout)
        if members:
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            problems.append(f"left processes {members} behind; killed")
            wait_session_gone(process.pid, timeout)
        if problems:
            raise self.fail("; ".join(problems))


def assert_released(root: Path, ports: Sequence[int]) -> None:
    """Check that nothing listens any more on ``ports`` or on a unix socket under ``root``,
    then remove those socket files."""
    sockets = [path for path in root.rglob("*") if path.is_socket()]
    busy = [f"127.0.0.1:{port}" for port in ports if tcp_listening(port)]
    busy += [str(path) for path in sockets if unix_listening(path)]
    for path in sockets:
        path.unlink()
    if busy:
        raise DaemonError(f"still listening after the daemons stopped: {', '.join(busy)}")

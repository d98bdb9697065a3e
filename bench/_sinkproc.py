"""Run bench/sink.py in its own process (so it does not share the client's GIL) and talk to it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

SINK = Path(__file__).with_name("sink.py")


class SinkProcess:
    """The sink as a child process; ``with SinkProcess() as sink: sink.port``."""

    def __init__(self, certfile: str | None = None) -> None:
        args = [sys.executable, str(SINK)]
        if certfile:
            args += ["--certfile", certfile]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().split()
        if len(ready) != 3 or ready[0] != "READY":
            self.close()
            raise RuntimeError(f"sink did not start: {ready!r}")
        self.host, self.port = ready[1], int(ready[2])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_replies(sock: socket.socket, count: int, buf: bytearray) -> None:
    """Read ``count`` single-line replies (all the sink sends after EHLO)."""
    while buf.count(b"\r\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("sink closed the connection")
        buf += chunk
    for _ in range(count):
        end = buf.index(b"\r\n")
        if bytes(buf[:1]) not in (b"2", b"3"):
            raise RuntimeError(f"sink refused: {bytes(buf[:end])!r}")
        del buf[: end + 2]


def sink_ceiling(host: str, port: int, payload: bytes, count: int) -> float:
    """The sink's own rate (MB/s) for ready-made DATA payloads sent over a raw socket.

    Each message is MAIL, RCPT, DATA and the payload in one pipelined write, then its four
    replies are read: no client library work, so this is what the sink can take.
    """
    head = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    with socket.create_connection((host, port)) as sock:
        buf = bytearray()
        _read_replies(sock, 1, buf)
        sock.sendall(b"HELO raw.test\r\n")
        _read_replies(sock, 1, buf)
        blob = head + payload
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(blob)
            _read_replies(sock, 4, buf)
        elapsed = time.perf_counter() - start
        sock.sendall(b"QUIT\r\n")
    return len(payload) * count / elapsed / 1e6

"""A raw-socket SMTP client for benchmarks: pipelined envelope, pre-built data, no parsing.

Run as a script it is one load-generating process: it connects, sends one warm-up message,
prints ``ready``, waits for ``go`` on stdin, sends ``count`` messages and prints ``done``.
Separate processes keep the client's work off the server's interpreter lock.
"""

from __future__ import annotations

import socket
import sys

ENVELOPE = b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.com>\r\nDATA\r\n"


def make_data(size: int) -> bytes:
    """A message of about ``size`` bytes with 78-byte lines, terminated by CRLF.CRLF."""
    header = b"From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: bench\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    lines = max(1, (size - len(header)) // len(line))
    return header + line * lines + b".\r\n"


class RawClient:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self.file = self.sock.makefile("rb")
        self._expect(220)
        self.sock.sendall(b"EHLO bench.example\r\n")
        self._expect(250)

    def _expect(self, code: int) -> None:
        prefix = str(code).encode()
        while True:
            line = self.file.readline()
            if not line.startswith(prefix):
                raise RuntimeError(f"expected {code}, got {line!r}")
            if line[3:4] != b"-":
                return

    def send(self, data: bytes) -> None:
        self.sock.sendall(ENVELOPE)
        self._expect(250)
        self._expect(250)
        self._expect(354)
        self.sock.sendall(data)
        self._expect(250)

    def close(self) -> None:
        self.sock.sendall(b"QUIT\r\n")
        self._expect(221)
        self.file.close()
        self.sock.close()


def main() -> None:
    host, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    data = make_data(size)
    client = RawClient(host, port)
    client.send(data)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    for _ in range(count):
        client.send(data)
    client.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()

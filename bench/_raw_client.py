"""A raw-socket SMTP client for benchmarks: pipelined envelope, pre-built data, no parsing.

Run as a script it is one load-generating process: it connects, sends one warm-up message,
prints ``ready``, waits for ``go`` on stdin, sends ``count`` messages and prints ``done``.
Separate processes keep the client's work off the server's interpreter lock.

``host port size count [data|bdat[:chunk]] [plain|dots]``: the message goes with DATA (the
default) or with BDAT in chunks of ``chunk`` bytes (default: one chunk), all pipelined after
RCPT (RFC 3030); ``dots`` starts every body line with a dot, which DATA must stuff.
"""

from __future__ import annotations

import socket
import sys

ENVELOPE = b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.com>\r\nDATA\r\n"


def make_message(size: int, dots: bool = False) -> bytes:
    """A message of about ``size`` bytes with 78-byte lines (each starting with a dot if
    ``dots``)."""
    header = b"From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: bench\r\n\r\n"
    line = (b"." if dots else b"x") + b"x" * 75 + b"\r\n"
    lines = max(1, (size - len(header)) // len(line))
    return header + line * lines


def make_data(size: int, dots: bool = False) -> bytes:
    """``make_message`` dot-stuffed and terminated by CRLF.CRLF, as DATA sends it."""
    message = make_message(size, dots)
    if dots:
        message = message.replace(b"\r\n.", b"\r\n..")
    return message + b".\r\n"


def make_bdat(size: int, dots: bool = False, chunk: int = 0) -> tuple[bytes, int]:
    """MAIL, RCPT and ``make_message`` as BDAT chunks of ``chunk`` bytes (0: one chunk), all in
    one pipelined write; and how many replies that asks for."""
    message = make_message(size, dots)
    chunk = chunk or len(message)
    pieces = [message[i:i + chunk] for i in range(0, len(message), chunk)]
    wire = [b"BDAT %d%s\r\n" % (len(p), b" LAST" if i == len(pieces) - 1 else b"") + p
            for i, p in enumerate(pieces)]
    return ENVELOPE[: ENVELOPE.index(b"DATA")] + b"".join(wire), 2 + len(pieces)


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

    def send_bdat(self, wire: bytes, replies: int) -> None:
        self.sock.sendall(wire)
        for _ in range(replies):
            self._expect(250)

    def close(self) -> None:
        self.sock.sendall(b"QUIT\r\n")
        self._expect(221)
        self.file.close()
        self.sock.close()


def main() -> None:
    host, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    mode, _, chunk = (sys.argv[5] if len(sys.argv) > 5 else "data").partition(":")
    dots = len(sys.argv) > 6 and sys.argv[6] == "dots"
    client = RawClient(host, port)
    if mode == "bdat":
        wire, replies = make_bdat(size, dots, int(chunk or 0))

        def send() -> None:
            client.send_bdat(wire, replies)
    else:
        data = make_data(size, dots)

        def send() -> None:
            client.send(data)
    send()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    for _ in range(count):
        send()
    client.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()

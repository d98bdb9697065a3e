"""A small BDAT-speaking client over a real socket (no Python client sends BDAT yet).

It writes exactly what a test says, pipelined or one command at a time, and reads replies; it
never checks them, so tests can send what a broken or hostile client would.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Sequence


def bdat(chunk: bytes, last: bool = False) -> bytes:
    """One ``BDAT`` command and its chunk, as they go on the wire."""
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, clipped to its length) into chunks."""
    points = [0, *sorted(min(max(c, 0), len(data)) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


class BdatClient:
    """A connection that has been greeted and has said EHLO (or LHLO)."""

    def __init__(self, address: tuple[str, int], *, hello: str = "EHLO",
                 timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.features = [line.split(" ")[0].upper() for line in self.cmd(f"{hello} me")[1][1:]]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> tuple[int, list[str]]:
        """One reply (multi-line aware); ConnectionError if the server hung up."""
        lines = []
        while True:
            raw = self.file.readline()
            if not raw:
                raise ConnectionError("closed by the server")
            line = raw.decode("utf-8").rstrip("\r\n")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def replies(self, count: int) -> list[int]:
        return [self.reply()[0] for _ in range(count)]

    def cmd(self, line: str) -> tuple[int, list[str]]:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def send_chunked(self, chunks: Sequence[bytes], *, sender: str = "a@example.com",
                     rcpts: Sequence[str] = ("b@example.com",), mail_params: str = "",
                     pipelined: bool = True, lmtp: bool = False) -> list[int]:
        """A whole transaction, the last chunk sent as ``BDAT n LAST``; the reply codes.

        An empty ``chunks`` sends ``BDAT 0 LAST`` alone. With ``lmtp`` the replies to the last
        chunk are one per recipient (RFC 2033), so every recipient must have been accepted.
        """
        commands = [f"MAIL FROM:<{sender}>{mail_params}\r\n".encode()]
        commands += [f"RCPT TO:<{rcpt}>\r\n".encode() for rcpt in rcpts]
        chunks = list(chunks) or [b""]
        commands += [bdat(c, last=i == len(chunks) - 1) for i, c in enumerate(chunks)]
        extra = len(rcpts) - 1 if lmtp else 0
        if pipelined:
            self.send(b"".join(commands))
            return self.replies(len(commands) + extra)
        codes = []
        for command in commands:
            self.send(command)
            codes.append(self.reply()[0])
        return codes + self.replies(extra)

    def closed_by_peer(self) -> bool:
        """True if the server hung up (EOF or reset) before sending anything more."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> BdatClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

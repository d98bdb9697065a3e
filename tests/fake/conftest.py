"""Fixtures for the fake server's tests: a running server and a raw line-level client."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator

import pytest

from smtpfake import FakeSMTPServer


class Wire:
    """A bare SMTP client over a real socket, for what smtplib cannot send or read."""

    def __init__(self, address: tuple[str, int] | str, timeout: float = 2.0) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self) -> tuple[int, list[str]]:
        """Read one (possibly multi-line) reply."""
        lines = []
        while True:
            raw = self.file.readline()
            if not raw:
                raise ConnectionError("closed by the server")
            line = raw.decode("utf-8").rstrip("\r\n")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, line: str) -> tuple[int, list[str]]:
        self.send(line + "\r\n")
        return self.reply()

    def read_raw(self, size: int = 65536) -> bytes:
        return self.sock.recv(size)

    def closed_by_peer(self) -> bool:
        """True if the server hung up (EOF or reset) before sending anything more."""
        self.sock.settimeout(2.0)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def starttls(self, context: ssl.SSLContext, hostname: str = "localhost") -> None:
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname=hostname)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as srv:
        yield srv


@pytest.fixture
def wire() -> Iterator[Callable[..., Wire]]:
    opened: list[Wire] = []

    def connect(address: tuple[str, int] | str, timeout: float = 2.0) -> Wire:
        client = Wire(address, timeout)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()

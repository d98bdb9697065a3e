"""What start(), stop() and the options refuse: a split greeting, a socket path in use, a stop
from the server's own thread."""

from __future__ import annotations

import errno
import os
import smtplib
import socket
import tempfile
from collections.abc import Iterator

import pytest

from smtpfake import FakeLMTPServer, FakeSMTPServer


@pytest.mark.parametrize("greeting", ["hi\r\n250 forged", "hi\nthere", "hi\r"])
def test_a_greeting_with_cr_or_lf_is_refused(greeting: str) -> None:
    with pytest.raises(ValueError, match="greeting"):
        FakeSMTPServer(greeting=greeting)


@pytest.fixture
def socket_path() -> Iterator[str]:
    # AF_UNIX paths are short (about 100 bytes): use a short temporary directory.
    directory = tempfile.mkdtemp(prefix="smtpfake-")
    path = os.path.join(directory, "lmtp.sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(directory)


def _lhlo(path: str) -> int:
    with smtplib.LMTP(path, timeout=5) as client:
        return client.ehlo()[0]


def test_a_socket_path_in_use_is_refused_like_a_port_in_use(socket_path: str) -> None:
    with FakeLMTPServer(path=socket_path) as first:
        second = FakeLMTPServer(path=socket_path)
        with pytest.raises(OSError, match="in use") as raised:
            second.start()
        assert raised.value.errno == errno.EADDRINUSE
        assert not second.running
        assert _lhlo(socket_path) == 250  # the first server still owns its socket
        assert first.running


def test_a_stale_socket_file_is_replaced(socket_path: str) -> None:
    with socket.socket(socket.AF_UNIX) as gone:  # bound, never listening, then closed
        gone.bind(socket_path)
    with FakeLMTPServer(path=socket_path):
        assert _lhlo(socket_path) == 250


def test_a_file_that_is_not_a_socket_is_left_alone(socket_path: str) -> None:
    with open(socket_path, "w") as f:
        f.write("not a socket")
    with pytest.raises(OSError, match="in use"):
        FakeLMTPServer(path=socket_path).start()
    with open(socket_path) as f:
        assert f.read() == "not a socket"


def test_stop_removes_only_its_own_socket_file(socket_path: str) -> None:
    first = FakeLMTPServer(path=socket_path)
    first.start()
    try:
        os.unlink(socket_path)  # someone cleaned up, and another server took the path
        with FakeLMTPServer(path=socket_path) as second:
            first.stop()
            assert _lhlo(socket_path) == 250
            assert second.running
    finally:
        first.stop()


@pytest.mark.parametrize("servers", [1, 2])
def test_stop_from_a_rule_is_refused_at_once(servers: int, wire) -> None:
    # A rule's callable runs on the loop thread every fake server shares; stop() waits for that
    # thread. With two servers it froze them all until its timeout.
    refusals: list[RuntimeError] = []
    with FakeSMTPServer() as server, FakeSMTPServer() as other:
        if servers == 1:
            other.stop()

        def stops(rcpt: str) -> bool:
            try:
                server.stop()
            except RuntimeError as error:
                refusals.append(error)
            return False

        server.on("RCPT", stops).reply(550)
        client = wire(server.address, timeout=5)
        client.reply()
        client.cmd("EHLO me")
        client.cmd("MAIL FROM:<a@example.com>")
        assert client.cmd("RCPT TO:<b@example.com>")[0] == 250
        [refused] = refusals
        assert "rule" in str(refused)
        assert server.running
        assert client.cmd("NOOP")[0] == 250
        if servers == 2:
            with smtplib.SMTP(*other.address, timeout=5) as neighbour:
                assert neighbour.noop()[0] == 250

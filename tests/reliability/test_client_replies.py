"""The client against servers whose replies are broken, huge, endless or unsolicited.

Each case ends in a typed error within the timeout, with the socket closed, memory bounded (the
client stops reading at its limit: the server could not send all it wanted) and the same object
able to connect() to a good server and send.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

import smtpclient
from smtpfake import FakeSMTPServer

from ._checks import fails_fast, reusable
from ._hostile import HostileServer, Peer

FLOOD_LIMIT = 64 << 20  # what a flooding server tries to send; far above every client limit
MEMORY_BOUND = 2 << 20  # peak traced allocation while the client reads a flood
GREETING = b"220 hostile.test ESMTP\r\n"


def _text(error: BaseException) -> str:
    """An SMTPResponseException's text: smtplib gives bytes for a reply, str for its own."""
    assert isinstance(error, smtpclient.SMTPResponseException)
    text = error.smtp_error
    return text.decode("ascii", "replace") if isinstance(text, bytes) else str(text)


def _flooding(first: bytes, chunk: bytes) -> Callable[[Peer], None]:
    def script(peer: Peer) -> None:
        peer.flood(first, chunk, FLOOD_LIMIT)

    return script


FLOODS = {
    "over-long reply line": (b"220 ", b"x" * 65536, "Line too long"),
    "endless multi-line reply": (b"220-hostile.test\r\n", b"220-more\r\n" * 4096, "lines"),
    "huge total reply": (b"220-hostile.test\r\n", b"220-" + b"y" * 8000 + b"\r\n", "larger"),
}


@pytest.mark.parametrize("case", sorted(FLOODS))
def test_flooding_greeting_is_cut_off_at_the_client_limit(
    case: str, client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    first, chunk, words = FLOODS[case]
    with HostileServer(_flooding(first, chunk)) as server:
        tracemalloc.start()
        try:
            error = fails_fast(
                client,
                lambda: client.connect(server.host, server.port),
                smtpclient.SMTPReplyError,
                case,
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert isinstance(error, smtpclient.SMTPReplyError)
        assert error.smtp_code == 500
        assert words in _text(error)
        assert server.finished.wait(5)
        assert server.client_closed.is_set(), f"{case}: the server never saw the client close"
        assert server.peer.sent < FLOOD_LIMIT, f"{case}: the client read all {FLOOD_LIMIT} bytes"
    assert peak < MEMORY_BOUND, f"{case}: peak traced memory {peak} bytes"
    reusable(client, good)


MALFORMED = {
    "non-numeric code": b"abc hostile\r\n",
    "code out of range (999)": b"999 hostile\r\n",
    "code out of range (099)": b"099 hostile\r\n",
    "four-digit code": b"2200 hostile\r\n",
    "two-digit code": b"22 hostile\r\n",
    "continuation with another code": b"220-hostile\r\n250 other\r\n",
    "binary garbage": b"\x00\xff\xfe\x16\x03\x01\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_greeting_is_a_reply_error(
    case: str, client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    def script(peer: Peer) -> None:
        peer.send(MALFORMED[case])

    with HostileServer(script) as server:
        error = fails_fast(
            client,
            lambda: client.connect(server.host, server.port),
            smtpclient.SMTPReplyError,
            case,
        )
        assert isinstance(error, smtpclient.SMTPReplyError)
        assert error.smtp_code == -1
        assert server.client_closed.wait(5)
    reusable(client, good)


MID_SESSION = {
    "letter O in the code": (b"25O OK\r\n", smtpclient.SMTPReplyError),
    "code 600": (b"600 beyond\r\n", smtpclient.SMTPReplyError),
    "reply that never finishes": (b"250-no final line\r\n25", smtpclient.SMTPServerDisconnected),
}


@pytest.mark.parametrize("case", sorted(MID_SESSION))
def test_broken_reply_mid_session_via_smtpfake(
    case: str, client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    raw, expected = MID_SESSION[case]
    rule = good.on("NOOP", times=1).send_raw(raw)
    client.connect(good.host, good.port)
    client.ehlo()
    fails_fast(client, client.noop, expected, f"NOOP answered {raw!r}")
    assert rule.fired == 1
    assert f"!: raw bytes at NOOP: {raw!r}" in good.sessions[0].format_transcript()
    good.reset()
    reusable(client, good)


def test_thousands_of_ehlo_extensions_via_smtpfake(
    client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    good.on("EHLO", times=1).reply(250, ["smtpfake.test", *(f"X-EXT{i}" for i in range(5000))])
    client.connect(good.host, good.port)
    error = fails_fast(client, client.ehlo, smtpclient.SMTPReplyError, "5000 EHLO extensions")
    assert "1000 lines" in _text(error)
    reusable(client, good)


def test_many_ehlo_extensions_under_the_limit_are_read(
    client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    good.on("EHLO", times=1).reply(250, ["smtpfake.test", *(f"X-EXT{i}" for i in range(900))])
    client.connect(good.host, good.port)
    assert client.ehlo()[0] == 250
    assert client.has_extn("x-ext899")
    assert len(client.esmtp_features) == 900
    client.quit()


def test_reply_in_one_byte_writes_is_read_whole(client: smtpclient.SMTP) -> None:
    """Not a failure: a correct conversation sent one byte per TCP segment still works."""
    received: list[bytes] = []

    def script(peer: Peer) -> None:
        peer.send_bytewise(GREETING)
        peer.expect("EHLO")
        peer.send_bytewise(b"250-hostile.test\r\n250-8BITMIME\r\n250 SIZE 100000\r\n")
        peer.expect("MAIL")
        peer.send_bytewise(b"250 2.1.0 OK\r\n")
        peer.expect("RCPT")
        peer.send_bytewise(b"250 2.1.5 OK\r\n")
        peer.expect("DATA")
        peer.send_bytewise(b"354 go ahead\r\n")
        received.append(peer.read_data())
        peer.send_bytewise(b"250 2.0.0 queued as BYTEWISE\r\n")
        peer.expect("QUIT")
        peer.send_bytewise(b"221 2.0.0 bye\r\n")

    body = b"Subject: bytewise\r\n\r\n.leading dot\r\n"
    with HostileServer(script) as server:
        assert client.connect(server.host, server.port) == (220, b"hostile.test ESMTP")
        assert client.sendmail("a@example.com", ["b@example.com"], body) == {}
        assert client.last_data_reply is not None
        assert client.last_data_reply.message == b"2.0.0 queued as BYTEWISE"
        assert client.has_extn("size")
        assert client.quit() == (221, b"2.0.0 bye")
        assert server.client_closed.wait(5)
    assert received == [b"Subject: bytewise\r\n\r\n..leading dot\r\n.\r\n"]


def test_unsolicited_line_after_the_greeting(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    """A reply nobody asked for must not be taken as the answer to the next command."""

    def script(peer: Peer) -> None:
        peer.send(GREETING + b"250 2.0.0 unsolicited\r\n")
        if peer.read_line().upper().startswith(b"EHLO"):  # a client that noticed sends nothing
            peer.send(b"250-hostile.test\r\n250 SIZE 1000\r\n")

    with HostileServer(script) as server:
        client.connect(server.host, server.port)
        error = fails_fast(
            client, client.ehlo, smtpclient.SMTPReplyError, "unsolicited line before EHLO"
        )
        assert isinstance(error, smtpclient.SMTPReplyError)
        assert error.smtp_code == -1
        assert "unsolicited" in _text(error).lower()
        assert server.client_closed.wait(5)
    reusable(client, good)


def test_unsolicited_line_between_replies_via_smtpfake(
    client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    good.on("NOOP", times=1).send_raw(b"250 2.0.0 OK\r\n250 2.0.0 unsolicited\r\n")
    client.connect(good.host, good.port)
    client.ehlo()
    assert client.noop() == (250, b"2.0.0 OK")
    error = fails_fast(
        client,
        lambda: client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n"),
        smtpclient.SMTPReplyError,
        "unsolicited line after a NOOP reply",
    )
    assert "unsolicited" in _text(error).lower()
    sent = [line.text for line in good.sessions[0].transcript if line.direction == "C"]
    assert sent == ["EHLO client.test", "NOOP"]  # refused before MAIL was sent
    good.reset()
    reusable(client, good)


def test_auth_challenges_that_never_end(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    answers: list[bytes] = []

    def script(peer: Peer) -> None:
        peer.send(GREETING)
        peer.expect("EHLO")
        peer.send(b"250-hostile.test\r\n250 AUTH LOGIN\r\n")
        for _ in range(1000):  # bounded: a correct client gives up after a few
            line = peer.read_line()
            if not line:
                return
            answers.append(line)
            peer.send(b"334 VXNlcm5hbWU6\r\n")

    with HostileServer(script) as server:
        client.connect(server.host, server.port)
        error = fails_fast(
            client, lambda: client.login("alice", "pw"), smtpclient.SMTPException, "endless AUTH"
        )
        assert "loop" in str(error)
        assert server.client_closed.wait(5), "the client left the AUTH exchange open"
    assert len(answers) < 20
    reusable(client, good)


def test_repeated_failures_leave_nothing_growing(
    client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    """200 broken sessions on one object: no fd, no traced memory left behind by any of them."""
    import os

    def script(peer: Peer) -> None:
        peer.send(b"220-hostile.test\r\n" + b"220-" + b"w" * 9000 + b"\r\n")

    def fail_once() -> None:
        try:
            client.connect(server.host, server.port)
        except smtpclient.SMTPReplyError:
            assert client.sock is None
        else:
            raise AssertionError("a 9000-byte reply line was accepted")

    fds = "/proc/self/fd"
    with HostileServer(script) as server:
        for _ in range(20):  # warm-up: caches, the parser's first allocations
            fail_once()
        # The server's end of a connection closes after the client's: count fds once it has.
        server.wait_done(server.connections)
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            open_before = len(os.listdir(fds)) if os.path.isdir(fds) else 0
            for _ in range(200):
                fail_once()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        server.wait_done(server.connections)
        open_after = len(os.listdir(fds)) if os.path.isdir(fds) else 0
    # Count the client's side only: the hostile server's thread and smtpfake's loop thread
    # (the module's good server, still noting earlier sessions) allocate meanwhile.
    others = ("_hostile.py", "tracemalloc", "smtpfake", "asyncio", "aiosmtpd", "threading")
    growth = [
        stat
        for stat in after.compare_to(before, "filename")
        if not any(name in stat.traceback[0].filename for name in others)
    ]
    grown = sum(stat.size_diff for stat in growth)
    top = sorted(growth, key=lambda stat: -stat.size_diff)[:3]
    assert grown < 16 * 1024, f"memory grew by {grown} bytes over 200 failed sessions: {top}"
    assert open_after <= open_before, f"{open_after - open_before} fds leaked"
    reusable(client, good)

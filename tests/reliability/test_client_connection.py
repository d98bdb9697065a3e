"""The client against servers that stall, trickle, reset or hang up.

The bound on every failure is the client's timeout plus a CI margin; the same object then
connects to a good server and sends.
"""

from __future__ import annotations

import pytest

import smtpclient
from smtpfake import FakeSMTPServer

from ._checks import ALLOWED, SLACK, TIMEOUT, fails_fast, reusable
from ._hostile import HostileServer, Peer

GREETING = b"220 hostile.test ESMTP\r\n"
TIMED_OUT = (smtpclient.SMTPServerDisconnected, TimeoutError)


def _to_data(peer: Peer) -> None:
    """Play a good server up to the DATA command (not answered yet)."""
    peer.send(GREETING)
    peer.expect("EHLO")
    peer.send(b"250-hostile.test\r\n250 8BITMIME\r\n")
    peer.expect("MAIL")
    peer.send(b"250 OK\r\n")
    peer.expect("RCPT")
    peer.send(b"250 OK\r\n")
    peer.expect("DATA")


def _send_big(client: smtpclient.SMTP) -> object:
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2048  # 2 MiB: fills the buffers
    return client.sendmail("a@example.com", ["b@example.com"], body)


@pytest.mark.parametrize("phase", ["CONNECT", "EHLO", "MAIL", "DATA", "END_OF_DATA", "QUIT"])
def test_no_reply_at_all_times_out(
    phase: str, client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    rule = good.on(phase, times=1).hang()

    def session() -> object:
        client.connect(good.host, good.port)
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: s\r\n\r\nbody\r\n")
        return client.quit()

    fails_fast(client, session, TIMED_OUT, f"no reply at {phase}", bound=2 * TIMEOUT + SLACK)
    assert rule.fired == 1
    assert f"!: hanging at {phase}" in good.sessions[0].format_transcript()
    assert len(good.outbox) == (1 if phase == "QUIT" else 0)
    good.reset()
    reusable(client, good)


def test_slow_loris_one_byte_per_second(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    """Each byte comes later than the timeout: the first gap ends it."""

    def script(peer: Peer) -> None:
        peer.send(b"220-hostile.test\r\n")
        peer.trickle(b"220 still greeting you\r\n", 1.0)

    with HostileServer(script) as server:
        fails_fast(client, lambda: client.connect(server.host, server.port), TIMED_OUT, "1 byte/s")
        assert server.client_closed.wait(5)
    reusable(client, good)


def test_slow_loris_faster_than_the_timeout_is_still_bounded(
    client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    """One byte every 50 ms never trips a per-recv timeout of 0.3 s: the reply needs a deadline.

    The trickle is capped at 60 bytes (3 s) and then stalls, so a client without a deadline
    fails this test after ~3.3 s instead of hanging for the 8192-byte line limit (~7 min).
    """
    trickle_bytes = 60

    def script(peer: Peer) -> None:
        peer.send(b"220-hostile.test\r\n")
        if peer.trickle(b"220-" + b"z" * trickle_bytes, 0.05):
            peer.stall()

    with HostileServer(script) as server:
        fails_fast(
            client,
            lambda: client.connect(server.host, server.port),
            TIMED_OUT,
            "1 byte per 50 ms against a 0.3 s timeout (no overall deadline for a reply?)",
        )
        assert server.client_closed.wait(5)
        assert server.peer.sent < 18 + 4 + trickle_bytes, "the client read the whole trickle"
    reusable(client, good)


@pytest.mark.parametrize("where", ["greeting", "EHLO reply"])
def test_connection_reset_mid_reply(
    where: str, client: smtpclient.SMTP, good: FakeSMTPServer
) -> None:
    """A TCP RST after part of a reply.

    At the greeting, the RST can beat the client's own connect(): Python's create_connection
    then fails with ConnectionResetError, a connection failure raised as OSError (as smtplib
    does for a refused connection). The server gives the client 50 ms to get past connect()
    first, so the mid-reply path is what normally runs; the race is accepted, not hidden.
    """

    def script(peer: Peer) -> None:
        if where == "EHLO reply":
            peer.send(GREETING)
            peer.expect("EHLO")
        peer.send(b"250-hostile.test\r\n250-half a li")
        if where == "greeting":
            peer.pause(0.05)
        peer.reset()

    def session() -> object:
        client.connect(server.host, server.port)
        return client.ehlo()

    expected: tuple[type[BaseException], ...] = (smtpclient.SMTPServerDisconnected,)
    if where == "greeting":
        expected += (ConnectionResetError,)
    with HostileServer(script) as server:
        fails_fast(
            client,
            session,
            expected,
            f"reset in the middle of {where}",
            allowed=(*ALLOWED, ConnectionResetError),
        )
    reusable(client, good)


@pytest.mark.parametrize("how", ["close", "reset"])
def test_hang_up_after_354(how: str, client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    def script(peer: Peer) -> None:
        _to_data(peer)
        peer.send(b"354 go ahead\r\n")
        peer.reset() if how == "reset" else peer.close()

    with HostileServer(script) as server:
        client.connect(server.host, server.port)
        fails_fast(
            client, lambda: _send_big(client), smtpclient.SMTPServerDisconnected, f"{how} after 354"
        )
    reusable(client, good)


def test_hang_up_after_the_data_via_smtpfake(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    good.on("DATA", times=1).disconnect(after_data=True)
    client.connect(good.host, good.port)
    fails_fast(
        client, lambda: _send_big(client), smtpclient.SMTPServerDisconnected, "hang-up after data"
    )
    assert len(good.outbox) == 0
    assert "!: disconnect after the message data" in good.sessions[0].format_transcript()
    good.reset()
    reusable(client, good)


def test_hang_up_at_data_via_smtpfake(client: smtpclient.SMTP, good: FakeSMTPServer) -> None:
    good.disconnect_at("DATA", times=1)
    client.connect(good.host, good.port)
    fails_fast(
        client, lambda: _send_big(client), smtpclient.SMTPServerDisconnected, "hang-up at DATA"
    )
    good.reset()
    reusable(client, good)

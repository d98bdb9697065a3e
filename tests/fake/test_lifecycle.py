"""Starting, stopping and resetting servers: fast, ephemeral, leaving nothing behind."""

from __future__ import annotations

import contextlib
import gc
import smtplib
import socket
import threading
import time
import weakref

import pytest

from smtpfake import FakeLMTPServer, FakeSMTPServer, ServerError, _lifecycle


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "smtpfake-loop"]


def test_context_manager_binds_an_ephemeral_port_on_loopback() -> None:
    with FakeSMTPServer() as server:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert server.address == (server.host, server.port)
        assert server.running
        with smtplib.SMTP(*server.address) as client:
            assert client.noop()[0] == 250
    assert not server.running


def test_stop_leaves_no_thread_and_frees_the_port() -> None:
    server = FakeSMTPServer()
    server.start()
    port = server.port
    assert len(_loop_threads()) == 1
    server.stop()
    assert _loop_threads() == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("warm", [False, True])
def test_a_stopped_server_is_freed_at_once_not_left_to_the_garbage_collector(warm: bool) -> None:
    """No reference cycle survives stop(), so start/stop leaves no work for the collector."""
    keep_loop = FakeSMTPServer() if warm else None
    if keep_loop is not None:
        keep_loop.start()
    gc.disable()
    try:
        server = FakeSMTPServer()
        server.start()
        server.stop()
        gone = weakref.ref(server)
        del server
        assert gone() is None
    finally:
        gc.enable()
        if keep_loop is not None:
            keep_loop.stop()


def test_servers_share_one_loop_thread_until_the_last_stops() -> None:
    with FakeSMTPServer() as one, FakeLMTPServer() as two:
        assert one.port != two.port
        assert len(_loop_threads()) == 1
        two.stop()
        assert len(_loop_threads()) == 1
        with smtplib.SMTP(*one.address) as client:
            assert client.noop()[0] == 250
    assert _loop_threads() == []


def test_stop_closes_live_client_connections(wire) -> None:
    server = FakeSMTPServer()
    server.start()
    client = wire(server.address)
    assert client.reply()[0] == 220
    server.stop()
    assert client.closed_by_peer()


def test_stop_ends_a_hanging_rule_promptly(wire) -> None:
    server = FakeSMTPServer()
    server.start()
    rule = server.on("MAIL").hang()
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO me")
    client.send("MAIL FROM:<a@example.com>\r\n")
    rule.wait(timeout=2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    assert client.closed_by_peer()


def test_start_twice_is_an_error_and_stop_is_idempotent() -> None:
    server = FakeSMTPServer()
    server.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
    finally:
        server.stop()
    server.stop()


def test_a_server_can_be_restarted() -> None:
    server = FakeSMTPServer()
    for _ in range(2):
        server.start()
        with smtplib.SMTP(*server.address) as client:
            client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nhi\r\n")
        server.stop()
    assert len(server.outbox) == 2


def test_reset_clears_mail_sessions_rules_and_keeps_listening(server) -> None:
    server.refuse_recipient("b@example.com")
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("a@example.com", ["c@example.com"], "Subject: x\r\n\r\nhi\r\n")
    assert len(server.outbox) == 1
    port = server.port
    server.reset()
    assert len(server.outbox) == 0
    assert server.sessions == []
    assert server.rules == []
    assert server.port == port
    with smtplib.SMTP(*server.address) as client:
        assert client.sendmail("a@example.com", ["b@example.com"], "hi") == {}
    server.assert_sent(1, to="b@example.com")


def test_reset_keeps_open_connections_by_default(server) -> None:
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: one\r\n\r\n1\r\n")
        server.reset()
        client.sendmail("a@example.com", ["b@example.com"], "Subject: two\r\n\r\n2\r\n")
    (message,) = server.wait_for(1)
    assert message.subject == "two"


def test_reset_can_drop_connections_still_open_for_mail(server, wire) -> None:
    left = wire(server.address)
    left.reply()
    left.cmd("EHLO me")
    assert left.cmd("MAIL FROM:<a@example.com>")[0] == 250
    assert left.cmd("RCPT TO:<b@example.com>")[0] == 250
    server.reset(drop_connections=True)
    assert left.closed_by_peer()
    assert server.sessions == []
    server.assert_nothing_sent()
    with smtplib.SMTP(*server.address) as client:  # the listener stays; new clients are served
        assert client.sendmail("a@example.com", ["b@example.com"], "x") == {}
    server.assert_sent(1)


def test_reset_drops_a_connection_the_server_has_not_picked_up_yet(server) -> None:
    # connect() returns once the kernel queued the connection, before the loop accepts it.
    with socket.create_connection(server.address, timeout=2) as raw:
        server.reset(drop_connections=True)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := raw.recv(4096):  # until the server's hang-up (or the 2 s timeout)
                received += chunk
    assert received in (b"", b"220 smtpfake.test ESMTP smtpfake\r\n")
    server.assert_nothing_sent()


def test_reset_drops_a_connection_a_rule_keeps_hanging(server, wire) -> None:
    rule = server.on("MAIL").hang()
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO me")
    client.send("MAIL FROM:<a@example.com>\r\n")
    rule.wait()
    server.reset(drop_connections=True)
    assert client.closed_by_peer()


def test_reset_with_drop_from_a_rule_is_refused_not_a_deadlock(server) -> None:
    # A rule's callable runs on the server thread, which the hang-up needs: a clear error.
    def resets(sender: str) -> bool:
        server.reset(drop_connections=True)
        return True

    server.on("MAIL", sender=resets).reply(250, "OK")
    with smtplib.SMTP(*server.address, timeout=5) as client:
        code, _ = client.mail("a@example.com")
    assert code == 451
    with pytest.raises(ServerError, match="own thread"):
        server.check()


def test_explicit_port_is_honoured() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with FakeSMTPServer(port=free) as server:
        assert server.port == free


def test_port_in_use_raises_and_leaves_no_thread() -> None:
    with FakeSMTPServer() as first:
        second = FakeSMTPServer(port=first.port)
        with pytest.raises(OSError, match="in use"):
            second.start()
        assert not second.running
    assert _loop_threads() == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"tls": "ssl"}, ValueError),
        ({"tls_required": True}, ValueError),
        ({"auth_mechanisms": ("GSSAPI",)}, ValueError),
        ({"hide": ("XCLIENT",)}, ValueError),
        ({"size_limit": 0}, ValueError),
        ({"auth_required": True}, ValueError),
        ({"users": {"alice": 1}}, TypeError),
        ({"hostname": "bad host"}, ValueError),
    ],
)
def test_bad_options_are_refused_clearly(kwargs, error) -> None:
    with pytest.raises(error):
        FakeSMTPServer(**kwargs)


def test_repr_says_where_and_what() -> None:
    server = FakeSMTPServer()
    assert "stopped" in repr(server)
    with server:
        assert f"127.0.0.1:{server.port} running" in repr(server)


@pytest.mark.parametrize("host", ["localhost", "::1"])
def test_other_hosts(host: str) -> None:
    try:
        server = FakeSMTPServer(host=host)
        server.start()
    except OSError as error:  # e.g. no IPv6 on this machine
        pytest.skip(f"cannot listen on {host}: {error}")
    try:
        with smtplib.SMTP(server.host, server.port) as client:
            assert client.noop()[0] == 250
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("host", "family"),
    [("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6), ("localhost", None),
     ("fe80::1%lo", None), ("127.0.0.1\x00", None), ("", None)],
)
def test_literal_addresses_are_bound_without_a_lookup(host: str, family: object) -> None:
    """Only a literal address skips getaddrinfo; a name (or a scoped IPv6) is resolved."""
    assert _lifecycle.numeric(host, 25)[0] == family

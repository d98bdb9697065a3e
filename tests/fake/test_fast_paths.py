"""Per-connection shortcuts around aiosmtpd agree with what they replace.

aiosmtpd parses every MAIL/RCPT address with the email package's RFC 5322 token parser and scans
``dir(self)`` on every connection; smtpfake takes faster routes (a regex for plain addresses,
the method tables learnt once per class and bound on lookup). These tests compare each route with
aiosmtpd's own.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given
from hypothesis import strategies as st

from smtpfake import FakeLMTPServer, FakeSMTPServer
from smtpfake._protocol import FakeSMTPProtocol
from smtpfake._script import Phase

from .conftest import Wire


class _NoHooks:
    pass


@pytest.fixture(scope="module")
def reference() -> Iterator[SMTP]:
    loop = asyncio.new_event_loop()
    yield SMTP(_NoHooks(), hostname="ref.test", loop=loop)
    loop.close()


def _protocol(server: FakeSMTPServer) -> FakeSMTPProtocol:
    """A protocol built on the loop thread as the server builds one per connection."""
    assert server._core is not None
    assert server._loop is not None
    core = server._core

    async def build() -> FakeSMTPProtocol:
        return server._protocol_class(core)

    return asyncio.run_coroutine_threadsafe(build(), server._loop).result(5)


@pytest.fixture(scope="module")
def ours() -> Iterator[FakeSMTPProtocol]:
    with FakeSMTPServer() as server:
        yield _protocol(server)


EXAMPLES = [
    "<a@b.test>", "<a@b.test> SIZE=10", "<a@b.test>  BODY=8BITMIME ", " <a@b.test>",
    "<a.b+c@d-e.f>", "<a@b.test>x", "<A@B.TEST>", "<>", "<> SIZE=1", "<a@b.test> (comment)",
    "<a@b.test>\tX", "<@route:a@b.test>", '<"quoted local"@b.test>', "<a..b@c.test>",
    "<.a@b.test>", "<a.@b.test>", "<jörg@b.test>", "<a@[127.0.0.1]>", "a@b.test", "<a@b.test",
    "<a@b.test>>", "<a@-b.test>", "<a@b..test>",
]


@pytest.mark.parametrize("arg", EXAMPLES)
def test_address_parsing_matches_aiosmtpd(
    arg: str, ours: FakeSMTPProtocol, reference: SMTP
) -> None:
    assert ours._getaddr(arg) == reference._getaddr(arg)


_ATOM = st.text("abcXYZ09!#$%&'*+/=?^_`{|}~-.\"()<>@[]:; \t", min_size=0, max_size=12)


@given(local=_ATOM, domain=_ATOM, rest=st.sampled_from(["", " SIZE=1", "  X ", "\tY", "x", "(c)"]))
def test_any_address_parses_as_aiosmtpd_does(
    local: str, domain: str, rest: str, ours: FakeSMTPProtocol, reference: SMTP
) -> None:
    arg = f"<{local}@{domain}>{rest}"
    assert ours._getaddr(arg) == reference._getaddr(arg)


@pytest.mark.parametrize("server_class", [FakeSMTPServer, FakeLMTPServer])
def test_command_and_auth_tables_are_complete(server_class: type[FakeSMTPServer]) -> None:
    with server_class(users={"u": "p"}) as server:
        protocol = _protocol(server)
    cls = type(protocol)
    commands = {name[5:] for name, _ in inspect.getmembers(cls) if name.startswith("smtp_")}
    assert set(protocol._smtp_methods) == commands
    assert {"EHLO", "MAIL", "RCPT", "DATA", "AUTH", "STARTTLS"} <= commands
    assert ("LHLO" in commands) is (server_class is FakeLMTPServer)
    assert set(protocol._auth_methods) == {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}
    assert "push" in dir(protocol)  # dir() is whole again once built
    assert protocol._handle_hooks == {}


@pytest.mark.parametrize("server_class", [FakeSMTPServer, FakeLMTPServer])
def test_every_connection_gets_the_tables_aiosmtpd_would_build(
    server_class: type[FakeSMTPServer],
) -> None:
    """Later instances skip aiosmtpd's scan; their tables still hold this instance's methods."""
    with server_class(users={"u": "p"}) as server:
        first, later = _protocol(server), _protocol(server)
    for protocol in (first, later):
        for name in protocol._smtp_methods:
            entry = protocol._smtp_methods[name]
            method = getattr(protocol, f"smtp_{name}")
            # The rules first, then aiosmtpd's method bound to this instance (see ``_command``).
            assert entry.func == protocol._dispatch
            assert entry.args == (Phase(name), method)
        for mechanism, entry in protocol._auth_methods.items():
            attribute = "auth_" + mechanism.replace("-", "__")
            assert entry.method == getattr(protocol, attribute)
            assert entry.is_builtin
    assert later._smtp_methods.get("NOSUCH") is None
    assert "NOSUCH" not in later._auth_methods


def test_excluded_mechanisms_are_left_out_of_later_tables_too() -> None:
    with FakeSMTPServer(users={"u": "p"}) as everything:
        _protocol(everything)  # the class's tables are learnt by now
    with FakeSMTPServer(users={"u": "p"}, auth_mechanisms=["CRAM-MD5"]) as server:
        assert set(_protocol(server)._auth_methods) == {"CRAM-MD5"}
        client = Wire(server.address)
        try:
            client.reply()
            client.cmd("EHLO me")
            assert client.cmd("AUTH PLAIN AHUAcA==")[0] == 504
            assert client.cmd("AUTH CRAM-MD5")[0] == 334
        finally:
            client.close()


def test_reads_are_small_enough_for_malloc_to_keep_them_off_mmap() -> None:
    """asyncio reads 256 KiB at a time, which costs an mmap and munmap per read; ours are 64 KiB."""
    with FakeSMTPServer() as server:
        client = Wire(server.address)
        try:
            assert client.reply()[0] == 220
            assert server._core is not None
            (protocol,) = server._core.live
            assert protocol.transport is not None
            assert protocol.transport.max_size == 1 << 16  # type: ignore[attr-defined]
        finally:
            client.close()


def test_the_idle_timeout_still_closes_a_silent_connection_and_commands_push_it_back() -> None:
    """aiosmtpd's idle timeout (300 s, shortened here) kept with one timer per connection."""
    with FakeSMTPServer() as server:
        client = Wire(server.address)
        try:
            assert client.reply()[0] == 220
            assert server._core is not None
            assert server._loop is not None
            (protocol,) = server._core.live
            loop = server._loop

            async def shorten() -> tuple[float, float]:
                before = protocol._deadline
                protocol._timeout_duration = 0.3
                return before, loop.time()

            before, now = asyncio.run_coroutine_threadsafe(shorten(), loop).result(2)
            assert before > now + 200  # armed at connect with aiosmtpd's 300 s
            assert client.cmd("NOOP")[0] == 250  # re-arms: 0.3 s from now
            assert protocol._deadline < before
            assert client.closed_by_peer()  # within Wire's 2 s
        finally:
            client.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_accepted_connections_have_nagle_off(host: str) -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol says TCP; with Nagle on, the
    replies to pipelined BDAT chunks each waited for the client's delayed ACK (~40 ms)."""
    with FakeSMTPServer(host=host) as server:
        client = Wire(server.address[:2])
        try:
            assert client.reply()[0] == 220
            assert server._core is not None
            (protocol,) = server._core.live
            assert protocol.transport is not None
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            client.close()

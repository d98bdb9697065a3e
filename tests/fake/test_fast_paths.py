"""Per-connection shortcuts around aiosmtpd agree with what they replace.

aiosmtpd parses every MAIL/RCPT address with the email package's RFC 5322 token parser and scans
``dir(self)`` on every connection; smtpfake takes faster routes (a regex for plain addresses,
the scanned names listed once per class). These tests compare each route with aiosmtpd's own.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given
from hypothesis import strategies as st

from smtpfake import FakeLMTPServer, FakeSMTPServer
from smtpfake._protocol import FakeSMTPProtocol


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

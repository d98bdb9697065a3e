"""Connecting and the greeting: same replies, same errors, same state as smtplib."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ._harness import Conversation, compare
from ._peer import HANGUP


def test_constructor_connects_and_quit_returns_221(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.quit()

    out = compare(make_peer(), conv)
    assert out.value == (221, b"2.0.0 bye")
    assert out.clients[0]["sock is None"] is True
    assert out.sent == [[b"quit\r\n", b"[peer hung up]"]]


def test_connect_with_host_colon_port_string(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp(connect=False)
        return s.connect(f"{c.host}:{c.port}"), s.noop()

    out = compare(make_peer(), conv)
    assert out.value == ((220, b"peer.test ESMTP scripted peer"), (250, b"2.0.0 ok"))


def test_connect_with_nonnumeric_port_suffix(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        return c.smtp(connect=False).connect(f"{c.host}:smtp")

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == ("OSError", ("nonnumeric port",))
    assert out.sent == []


def test_non_220_greeting_raises_connect_error(make_peer: Any) -> None:
    peer = make_peer({"GREETING": "554-go away\n554 5.3.2 no service for you"})
    out = compare(peer, lambda c: c.smtp())
    assert out.error is not None
    assert out.error.type == "SMTPConnectError"
    assert out.error.attrs == {"smtp_code": 554, "smtp_error": b"go away\n5.3.2 no service for you"}


def test_connect_method_returns_non_220_greeting(make_peer: Any) -> None:
    peer = make_peer({"GREETING": "421 4.3.2 busy"})

    def conv(c: Conversation) -> Any:
        return c.smtp(connect=False).connect(c.host, c.port)

    assert compare(peer, conv).value == (421, b"4.3.2 busy")


def test_multiline_greeting(make_peer: Any) -> None:
    peer = make_peer({"GREETING": "220-peer.test first\n220-second line\n220 third"})

    def conv(c: Conversation) -> Any:
        return c.smtp(connect=False).connect(c.host, c.port)

    assert compare(peer, conv).value == (220, b"peer.test first\nsecond line\nthird")


def test_hang_up_instead_of_greeting(make_peer: Any) -> None:
    out = compare(make_peer({"GREETING": HANGUP}), lambda c: c.smtp())
    assert out.error is not None
    assert out.error.type == "SMTPServerDisconnected"


def test_connection_refused(make_peer: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]

    def conv(c: Conversation) -> Any:
        return c.smtp(port=closed_port)

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert out.error.type == "ConnectionRefusedError"


@pytest.mark.parametrize("timeout", [0, 0.0])
def test_zero_timeout_is_refused(make_peer: Any, timeout: float) -> None:
    out = compare(make_peer(), lambda c: c.smtp(timeout=timeout))
    assert out.error is not None
    assert out.error.type == "ValueError"
    assert out.sent == []


def test_default_local_hostname_is_the_same(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp(local_hostname=None)
        return s.ehlo()

    out = compare(make_peer(), conv)
    assert out.clients[0]["local_hostname"] not in ("", None, "client.test")


def test_constructor_without_host_does_not_connect(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp(connect=False)
        return s.noop()

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPServerDisconnected",
        ("please run connect() first",),
    )
    assert out.clients[0]["sock is None"] is True


@pytest.mark.parametrize(
    "kwargs", [{"source_address": ("127.0.0.1", 0)}, {"timeout": None}, {"local_hostname": "x.y"}]
)
def test_constructor_arguments_are_kept(make_peer: Any, kwargs: dict[str, Any]) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp(**kwargs)
        return s.ehlo()

    out = compare(make_peer(), conv)
    for name, value in kwargs.items():
        assert out.clients[0][name] == value

"""Ending a session: quit, close, the context manager, and a server that hangs up."""

from __future__ import annotations

from typing import Any

from ._harness import Conversation, compare
from ._peer import HANGUP, Say


def test_quit_forgets_the_session(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        return s.quit()

    out = compare(make_peer(), conv)
    state = out.clients[0]
    assert (state["ehlo_resp"], state["esmtp_features"], state["does_esmtp"]) == (None, {}, False)
    assert state["sock is None"] is True


def test_quit_with_unexpected_reply_still_closes(make_peer: Any) -> None:
    peer = make_peer({"QUIT": "500 5.5.1 what?"})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.quit()

    out = compare(peer, conv)
    assert out.value == (500, b"5.5.1 what?")
    assert out.sent == [[b"quit\r\n", b"[client closed]"]]


def test_close_twice_is_harmless(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.close()
        s.close()
        return s.sock is None

    out = compare(make_peer(), conv)
    assert out.value is True
    assert out.sent == [[b"[client closed]"]]


def test_context_manager_sends_quit(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            result = s.noop()
        return result, s.sock is None

    out = compare(make_peer(), conv)
    assert out.value == ((250, b"2.0.0 ok"), True)
    assert out.sent == [[b"noop\r\n", b"QUIT\r\n", b"[peer hung up]"]]


def test_context_manager_raises_on_refused_quit(make_peer: Any) -> None:
    peer = make_peer({"QUIT": "421 4.4.2 timeout"})

    def conv(c: Conversation) -> Any:
        with c.smtp():
            pass

    out = compare(peer, conv)
    assert out.error is not None
    assert out.error.type == "SMTPResponseException"
    assert out.error.attrs == {"smtp_code": 421, "smtp_error": b"4.4.2 timeout"}
    assert out.clients[0]["sock is None"] is True


def test_context_manager_swallows_disconnect_at_quit(make_peer: Any) -> None:
    peer = make_peer({"QUIT": HANGUP})

    def conv(c: Conversation) -> Any:
        with c.smtp() as s:
            s.noop()
        return s.sock is None

    assert compare(peer, conv).value is True


def test_hang_up_mid_session(make_peer: Any) -> None:
    peer = make_peer({"NOOP": ["250 ok", HANGUP]})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.noop()
        s.noop()

    out = compare(peer, conv)
    assert out.error is not None
    assert (out.error.type, out.error.args) == (
        "SMTPServerDisconnected",
        ("Connection unexpectedly closed",),
    )
    assert out.clients[0]["sock is None"] is True


def test_command_after_close_raises(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.close()
        return s.noop()

    out = compare(make_peer(), conv)
    assert out.error is not None
    assert out.error.args == ("please run connect() first",)


def test_reply_then_hang_up_is_returned_first(make_peer: Any) -> None:
    peer = make_peer({"RSET": Say("421 4.3.0 shutting down", close=True)})

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.rset()

    assert compare(peer, conv).value == (421, b"4.3.0 shutting down")


def test_reconnect_after_quit(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        s.quit()
        greeting = s.connect(c.host, c.port)
        return greeting, s.ehlo()[0], s.quit()

    out = compare(make_peer(), conv)
    assert len(out.sent) == 2
    assert out.value[1] == 250

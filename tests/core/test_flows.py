"""The transactions, run without sockets: a fake driver answers each command from a script."""

from __future__ import annotations

import binascii
import contextlib
from collections.abc import Callable, Generator
from typing import Any

import pytest

from smtpclient import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from smtpclient import _flows as flows
from smtpclient._auth import (
    auth_flow,
    cram_md5_response,
    login_response,
    plain_response,
    xoauth2,
    xoauth2_response,
)
from smtpclient._replies import ReplyParser
from tests._support.wire import wire


class State:
    """The session attributes a flow reads and writes (the drivers are such objects)."""

    def __init__(self, *, lmtp: bool = False, features: dict[str, str] | None = None) -> None:
        self.debuglevel = 0
        self.local_hostname = "client.test"
        self.ehlo_msg = "lhlo" if lmtp else "ehlo"
        self.helo_resp: bytes | None = None
        self.ehlo_resp: bytes | None = b"ok" if features is not None else None
        self.does_esmtp = features is not None
        self.esmtp_features = features or {}
        self.command_encoding = "ascii"
        self._auth_challenge_count = 0
        self._accepted: list[str] = []
        self._lmtp = lmtp
        self.last_data_reply = None
        self.last_data_replies: list[Any] = []


def drive(
    flow: Generator[Any, Any, Any],
    wire: bytes,
    events: list[Any],
    calls: dict[str, Any] | None = None,
) -> Any:
    """Drive ``flow`` to its value, appending each event it yields to ``events``.

    Replies come from ``wire`` (an exhausted wire is a hang-up), Call events are answered from
    ``calls``; every reply on the wire must be read.
    """
    replies = ReplyParser().feed(wire)
    try:
        event = next(flow)
        while True:
            events.append(event)
            value = None
            if isinstance(event, flows.Call):
                value = (calls or {})[event.name]
            elif isinstance(event, (str, bytes, list)) or event is flows.READ:
                if not replies:
                    event = flow.throw(SMTPServerDisconnected("Connection unexpectedly closed"))
                    continue
                value = replies.pop(0)
            event = flow.send(value)
    except StopIteration as stop:
        assert not replies, f"unread replies: {replies}"
        return stop.value


def run(flow: Generator[Any, Any, Any], wire: bytes) -> tuple[Any, list[Any]]:
    """The flow's value and the events it yielded (see :func:`drive`)."""
    events: list[Any] = []
    return drive(flow, wire, events), events


def test_sendmail_success() -> None:
    state = State(features={"size": "1000"})
    result, events = run(
        flows.sendmail(state, "a@x", ["b@x", "c@x"], "hi"),
        b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 queued\r\n",
    )
    assert result == {"c@x": (550, b"5.1.1 no")}
    assert events == [
        wire("mail FROM:<a@x> size=2\r\n"),
        wire("rcpt TO:<b@x>\r\n"),
        wire("rcpt TO:<c@x>\r\n"),
        "data\r\n",
        [b"hi", b"\r\n.\r\n"],
    ]
    assert state.last_data_reply.message == b"queued"


def test_sender_refused_resets() -> None:
    with pytest.raises(SMTPSenderRefused) as caught:
        run(flows.sendmail(State(features={}), "a@x", "b@x", "hi"), b"550 no\r\n250 reset\r\n")
    assert caught.value.args == (550, b"no", "a@x")


def test_sender_refused_with_421_closes_instead_of_reset() -> None:
    flow = flows.sendmail(State(features={}), "a@x", "b@x", "hi")
    assert next(flow).startswith("mail")
    assert flow.send(ReplyParser().feed(b"421 bye\r\n")[0]) is flows.CLOSE
    with pytest.raises(SMTPSenderRefused):
        flow.send(None)


def test_rset_after_refusal_ignores_a_hang_up() -> None:
    # The server refuses the recipients, then hangs up: the caller sees the refusal.
    with pytest.raises(SMTPRecipientsRefused):
        run(flows.sendmail(State(features={}), "a@x", ["b@x"], "hi"), b"250 ok\r\n550 no\r\n")


def test_data_refused_raises_data_error() -> None:
    with pytest.raises(SMTPDataError) as caught:
        run(
            flows.sendmail(State(features={}), "a@x", "b@x", "hi"),
            b"250 ok\r\n250 ok\r\n354 go\r\n554 5.6.0 spam\r\n250 reset\r\n",
        )
    assert caught.value.enhanced_status == "5.6.0"


def test_size_checked_before_mail() -> None:
    with pytest.raises(SMTPSenderRefused) as caught:
        run(flows.sendmail(State(features={"size": "3"}), "a@x", "b@x", "toolong"), b"")
    assert caught.value.smtp_code == 552


def test_lmtp_reads_one_reply_per_accepted_recipient() -> None:
    state = State(lmtp=True, features={})
    result, events = run(
        flows.sendmail(state, "a@x", ["b@x", "c@x", "d@x"], "hi"),
        b"250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n250 b done\r\n452 4.2.2 full\r\n",
    )
    assert result == {"c@x": (550, b"no"), "d@x": (452, b"4.2.2 full")}
    assert events[-1] is flows.READ
    assert [(r, reply.code) for r, reply in state.last_data_replies] == [("b@x", 250), ("d@x", 452)]


def test_lmtp_every_recipient_refused_after_data_is_a_data_error() -> None:
    with pytest.raises(SMTPDataError) as caught:
        run(
            flows.sendmail(State(lmtp=True, features={}), "a@x", ["b@x", "c@x"], "hi"),
            b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n550 b no\r\n551 c no\r\n250 reset\r\n",
        )
    assert caught.value.args == (550, b"b no")


def test_ehlo_falls_back_to_helo() -> None:
    state = State()
    result, events = run(flows.ehlo_or_helo_if_needed(state), b"502 no\r\n250 hi\r\n")
    assert result is None
    assert events == ["ehlo client.test\r\n", "helo client.test\r\n"]
    assert state.helo_resp == b"hi"
    assert not state.does_esmtp


def test_login_prefers_cram_md5_then_falls_back() -> None:
    state = State(features={"auth": " LOGIN PLAIN CRAM-MD5"})
    state.auth_cram_md5 = lambda challenge=None: None if challenge is None else "u digest"  # type: ignore[attr-defined]
    state.auth_plain = lambda challenge=None: "\0u\0p"  # type: ignore[attr-defined]
    result, events = run(
        flows.login(state, "u", "p", True),
        b"334 PDE+\r\n535 5.7.8 no\r\n235 2.7.0 ok\r\n",
    )
    assert result == (235, b"2.7.0 ok")
    assert events[0] == "AUTH CRAM-MD5\r\n"
    assert events[2] == "AUTH PLAIN AHUAcA==\r\n"


def test_login_without_a_known_mechanism() -> None:
    with pytest.raises(SMTPException, match="No suitable authentication method"):
        run(flows.login(State(features={"auth": " GSSAPI"}), "u", "p", True), b"")


def test_xoauth2_failure_dance() -> None:
    state = State(features={})
    with pytest.raises(SMTPException) as caught:
        run(
            auth_flow(state, "xoauth2", xoauth2("u", "t"), True),
            b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n535 5.7.8 bad token\r\n",
        )
    assert caught.value.args == (535, b"5.7.8 bad token")


def test_auth_loop_is_bounded() -> None:
    state = State(features={})
    with pytest.raises(SMTPException, match="infinite loop"):
        run(auth_flow(state, "LOGIN", lambda c=None: "x", False), b"334 \r\n" * 7)


def test_lmtp_421_after_data_closes_even_when_another_refusal_comes_first() -> None:
    state = State(lmtp=True, features={})
    flow = flows.sendmail(state, "a@x", ["b@x", "c@x"], "hi")
    with pytest.raises(SMTPDataError) as caught:
        run(flow, b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n550 b no\r\n421 4.3.2 bye\r\n")
    assert caught.value.args == (550, b"b no")


def test_lmtp_421_after_data_is_a_close_not_a_reset() -> None:
    wire = b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n550 b no\r\n421 4.3.2 bye\r\n"
    events = record(
        flows.sendmail(State(lmtp=True, features={}), "a@x", ["b@x", "c@x"], "hi"), wire
    )
    assert events[-1] is flows.CLOSE
    assert not any(isinstance(e, str) and e.startswith("rset") for e in events)


def test_sendmail_checks_every_argument_before_the_first_command() -> None:
    flow = flows.sendmail(State(features={}), "a@x", ["b@x", "c\x00@x"], "hi")
    with pytest.raises(ValueError, match="prohibited control characters: c\\\\x00@x"):
        next(flow)


def test_overridden_steps_are_called_through_the_client() -> None:
    class Overriding(State):
        def _overrides(self, name: str) -> bool:
            return name in ("rcpt", "data")

    events = record(
        flows.sendmail(Overriding(features={}), "a@x", ["b@x"], "hi"),
        b"250 ok\r\n",
        calls={"rcpt": (250, b"ok"), "data": (250, b"queued")},
    )
    assert events[0] == wire("mail FROM:<a@x>\r\n")
    assert [(e.name, e.args) for e in events[1:]] == [("rcpt", ("b@x", ())), ("data", (b"hi",))]


def test_auth_cancelled_when_the_challenge_cannot_be_answered() -> None:
    def authobject(challenge: bytes | None = None) -> str:
        if challenge is None:
            return "u"
        raise LookupError("no secret")

    flow = auth_flow(State(features={}), "LOGIN", authobject, True)
    assert next(flow) == "AUTH LOGIN dQ==\r\n"
    # The authobject fails on the challenge: "*" cancels the exchange (RFC 4954, 4) ...
    assert flow.send(ReplyParser().feed(b"334 UGFzc3dvcmQ6\r\n")[0]) == "*\r\n"
    # ... and once the server has answered the cancel, the authobject's error is raised.
    with pytest.raises(LookupError):
        flow.send(ReplyParser().feed(b"501 5.7.0 cancelled\r\n")[0])


def test_undecodable_challenge_cancels_too() -> None:
    flow = auth_flow(State(features={}), "LOGIN", lambda c=None: "u", True)
    next(flow)
    assert flow.send(ReplyParser().feed(b"334 abc\r\n")[0]) == "*\r\n"  # bad padding
    with pytest.raises(SMTPAuthenticationError, match="Invalid base64") as caught:
        flow.send(ReplyParser().feed(b"501 cancelled\r\n")[0])
    assert isinstance(caught.value.__cause__, binascii.Error)
    assert caught.value.smtp_code == 334


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("alice\0admin", "s3cret"),
        ("alice", "s3cret\r\nx"),
        ("alice\n", "s3cret"),
        ("alice", "s3\0"),
    ],
)
@pytest.mark.parametrize("mechanism", ["CRAM-MD5", "PLAIN", "LOGIN", "XOAUTH2"])
def test_login_refuses_nul_cr_lf_in_credentials_before_anything(
    mechanism: str, user: str, password: str
) -> None:
    state = State(features={"auth": mechanism})
    flow = flows.login(state, user, password, False)
    with pytest.raises(ValueError, match="NUL, CR or LF") as caught:
        next(flow)  # not one event: nothing for any driver to send
    assert "alice" not in str(caught.value)  # the values are never shown
    assert "s3" not in str(caught.value)


@pytest.mark.parametrize(
    "respond",
    [
        lambda u, p: plain_response(u, p),
        lambda u, p: login_response(u, p, 1),
        lambda u, p: login_response(u, p, 2),
        lambda u, p: cram_md5_response(u, p, b"<1.2@x>"),
        lambda u, p: xoauth2_response(u, p),
        lambda u, p: xoauth2(u, p),
    ],
)
def test_every_mechanism_refuses_nul_cr_lf(respond: Callable[[str, str], object]) -> None:
    for user, password in [("a\0b", "p"), ("a", "p\r"), ("a\n", "p")]:
        with pytest.raises(ValueError, match="NUL, CR or LF"):
            respond(user, password)


def record(
    flow: Generator[Any, Any, Any], wire: bytes, calls: dict[str, Any] | None = None
) -> list[Any]:
    """The events ``flow`` yielded (see :func:`drive`), up to its end or its SMTP error.

    Unlike :func:`run`, an exception from the flow ends the recording instead of propagating,
    so a test can look at what was sent up to the error.
    """
    events: list[Any] = []
    with contextlib.suppress(SMTPException):
        drive(flow, wire, events, calls)
    return events


def test_refused_data_command_resets_so_the_next_sendmail_works() -> None:
    # smtplib raises from data() and leaves MAIL and RCPT standing: its next sendmail meets
    # "503 nested MAIL command". Every other failure of sendmail resets; this one does too.
    wire = b"250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n250 reset\r\n"
    with pytest.raises(SMTPDataError) as caught:
        run(flows.sendmail(State(features={}), "a@x", ["b@x"], "hi"), wire)
    assert caught.value.args == (451, b"4.3.0 try later")
    events = record(flows.sendmail(State(features={}), "a@x", ["b@x"], "hi"), wire)
    assert events[-1] == "rset\r\n"


def test_421_to_the_data_command_closes() -> None:
    wire = b"250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n"
    events = record(flows.sendmail(State(features={}), "a@x", ["b@x"], "hi"), wire)
    assert events[-1] is flows.CLOSE

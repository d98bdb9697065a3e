"""The transactions, run without sockets: a fake driver answers each command from a script.

Only the public core is used (``smtpclient.protocol``), as any driver would.
"""

from __future__ import annotations

import binascii
import contextlib
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpclient import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    xoauth2,
)
from smtpclient import protocol as flows
from smtpclient._auth import cram_md5_response, login_response, plain_response, xoauth2_response
from smtpclient.protocol import CLOSE, Chunk, Close, Hooks, ReplyParser, Send, Session
from tests._support.wire import wire


def State(*, lmtp: bool = False, features: dict[str, str] | None = None) -> Session:
    """A session, greeted with EHLO when ``features`` is given (else not greeted)."""
    return Session(
        local_hostname="client.test",
        ehlo_msg="lhlo" if lmtp else "ehlo",
        lmtp=lmtp,
        ehlo_resp=b"ok" if features is not None else None,
        does_esmtp=features is not None,
        esmtp_features=features or {},
    )


def drive(
    flow: Generator[Any, Any, Any],
    wire: bytes,
    events: list[Any],
) -> Any:
    """Drive ``flow`` to its value, appending what it writes to ``events``.

    A Send of one command is recorded as its line, of several as a tuple of lines; a Chunk as
    the list of its buffers; Close as CLOSE. Replies come from ``wire`` (an exhausted wire is
    a hang-up); every reply on the wire must be read.
    """
    replies = ReplyParser().feed(wire)
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            event = flow.throw(error) if error else flow.send(value)
        except StopIteration as stop:
            assert not replies, f"unread replies: {replies}"
            return stop.value
        value, error = None, None
        if isinstance(event, Send):
            lines = tuple(cmd.line for cmd in event.commands)
            events.append(lines[0] if len(lines) == 1 else lines)
        elif isinstance(event, Chunk):
            events.append([bytes(piece) for piece in event.data])
        elif isinstance(event, Close):
            events.append(CLOSE)
        elif isinstance(event, flows.Read):
            if replies:
                value = replies.pop(0)
            else:
                error = SMTPServerDisconnected("Connection unexpectedly closed")
        elif isinstance(event, flows.ReadUpTo):  # the whole wire is "received" at once
            if replies:
                value, replies = replies[: event.limit], replies[event.limit :]
            else:
                error = SMTPServerDisconnected("Connection unexpectedly closed")


def run(flow: Generator[Any, Any, Any], wire: bytes) -> tuple[Any, list[Any]]:
    """The flow's value and what it wrote (see :func:`drive`)."""
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
        [b"hi\r\n.\r\n"],
    ]
    assert state.last_data_reply.message == b"queued"


def test_sender_refused_resets() -> None:
    with pytest.raises(SMTPSenderRefused) as caught:
        run(flows.sendmail(State(features={}), "a@x", "b@x", "hi"), b"550 no\r\n250 reset\r\n")
    assert caught.value.args == (550, b"no", "a@x")


def test_sender_refused_with_421_closes_instead_of_reset() -> None:
    flow = flows.sendmail(State(features={}), "a@x", "b@x", "hi")
    assert next(flow).commands[0].line.startswith("mail")
    assert flow.send(None) is flows.READ
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
    result, _ = run(
        flows.sendmail(state, "a@x", ["b@x", "c@x", "d@x"], "hi"),
        b"250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n250 b done\r\n452 4.2.2 full\r\n",
    )
    assert result == {"c@x": (550, b"no"), "d@x": (452, b"4.2.2 full")}  # every reply read
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
            flows.auth(state, "xoauth2", xoauth2("u", "t"), True),
            b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n535 5.7.8 bad token\r\n",
        )
    assert caught.value.args == (535, b"5.7.8 bad token")


def test_auth_loop_is_bounded() -> None:
    state = State(features={})
    with pytest.raises(SMTPException, match="infinite loop"):
        run(flows.auth(state, "LOGIN", lambda c=None: "x", False), b"334 \r\n" * 7)


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


def test_replaced_steps_are_taken_through_the_hooks() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def replacement(name: str, result: Any) -> Any:
        def step(*args: Any) -> Any:
            calls.append((name, args))
            yield from ()
            return result

        return step

    hooks = Hooks(rcpt=replacement("rcpt", (250, b"ok")), data=replacement("data", (250, b"q")))
    flow = flows.sendmail(State(features={"pipelining": ""}), "a@x", ["b@x"], "hi", hooks=hooks)
    result, events = run(flow, b"250 ok\r\n")
    assert result == {}
    assert events == [wire("mail FROM:<a@x>\r\n")]  # replaced RCPT/DATA: no pipelining
    assert calls == [("rcpt", ("b@x", ())), ("data", (b"hi",))]


def test_has_extn_hook_decides_size_and_smtputf8() -> None:
    hidden = Hooks(has_extn=lambda name: name != "size")
    _, events = run(
        flows.sendmail(State(features={"size": "100"}), "a@x", ["b@x"], "hi", hooks=hidden),
        b"250 ok\r\n250 ok\r\n354 go\r\n250 q\r\n",
    )
    # The hook hid SIZE (no size=) and claimed everything else, PIPELINING included.
    assert events[0] == (wire("mail FROM:<a@x>\r\n"), wire("rcpt TO:<b@x>\r\n"), "data\r\n")


def test_auth_cancelled_when_the_challenge_cannot_be_answered() -> None:
    def authobject(challenge: bytes | None = None) -> str:
        if challenge is None:
            return "u"
        raise LookupError("no secret")

    events: list[Any] = []
    with pytest.raises(LookupError):
        drive(
            flows.auth(State(features={}), "LOGIN", authobject, True),
            b"334 UGFzc3dvcmQ6\r\n501 5.7.0 cancelled\r\n",
            events,
        )
    # The authobject failed on the challenge: "*" cancelled the exchange (RFC 4954, 4), and
    # once the server had answered the cancel, the authobject's error was raised.
    assert events == ["AUTH LOGIN dQ==\r\n", "*\r\n"]


def test_undecodable_challenge_cancels_too() -> None:
    wire = b"334 abc\r\n501 cancelled\r\n"  # bad padding
    events: list[Any] = []
    with pytest.raises(SMTPAuthenticationError, match="Invalid base64") as caught:
        drive(flows.auth(State(features={}), "LOGIN", lambda c=None: "u", True), wire, events)
    assert events == ["AUTH LOGIN dQ==\r\n", "*\r\n"]
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


def record(flow: Generator[Any, Any, Any], wire: bytes) -> list[Any]:
    """The events ``flow`` yielded (see :func:`drive`), up to its end or its SMTP error.

    Unlike :func:`run`, an exception from the flow ends the recording instead of propagating,
    so a test can look at what was sent up to the error.
    """
    events: list[Any] = []
    with contextlib.suppress(SMTPException):
        drive(flow, wire, events)
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


# -- PIPELINING (RFC 2920) ---------------------------------------------------------------------

PIPELINED = {"pipelining": "", "size": "1000"}


def test_pipelined_sendmail_writes_mail_rcpt_and_data_in_one_batch() -> None:
    result, events = run(
        flows.sendmail(State(features=PIPELINED), "a@x", ["b@x", "c@x"], "hi"),
        b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 queued\r\n",
    )
    assert result == {"c@x": (550, b"5.1.1 no")}
    assert events == [
        (
            wire("mail FROM:<a@x> size=2\r\n"),
            wire("rcpt TO:<b@x>\r\n"),
            wire("rcpt TO:<c@x>\r\n"),
            "data\r\n",
        ),
        [b"hi\r\n.\r\n"],
    ]


def test_pipelining_switched_off_is_lockstep() -> None:
    _, events = run(
        flows.sendmail(State(features=PIPELINED), "a@x", ["b@x"], "hi", pipelining=False),
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    )
    assert events[:3] == [
        wire("mail FROM:<a@x> size=2\r\n"),
        wire("rcpt TO:<b@x>\r\n"),
        "data\r\n",
    ]


def test_no_recipient_accepted_and_data_refused_sends_no_message() -> None:
    wire = b"250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n250 reset\r\n"
    events: list[Any] = []
    with pytest.raises(SMTPRecipientsRefused) as caught:
        drive(flows.sendmail(State(features=PIPELINED), "a@x", ["b@x"], "hi"), wire, events)
    assert caught.value.recipients == {"b@x": (550, b"no")}
    assert events[1:] == ["rset\r\n"]


def test_no_recipient_accepted_but_354_gets_only_the_dot_then_rset() -> None:
    wire = b"250 ok\r\n550 no\r\n354 go\r\n554 5.5.1 empty\r\n250 reset\r\n"
    events: list[Any] = []
    with pytest.raises(SMTPRecipientsRefused):
        drive(flows.sendmail(State(features=PIPELINED), "a@x", ["b@x"], "hi"), wire, events)
    assert events[1:] == [[b".\r\n"], "rset\r\n"]  # not a byte of the message


def test_421_in_the_middle_of_a_batch_closes_without_reading_on() -> None:
    events: list[Any] = []
    with pytest.raises(SMTPRecipientsRefused) as caught:
        drive(
            flows.sendmail(State(features=PIPELINED), "a@x", ["b@x", "c@x", "d@x"], "hi"),
            b"250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n",
            events,
        )
    assert caught.value.recipients == {"c@x": (421, b"4.3.2 bye")}
    assert events[-1] is CLOSE


def test_many_recipients_are_written_in_bounded_batches() -> None:
    recipients = [f"user{i:05}@example.com" for i in range(10_000)]
    wire = b"250 ok\r\n" + b"250 ok\r\n" * len(recipients) + b"354 go\r\n250 queued\r\n"
    result, events = run(flows.sendmail(State(features=PIPELINED), "a@x", recipients, "hi"), wire)
    assert result == {}
    batches = [e for e in events if isinstance(e, tuple)]
    assert len(batches) > 1
    assert all(sum(map(len, batch)) <= flows.PIPELINE_WINDOW for batch in batches)
    assert sum(map(len, batches)) == len(recipients) + 2  # MAIL, every RCPT, DATA, once each


class Responder:
    """A server model: answers each command by its verb, in order, and hangs up after a 421."""

    def __init__(self, mail: int, rcpts: list[int], data: int, finals: list[int]) -> None:
        self.codes = {"mail": [mail], "rcpt": list(rcpts), "data": [data], "rset": [250] * 9}
        self.finals = list(finals)
        self.queue: list[int] = []
        self.closed = False

    def answer(self, verb: str) -> None:
        codes = self.codes.get(verb) or [503]
        self.queue.append(codes.pop(0) if len(codes) > 1 or verb == "rset" else codes[0])

    def drive(self, flow: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                event = flow.throw(error) if error else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(event, Send):
                for cmd in event.commands:
                    self.answer(cmd.verb)
            elif isinstance(event, Chunk):
                self.queue.append(self.finals.pop(0) if len(self.finals) > 1 else self.finals[0])
            elif isinstance(event, Close):
                self.closed = True
            elif isinstance(event, (flows.Read, flows.ReadUpTo)):  # one reply at a time
                if self.closed or not self.queue:
                    error = SMTPServerDisconnected("Connection unexpectedly closed")
                else:
                    code = self.queue.pop(0)
                    self.closed = code == 421
                    value = flows.Reply(code, (b"text",))
                    if isinstance(event, flows.ReadUpTo):
                        value = [value]


def outcome(lmtp: bool, pipelining: bool, script: tuple[Any, ...]) -> Any:
    mail, rcpts, data, finals = script
    features = dict(PIPELINED)
    flow = flows.sendmail(
        State(lmtp=lmtp, features=features),
        "a@x",
        [f"r{i}@x" for i in range(len(rcpts))],
        "hi",
        pipelining=pipelining,
    )
    try:
        return Responder(mail, rcpts, data, finals).drive(flow)
    except SMTPException as exc:
        return (type(exc).__name__, exc.args)


@given(
    lmtp=st.booleans(),
    script=st.tuples(
        st.sampled_from([250, 250, 550, 421]),
        st.lists(st.sampled_from([250, 251, 550, 452, 421]), min_size=1, max_size=4),
        st.sampled_from([354, 354, 554, 503, 421]),
        st.lists(st.sampled_from([250, 250, 554, 452, 421]), min_size=1, max_size=4),
    ),
)
def test_pipelined_results_equal_lockstep_results(lmtp: bool, script: tuple[Any, ...]) -> None:
    # Whatever a server answers, the caller sees the same result or the same exception.
    assert outcome(lmtp, True, script) == outcome(lmtp, False, script)

"""Scripting: every rule kind at every phase, matchers, counts and the shortcuts."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import time

import pytest

from smtpfake import FakeLMTPServer, FakeSMTPServer, Phase, Rule

AUTH_PLAIN = "AUTH PLAIN " + base64.b64encode(b"\0alice\0secret").decode()

# phase -> (commands sent before it, what triggers it, the default reply code)
SCRIPT = {
    Phase.CONNECT: ([], None, 220),
    Phase.EHLO: ([], "EHLO me", 250),
    Phase.HELO: ([], "HELO me", 250),
    Phase.LHLO: ([], "LHLO me", 250),
    Phase.STARTTLS: (["EHLO me"], "STARTTLS", 220),
    Phase.AUTH: (["EHLO me"], AUTH_PLAIN, 235),
    Phase.MAIL: (["EHLO me"], "MAIL FROM:<a@example.com>", 250),
    Phase.RCPT: (["EHLO me", "MAIL FROM:<a@example.com>"], "RCPT TO:<b@example.com>", 250),
    Phase.DATA: (["EHLO me", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>"], "DATA",
                 354),
    Phase.BDAT: (["EHLO me", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>"],
                 "BDAT 6 LAST\r\nbody", 250),
    Phase.END_OF_DATA: (
        ["EHLO me", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"],
        "Subject: s\r\n\r\nbody\r\n.", 250,
    ),
    Phase.RSET: (["EHLO me"], "RSET", 250),
    Phase.NOOP: ([], "NOOP", 250),
    Phase.VRFY: (["EHLO me"], "VRFY <b@example.com>", 252),
    Phase.EXPN: (["EHLO me"], "EXPN staff", 502),
    Phase.HELP: ([], "HELP", 250),
    Phase.QUIT: ([], "QUIT", 221),
}


def _server_for(phase: Phase) -> FakeSMTPServer:
    if phase is Phase.LHLO:
        return FakeLMTPServer()
    return FakeSMTPServer(
        tls="starttls" if phase is Phase.STARTTLS else "none", users={"alice": "secret"}
    )


def _reach(server: FakeSMTPServer, wire, phase: Phase, timeout: float = 2.0):
    """Connect and walk the session up to ``phase``; return the client with it triggered."""
    before, trigger, _ = SCRIPT[phase]
    client = wire(server.address, timeout)
    if phase is not Phase.CONNECT:
        assert client.reply()[0] == 220
    for line in before:
        assert client.cmd(line)[0] < 400, line
    if trigger is not None:
        client.send(trigger + "\r\n")
    return client


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_default_behaviour_at_each_phase(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        client = _reach(server, wire, phase)
        assert client.reply()[0] == SCRIPT[phase][2]


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_reply_at_each_phase_single_and_multi_line(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        rule = server.on(phase).reply(421, ["4.3.2 first line", "second line"])
        client = _reach(server, wire, phase)
        assert client.reply() == (421, ["4.3.2 first line", "second line"])
        assert rule.fired == 1


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_disconnect_at_each_phase(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        server.disconnect_at(phase)
        client = _reach(server, wire, phase)
        assert client.closed_by_peer()
        [session] = server.sessions
        assert session.transcript[-1].direction == "!"
        assert session.transcript[-1].text == f"disconnect at {phase}"


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_hang_at_each_phase_never_replies(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        rule = server.on(phase).hang()
        client = _reach(server, wire, phase, timeout=0.1)
        rule.wait(timeout=2)
        with pytest.raises(socket.timeout):
            client.reply()
    assert client.closed_by_peer()  # stopping the server ended the hang


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_delay_at_each_phase_then_the_default(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        server.on(phase).delay(0.15)
        started = time.monotonic()
        client = _reach(server, wire, phase)
        assert client.reply()[0] == SCRIPT[phase][2]
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_send_raw_at_each_phase(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        server.on(phase).send_raw(b"garbage\xff\r\n")
        client = _reach(server, wire, phase)
        assert client.file.readline() == b"garbage\xff\r\n"


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_accept_at_each_phase_is_the_default(phase: Phase, wire) -> None:
    with _server_for(phase) as server:
        rule = server.on(phase).accept()
        client = _reach(server, wire, phase)
        assert client.reply()[0] == SCRIPT[phase][2]
        assert rule.fired == 1


def test_delay_ends_promptly_when_the_server_stops(wire) -> None:
    server = FakeSMTPServer()
    server.start()
    rule = server.on("NOOP").delay(30)
    client = wire(server.address)
    client.reply()
    client.send("NOOP\r\n")
    rule.wait(timeout=2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    assert client.closed_by_peer()


def test_tempfail_twice_then_accept(server) -> None:
    server.tempfail("MAIL", times=2)
    with smtplib.SMTP(*server.address) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPSenderRefused) as excinfo:
                client.sendmail("a@example.com", ["b@example.com"], "hi")
            assert excinfo.value.smtp_code == 451
        client.sendmail("a@example.com", ["b@example.com"], "hi")
    server.assert_sent(1)


def test_times_rules_fire_in_the_order_added(server, wire) -> None:
    first = server.on("NOOP", times=1).reply(250, "first")
    second = server.on("NOOP", times=1).reply(250, "second")
    server.on("NOOP").reply(250, "always")
    client = wire(server.address)
    client.reply()
    assert [client.cmd("NOOP")[1][0] for _ in range(4)] == ["first", "second", "always", "always"]
    assert (first.fired, second.fired) == (1, 1)
    assert first.spent
    assert second.spent


def test_refuse_recipient_refuses_only_that_one(server) -> None:
    server.refuse_recipient("bob@example.com")
    with smtplib.SMTP(*server.address) as client:
        refused = client.sendmail("a@example.com", ["Bob@Example.com", "carol@example.com"], "hi")
    assert refused == {"Bob@Example.com": (550, b"5.1.1 No such user")}
    assert server.outbox.last.rcpt_tos == ("carol@example.com",)


@pytest.mark.parametrize(
    "matcher",
    [re.compile(r"@blocked\.test$"), lambda address: address.endswith("@blocked.test")],
    ids=["pattern", "callable"],
)
def test_pattern_and_callable_matchers(server, matcher) -> None:
    server.on("RCPT", matcher).reply(550, "5.7.1 blocked")
    with smtplib.SMTP(*server.address) as client:
        refused = client.sendmail("a@example.com", ["x@blocked.test", "y@ok.test"], "hi")
    assert list(refused) == ["x@blocked.test"]


def test_sender_matcher_applies_to_later_phases(server) -> None:
    server.on("DATA", sender="spammer@example.com").reply(554, "5.7.1 no thanks")
    with smtplib.SMTP(*server.address) as client:
        client.sendmail("friend@example.com", ["b@example.com"], "hi")
        with pytest.raises(smtplib.SMTPDataError):
            client.sendmail("spammer@example.com", ["b@example.com"], "hi")
    assert [m.mail_from for m in server.outbox] == ["friend@example.com"]


def test_arg_matches_the_ehlo_name(server, wire) -> None:
    server.on("EHLO", "bad.example").reply(550, "5.7.1 not you")
    client = wire(server.address)
    client.reply()
    assert client.cmd("EHLO good.example")[0] == 250
    assert client.cmd("EHLO bad.example")[0] == 550


def test_scripted_2xx_keeps_the_command_effect(server, wire) -> None:
    server.on("MAIL").reply(250, "2.1.0 sender fine")
    server.on("RCPT").reply(251, "2.1.5 will forward")
    server.on("END_OF_DATA").reply(250, "2.0.0 queued as ABC")
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO me")
    assert client.cmd("MAIL FROM:<a@example.com> SIZE=10") == (250, ["2.1.0 sender fine"])
    assert client.cmd("RCPT TO:<b@example.com>") == (251, ["2.1.5 will forward"])
    assert client.cmd("DATA")[0] == 354
    assert client.cmd("Subject: x\r\n\r\nhi\r\n.") == (250, ["2.0.0 queued as ABC"])
    captured = server.outbox.last
    assert (captured.mail_from, captured.rcpt_tos) == ("a@example.com", ("b@example.com",))
    assert captured.mail_options == ("SIZE=10",)


def test_a_refused_end_of_data_captures_nothing(server) -> None:
    server.on("END_OF_DATA").reply(554, "5.6.0 content rejected")
    with smtplib.SMTP(*server.address) as client, pytest.raises(smtplib.SMTPDataError):
        client.sendmail("a@example.com", ["b@example.com"], "hi")
    server.assert_nothing_sent()


def test_data_disconnect_after_reading_the_message(server, wire) -> None:
    server.disconnect_at("DATA", after_data=True)
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    client.cmd("MAIL FROM:<a@example.com>")
    client.cmd("RCPT TO:<b@example.com>")
    assert client.cmd("DATA")[0] == 354
    client.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    assert client.closed_by_peer()
    server.assert_nothing_sent()
    assert server.sessions[0].transcript[-1].text == "disconnect after the message data"


def test_data_354_reply_text_can_be_scripted(server, wire) -> None:
    server.on("DATA").reply(354, "Go ahead, make my day")
    client = wire(server.address)
    client.reply()
    client.cmd("HELO me")
    client.cmd("MAIL FROM:<a@example.com>")
    client.cmd("RCPT TO:<b@example.com>")
    assert client.cmd("DATA") == (354, ["Go ahead, make my day"])
    assert client.cmd("Subject: x\r\n\r\nhi\r\n.")[0] == 250
    server.assert_sent(1, subject="x")


def test_fail_auth_shortcuts() -> None:
    with FakeSMTPServer(users={"alice": "secret"}, auth_mechanisms=["PLAIN"]) as server:
        server.fail_auth()
        with smtplib.SMTP(*server.address) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as excinfo:
                client.login("alice", "secret")
            assert excinfo.value.smtp_code == 535
        server.reset()
        server.fail_auth(454, "4.7.0 Temporary authentication failure", times=1)
        with smtplib.SMTP(*server.address) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as excinfo:
                client.login("alice", "secret")
            assert excinfo.value.smtp_code == 454
            assert client.login("alice", "secret")[0] == 235


def test_quit_reply_is_followed_by_the_hang_up(server, wire) -> None:
    server.on("QUIT").reply(221, "2.0.0 see you")
    client = wire(server.address)
    client.reply()
    assert client.cmd("QUIT") == (221, ["2.0.0 see you"])
    assert client.closed_by_peer()


def test_unknown_phase_and_bad_arguments_are_refused(server) -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        server.on("CHUNK")
    with pytest.raises(ValueError, match="times"):
        server.on("MAIL", times=0)
    with pytest.raises(ValueError, match="three digits"):
        server.on("MAIL").reply(55)
    with pytest.raises(ValueError, match="CR or LF"):
        server.on("MAIL").reply(550, ["bad\r\ninjection"])
    with pytest.raises(TypeError, match="bytes"):
        server.on("MAIL").send_raw("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        server.on("MAIL").delay(-1)
    builder = server.on("MAIL")
    builder.accept()
    with pytest.raises(RuntimeError, match="already"):
        builder.accept()


def test_phase_names_are_case_insensitive_and_rules_are_listed(server) -> None:
    rule = server.on("rcpt", to="x@example.com").reply(550)
    assert isinstance(rule, Rule)
    assert rule.phase is Phase.RCPT
    assert server.rules == [rule]
    with pytest.raises(TimeoutError, match="fired 0"):
        rule.wait(timeout=0.05)


def test_bare_code_reply(server, wire) -> None:
    server.on("NOOP").reply(250)
    client = wire(server.address)
    client.reply()
    client.send("NOOP\r\n")
    assert client.file.readline() == b"250\r\n"


def test_replies_held_for_a_pipelined_group_are_sent_before_a_stall(server, wire) -> None:
    # Replies to pipelined MAIL/RCPT are batched (RFC 2920); a rule that stalls the next
    # command must not swallow them.
    rule = server.on("DATA").hang()
    client = wire(server.address)
    client.reply()
    client.cmd("EHLO me")
    client.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                "RCPT TO:<c@example.com>\r\nDATA\r\n")
    assert [client.reply()[0] for _ in range(3)] == [250, 250, 250]
    rule.wait()

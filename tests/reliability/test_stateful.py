"""Random sessions: smtpclient against a fake server with random one-shot rules.

A model keeps what the server was scripted to do (a queue of one-shot rules per phase) and what
the session state is (connected, EHLO done, TLS, authenticated, transaction); after every
operation the client's view (the reply, the exception, the refused dict, whether its socket is
open) must be what the model predicts, and the server's capture must hold exactly the messages
the model says were accepted.
"""

from __future__ import annotations

import string
from collections import deque
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import smtpclient
from smtpfake import FakeSMTPServer

ADDRESSES = ("alice@example.com", "bob@example.com", "carol@example.com")
PHASES = ("MAIL", "RCPT", "DATA", "END_OF_DATA", "NOOP")
ACTIONS = (451, 550, 554, "disconnect")
USERS = {"alice": "pw"}
_LINE = st.text(alphabet=string.ascii_letters + string.digits + " .:-", max_size=30)
MESSAGES = st.lists(st.one_of(_LINE, _LINE.map(lambda text: "." + text)), max_size=5).map(
    lambda lines: "".join(line + "\r\n" for line in lines).encode("ascii")
)
# sendmail's docstring: every failure leaves the session clean (RSET, or closed after 421).
# smtplib skips the RSET when DATA itself is refused (data() raises before sendmail's RSET), so
# the transaction stays open and the next sendmail meets "503 nested MAIL": see the report (F7).
RSET_AFTER_REFUSED_DATA = True
Scripted = tuple[Any, str]  # (code or "disconnect", text)


class Disconnected(Exception):
    """The model's way of saying: the server hung up, the client must raise and close."""


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = FakeSMTPServer(tls="starttls", users=USERS)
        self.server.start()
        self.client = smtpclient.SMTP(local_hostname="client.test", timeout=5)
        self.pending: dict[str, deque[Scripted]] = {phase: deque() for phase in PHASES}
        self.expected: list[tuple[str, tuple[str, ...], bytes]] = []
        self.connected = False
        self._new_session()

    def _new_session(self) -> None:
        self.greeted = self.tls = self.authed = self.in_mail = False
        self.rcpts: list[str] = []

    def teardown(self) -> None:
        self.client.close()
        self.server.stop()

    # -- the model ----------------------------------------------------------------------

    def _scripted(self, phase: str) -> Scripted | None:
        queue = self.pending[phase]
        if not queue:
            return None
        action = queue.popleft()
        if action[0] == "disconnect":
            self.connected = False
            raise Disconnected(phase)
        return action

    def _run(self, model: Any, call: Any) -> None:
        """Compute the model's prediction, then compare it with what the client does."""
        if not self.connected:
            try:
                call()
            except smtpclient.SMTPServerDisconnected:
                return
            raise AssertionError("a command on a closed client did not raise")
        try:
            prediction = model()
        except Disconnected:
            prediction = Disconnected
        try:
            outcome: Any = call()
        except smtpclient.SMTPServerDisconnected:
            outcome = Disconnected
        except smtpclient.SMTPException as error:
            outcome = error
        if prediction is Disconnected:
            assert outcome is Disconnected, f"expected a hang-up, got {outcome!r}"
            assert self.client.sock is None
            return
        prediction(outcome)

    # -- scripting ------------------------------------------------------------------------

    @rule(phase=st.sampled_from(PHASES), action=st.sampled_from(ACTIONS))
    def script(self, phase: str, action: Any) -> None:
        if len(self.pending[phase]) >= 3:
            return
        builder = self.server.on(phase, times=1)
        if action == "disconnect":
            builder.disconnect()
            self.pending[phase].append(("disconnect", ""))
        else:
            text = f"{action // 100}.7.{len(self.pending[phase])} scripted {phase}"
            builder.reply(action, text)
            self.pending[phase].append((action, text))

    # -- operations -----------------------------------------------------------------------

    @rule()
    def connect(self) -> None:
        reply = self.client.connect("localhost", self.server.port)
        assert reply == (220, b"smtpfake.test ESMTP smtpfake")
        self.connected = True
        self._new_session()

    @rule()
    def ehlo(self) -> None:
        def model() -> Any:
            def check(outcome: Any) -> None:
                assert outcome[0] == 250
                assert self.client.has_extn("starttls") is (not was_tls)
                assert self.client.has_extn("auth")

            was_tls = self.tls
            self.greeted, self.in_mail, self.rcpts = True, False, []
            return check

        self._run(model, self.client.ehlo)

    @rule()
    def starttls(self) -> None:
        def model() -> Any:
            self.greeted = True
            if self.tls:
                return lambda outcome: _is(outcome, smtpclient.SMTPNotSupportedError)
            self.tls, self.greeted, self.authed = True, False, False
            self.in_mail, self.rcpts = False, []
            return lambda outcome: _equal(outcome, (220, b"Ready to start TLS"))

        self._run(model, lambda: self.client.starttls(context=self.server.client_context()))

    @rule(good=st.booleans())
    def login(self, good: bool) -> None:
        def model() -> Any:
            self.greeted = True
            if self.authed:
                return lambda outcome: _equal(outcome, (503, b"Already authenticated"))
            if not good:
                return lambda outcome: _code(outcome, smtpclient.SMTPAuthenticationError, 535)
            self.authed = True
            return lambda outcome: _equal(outcome, (235, b"2.7.0 Authentication successful"))

        self._run(model, lambda: self.client.login("alice", "pw" if good else "wrong"))

    @rule(sender=st.sampled_from(ADDRESSES))
    def mail(self, sender: str) -> None:
        def model() -> Any:
            scripted = self._scripted("MAIL")
            if scripted is not None:
                return lambda outcome: _equal(outcome, (scripted[0], scripted[1].encode()))
            if not self.greeted or self.in_mail:
                return lambda outcome: _equal_code(outcome, 503)
            self.in_mail, self.rcpts, self.sender = True, [], sender
            return lambda outcome: _equal(outcome, (250, b"OK"))

        self._run(model, lambda: self.client.mail(sender))

    @rule(recipient=st.sampled_from(ADDRESSES))
    def rcpt(self, recipient: str) -> None:
        def model() -> Any:
            scripted = self._scripted("RCPT")
            if scripted is not None:
                return lambda outcome: _equal(outcome, (scripted[0], scripted[1].encode()))
            if not self.greeted or not self.in_mail:
                return lambda outcome: _equal_code(outcome, 503)
            self.rcpts.append(recipient)
            return lambda outcome: _equal(outcome, (250, b"OK"))

        self._run(model, lambda: self.client.rcpt(recipient))

    def _data_model(self, message: bytes) -> Any:
        scripted = self._scripted("DATA")
        if scripted is not None:
            return scripted[0], scripted[1].encode(), "DATA"
        if not self.greeted or not self.in_mail or not self.rcpts:
            return 503, None, "DATA"
        scripted = self._scripted("END_OF_DATA")
        raw = message if message.endswith(b"\r\n") else message + b"\r\n"
        transaction = (self.sender, tuple(self.rcpts), raw)
        self.in_mail, self.rcpts = False, []
        if scripted is not None:
            return scripted[0], scripted[1].encode(), "END"
        self.expected.append(transaction)
        return 250, None, "END"

    @rule(message=MESSAGES)
    def data(self, message: bytes) -> None:
        def model() -> Any:
            code, text, where = self._data_model(message)
            if where == "DATA":
                return lambda outcome: _code(outcome, smtpclient.SMTPDataError, code, text)
            return lambda outcome: (
                _equal(outcome, (code, text)) if text else _equal_code(outcome, code)
            )

        self._run(model, lambda: self.client.data(message))

    @rule()
    def rset(self) -> None:
        def model() -> Any:
            self.in_mail, self.rcpts = False, []
            return lambda outcome: _equal(outcome, (250, b"OK"))

        self._run(model, self.client.rset)

    @rule()
    def noop(self) -> None:
        def model() -> Any:
            scripted = self._scripted("NOOP")
            reply = (scripted[0], scripted[1].encode()) if scripted else (250, b"OK")
            return lambda outcome: _equal(outcome, reply)

        self._run(model, self.client.noop)

    @precondition(lambda self: not self.in_mail)
    @rule(
        sender=st.sampled_from(ADDRESSES),
        recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3),
        message=MESSAGES,
    )
    def sendmail(self, sender: str, recipients: list[str], message: bytes) -> None:
        def model() -> Any:
            self.greeted = True
            scripted = self._scripted("MAIL")
            if scripted is not None:
                code, text = scripted[0], scripted[1].encode()
                return lambda outcome: _code(outcome, smtpclient.SMTPSenderRefused, code, text)
            self.in_mail, self.sender, self.rcpts = True, sender, []
            refused: dict[str, tuple[int, bytes]] = {}
            for recipient in recipients:
                scripted = self._scripted("RCPT")
                if scripted is None:
                    self.rcpts.append(recipient)
                else:
                    refused[recipient] = (scripted[0], scripted[1].encode())
            if not self.rcpts:
                self.in_mail = False
                return lambda outcome: _refused_all(outcome, refused)
            code, text, where = self._data_model(message)
            if where == "END" or RSET_AFTER_REFUSED_DATA:
                self.in_mail, self.rcpts = False, []
            if code != 250:
                return lambda outcome: _code(outcome, smtpclient.SMTPDataError, code, text)
            return lambda outcome: _equal(outcome, refused)

        self._run(model, lambda: self.client.sendmail(sender, recipients, message))

    @rule()
    def quit(self) -> None:
        def model() -> Any:
            self.connected = False
            return lambda outcome: _equal(outcome, (221, b"Bye"))

        self._run(model, self.client.quit)
        assert self.client.sock is None

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def socket_matches_the_model(self) -> None:
        assert (self.client.sock is not None) is self.connected

    @invariant()
    def capture_matches_the_model(self) -> None:
        self.server.check()
        captured = [(m.mail_from, m.rcpt_tos, m.raw) for m in self.server.outbox]
        assert captured == self.expected


def _equal(outcome: Any, expected: Any) -> None:
    assert outcome == expected, f"client gave {outcome!r}, the model expected {expected!r}"


def _equal_code(outcome: Any, code: int) -> None:
    assert isinstance(outcome, tuple), f"client gave {outcome!r}, the model expected a reply"
    assert outcome[0] == code, f"{outcome!r}: expected {code}"


def _is(outcome: Any, kind: type[BaseException]) -> None:
    assert isinstance(outcome, kind), f"client gave {outcome!r}, the model expected {kind}"


def _code(outcome: Any, kind: type[BaseException], code: int, text: bytes | None = None) -> None:
    _is(outcome, kind)
    assert outcome.smtp_code == code, f"{outcome!r}: expected code {code}"
    if text is not None:
        assert outcome.smtp_error == text, f"{outcome!r}: expected {text!r}"


def _refused_all(outcome: Any, refused: dict[str, tuple[int, bytes]]) -> None:
    _is(outcome, smtpclient.SMTPRecipientsRefused)
    assert outcome.recipients == refused


SessionMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25)
test_random_sessions = SessionMachine.TestCase

"""Errors raised in the server thread surface in the test's thread as ServerError."""

from __future__ import annotations

import smtplib
import threading
import time

import pytest

from smtpfake import FakeLMTPServer, FakeSMTPServer, ServerError


def _explode(address: str) -> bool:
    raise ZeroDivisionError(f"matcher blew up on {address}")


def _send_to_exploding_rcpt(server: FakeSMTPServer) -> dict:
    with smtplib.SMTP(*server.address) as client, pytest.raises(
        smtplib.SMTPRecipientsRefused
    ) as excinfo:
        client.sendmail("a@example.com", ["b@example.com", "c@example.com"], "hi")
    return excinfo.value.recipients


def test_a_rule_callable_error_is_reraised_by_check_with_its_traceback() -> None:
    with FakeSMTPServer() as server:
        server.on("RCPT", _explode).reply(550)
        refused = _send_to_exploding_rcpt(server)
        assert {code for code, _ in refused.values()} == {451}
        with pytest.raises(ServerError) as excinfo:
            server.check()
        error = excinfo.value
        assert len(error.tracebacks) == 2  # one per recipient
        assert "ZeroDivisionError: matcher blew up on b@example.com" in str(error)
        assert "_explode" in error.tracebacks[0]
        server.check()  # reported once, then cleared


@pytest.mark.parametrize("check", ["assert_sent", "assert_nothing_sent", "wait_for"])
def test_assertions_and_waiting_reraise_first(check: str) -> None:
    with FakeSMTPServer() as server:
        server.on("RCPT", _explode).reply(550)
        _send_to_exploding_rcpt(server)
        started = time.monotonic()
        call = (lambda: server.wait_for(1, timeout=5)) if check == "wait_for" else getattr(
            server, check
        )
        with pytest.raises(ServerError):
            call()
        assert time.monotonic() - started < 2  # wait_for does not sit out its timeout


def test_wait_for_wakes_up_when_an_error_arrives_while_waiting() -> None:
    with FakeSMTPServer() as server:
        server.on("DATA", to=_explode).reply(550)
        def send() -> None:
            with smtplib.SMTP(*server.address) as client, pytest.raises(smtplib.SMTPDataError):
                client.sendmail("a@example.com", ["b@example.com"], "hi")

        sender = threading.Thread(target=send)
        sender.start()
        try:
            started = time.monotonic()
            with pytest.raises(ServerError, match="matcher blew up"):
                server.wait_for(1, timeout=5)
            assert time.monotonic() - started < 2
        finally:
            sender.join()


def test_stop_reraises_a_pending_error() -> None:
    server = FakeSMTPServer()
    server.start()
    server.on("RCPT", _explode).reply(550)
    _send_to_exploding_rcpt(server)
    with pytest.raises(ServerError):
        server.stop()
    assert not server.running


def test_context_manager_exit_reraises_a_pending_error() -> None:
    server = FakeSMTPServer()
    server.on("RCPT", _explode).reply(550)

    def use() -> None:
        with server:
            _send_to_exploding_rcpt(server)

    with pytest.raises(ServerError):
        use()


def test_the_tests_own_exception_is_not_masked() -> None:
    server = FakeSMTPServer()
    server.on("RCPT", _explode).reply(550)

    def fail() -> None:
        with server:
            _send_to_exploding_rcpt(server)
            raise KeyError("the test's failure")

    with pytest.raises(KeyError, match="the test's failure"):
        fail()
    assert not server.running


def test_reset_discards_pending_errors() -> None:
    with FakeSMTPServer() as server:
        server.on("RCPT", _explode).reply(550)
        _send_to_exploding_rcpt(server)
        server.reset()
        server.check()


def test_lmtp_per_recipient_matcher_error() -> None:
    with FakeLMTPServer() as server:
        server.on("END_OF_DATA", to=_explode).reply(452)
        client = smtplib.LMTP(server.host, server.port)
        try:
            with pytest.raises(smtplib.SMTPDataError) as excinfo:
                client.sendmail("a@example.com", ["b@example.com"], "hi")
            assert excinfo.value.smtp_code == 451
        finally:
            client.close()
        with pytest.raises(ServerError, match="ZeroDivisionError"):
            server.check()


def test_the_session_notes_the_error() -> None:
    with FakeSMTPServer() as server:
        server.on("RCPT", _explode).reply(550)
        _send_to_exploding_rcpt(server)
        transcript = server.sessions[0].format_transcript()
        assert "!: server error: ZeroDivisionError" in transcript
        server.reset()


def test_a_bug_of_ours_surfaces_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real client cannot make smtpfake's own code fail, so the bug is planted: building the
    # EHLO feature list raises, as a broken release would.
    from smtpfake import _protocol

    def broken(self: object) -> list[str]:
        raise RuntimeError("bug in the EHLO reply")

    monkeypatch.setattr(_protocol.FakeSMTPProtocol, "_features", broken)
    with FakeSMTPServer() as server:
        with smtplib.SMTP(*server.address) as client:
            assert client.ehlo()[0] == 451
            assert client.helo()[0] == 250  # the session survives
        with pytest.raises(ServerError, match="bug in the EHLO reply"):
            server.check()


def test_an_error_building_a_connection_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    # Planted as above: the protocol cannot be built, so asyncio would drop the connection
    # silently; the error must still reach the test.
    from smtpfake import _protocol

    original = _protocol.FakeSMTPProtocol.__init__

    def broken(self: _protocol.FakeSMTPProtocol, core: object) -> None:
        original(self, core)  # type: ignore[arg-type]
        raise RuntimeError("cannot build a protocol")

    monkeypatch.setattr(_protocol.FakeSMTPProtocol, "__init__", broken)
    server = FakeSMTPServer()
    server.start()
    try:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtplib.SMTP(*server.address, timeout=2)
    finally:
        with pytest.raises(ServerError, match="cannot build a protocol"):
            server.stop()

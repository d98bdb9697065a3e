"""A failing mail test explains itself: transcripts in the report, server errors fail the test."""

from __future__ import annotations

import pytest

from tests._support.wire import FROM, TO


def test_failed_test_report_has_the_transcript(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_fails(smtp_server):
            smtp_server.refuse_recipient("bob@example.com")
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("alice@example.com", ["bob@example.com"], "Subject: x\\r\\n\\r\\nx")

        def test_passes(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("alice@example.com", ["carol@example.com"], "y")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- smtpfake transcript call -*",
            "smtp_server at 127.0.0.1:*, session 1 of 1 (peer *)",
            "S: 220 *",
            f"C: MAIL {FROM}<alice@example.com>",
            "S: 250 *",
            f"C: RCPT {TO}<bob@example.com>",
            "S: 550 5.1.1 No such user",
        ]
    )
    # Only the failing test is explained; the passing one adds nothing to the report.
    result.stdout.no_fnmatch_line("*carol@example.com*")


def test_transcripts_of_every_server_and_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_two_servers(smtp_server, smtps_server, smtp_client_context):
            for _ in range(2):
                with smtplib.SMTP(*smtp_server.address) as client:
                    client.noop()
            with smtplib.SMTP_SSL("localhost", smtps_server.port, context=smtp_client_context) as c:
                c.noop()
            assert False, "look at the transcripts"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "smtp_server at *, session 1 of 2 (*",
            "smtp_server at *, session 2 of 2 (*",
            "smtps_server at *, session 1 of 1 (*, TLS)",
        ]
    )


def test_show_capture_no_hides_the_transcript(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_fails(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.noop()
            assert False
        """
    )
    result = pytester.runpytest("--show-capture=no")
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*smtpfake transcript*")


def test_error_inside_the_server_fails_an_otherwise_passing_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def bad_matcher(address):
            raise KeyError("bug in the test's own rule")

        def test_looks_fine(smtp_server):
            smtp_server.on("RCPT", bad_matcher).reply(550)
            with smtplib.SMTP(*smtp_server.address) as client:
                try:
                    client.sendmail("a@example.com", ["b@example.com"], "x")
                except smtplib.SMTPException:
                    pass   # the application swallows it, as applications do

        def test_next_test_is_clean(smtp_server):
            smtp_server.check()
        """
    )
    result = pytester.runpytest("-ra")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*error inside the fake server during call",
            "smtp_server: 1 error(s) in the fake server thread; the first:",
            "Traceback (most recent call last):",
            '*raise KeyError("bug in the test\'s own rule")',
            'KeyError: "bug in the test\'s own rule"',
        ]
    )
    result.stdout.fnmatch_lines(["FAILED *::test_looks_fine*"])


def test_server_error_is_shown_when_the_test_failed_anyway(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_fails(smtp_server):
            smtp_server.on("MAIL", lambda sender: 1 / 0).reply(550)
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", ["b@example.com"], "x")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*SMTPSenderRefused*",
            "*- Captured smtpfake error in smtp_server call -*",
            "*ZeroDivisionError: division by zero",
        ]
    )


def test_server_errors_in_setup_and_teardown_fail_that_phase(pytester: pytest.Pytester) -> None:
    # Fixtures of the test suite's own talk to the server before and after the test body: an
    # error the server raises then fails the setup or the teardown, with its traceback; on the
    # session's server and on a server of the test's own (stopping it re-raises the error).
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        def broken_rule(sender):
            raise LookupError(f"rule broke on {sender}")

        def send(server, sender):
            with smtplib.SMTP(*server.address) as client:
                try:
                    client.sendmail(sender, ["b@example.com"], "x")
                except smtplib.SMTPException:
                    pass

        @pytest.fixture
        def sends_in_setup(smtp_server):
            smtp_server.on("MAIL", broken_rule).reply(550)
            send(smtp_server, "setup@example.com")

        @pytest.fixture
        def sends_in_teardown(smtp_server):
            yield
            smtp_server.on("MAIL", broken_rule).reply(550)
            send(smtp_server, "teardown@example.com")

        def test_setup(sends_in_setup):
            raise AssertionError("not reached: setup failed")

        def test_teardown(sends_in_teardown):
            pass

        @pytest.mark.smtpfake(hostname="own.test")
        def test_teardown_own_server(sends_in_teardown):
            pass

        def test_after(smtp_server):
            smtp_server.check()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_setup*",
            "*error inside the fake server during setup",
            "smtp_server: 1 error(s) in the fake server thread; the first:",
            "*LookupError: rule broke on setup@example.com",
            "*smtpfake transcript setup*",
            f"C: MAIL {FROM}<setup@example.com>",
            "*ERROR at teardown of test_teardown *",
            "*error inside the fake server during teardown",
            "*LookupError: rule broke on teardown@example.com",
            "*smtpfake transcript teardown*",
            "*ERROR at teardown of test_teardown_own_server*",
            "*error inside the fake server during teardown",
            "*LookupError: rule broke on teardown@example.com",
            "S: 220 own.test ESMTP smtpfake",
        ]
    )
    result.stdout.no_fnmatch_line("*not reached*")


def test_transcript_when_a_fixture_of_the_suite_fails(pytester: pytest.Pytester) -> None:
    # The test failed before its body (setup) or after it (teardown): the transcript of what the
    # servers saw by then is in that phase's report, and no other phase repeats it.
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.fixture
        def welcomed(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("setup@example.com", ["b@example.com"], "x")
            raise RuntimeError("the fixture gave up")

        @pytest.fixture
        def checked_after(smtp_server):
            yield
            raise RuntimeError("teardown check failed")

        def test_setup_fails(welcomed):
            pass

        def test_teardown_fails(checked_after, smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("body@example.com", ["b@example.com"], "x")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_setup_fails*",
            "*RuntimeError: the fixture gave up",
            "*- smtpfake transcript setup -*",
            f"C: MAIL {FROM}<setup@example.com>",
            "*ERROR at teardown of test_teardown_fails*",
            "*RuntimeError: teardown check failed",
            "*- smtpfake transcript teardown -*",
            f"C: MAIL {FROM}<body@example.com>",
        ]
    )
    assert result.stdout.str().count("smtpfake transcript") == 2

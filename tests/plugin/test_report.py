"""A failing mail test explains itself: transcripts in the report, server errors fail the test."""

from __future__ import annotations

import pytest


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
            "C: MAIL FROM:<alice@example.com>",
            "S: 250 *",
            "C: RCPT TO:<bob@example.com>",
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
            "*error inside the fake server",
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

"""Every failure mode a downstream test needs, one line of scripting each, seen through smtplib."""

from __future__ import annotations

import pytest


def test_auth_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.mark.smtpfake(users={"alice": "secret"})
        def test_permanent(smtp_server):
            smtp_server.fail_auth()
            with smtplib.SMTP(*smtp_server.address) as client:
                with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                    client.login("alice", "secret")
            assert info.value.smtp_code == 535

        @pytest.mark.smtpfake(users={"alice": "secret"})
        def test_temporary_then_ok(smtp_server):
            smtp_server.fail_auth(454, "4.7.0 Try again later", times=1)
            with smtplib.SMTP(*smtp_server.address) as client:
                client.ehlo()
                client.esmtp_features["auth"] = "PLAIN"   # one mechanism, so one attempt
                with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                    client.login("alice", "secret")
                assert info.value.smtp_code == 454
                assert client.login("alice", "secret")[0] == 235
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_hang_up_at_every_phase(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        PHASES = ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "END_OF_DATA"]

        @pytest.mark.parametrize("phase", PHASES)
        def test_hang_up(smtp_server, phase):
            smtp_server.disconnect_at(phase)
            with pytest.raises(smtplib.SMTPServerDisconnected):
                with smtplib.SMTP(*smtp_server.address, timeout=5) as client:
                    client.sendmail("a@example.com", ["b@example.com"], "Subject: x\\r\\n\\r\\nx")
            smtp_server.assert_nothing_sent()
            assert smtp_server.sessions[0].transcript[-1].direction == "!"
        """
    )
    pytester.runpytest().assert_outcomes(passed=6)


def test_partial_recipient_refusal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_partial(smtp_server):
            smtp_server.refuse_recipient("gone@example.com")
            with smtplib.SMTP(*smtp_server.address) as client:
                to = ["ok@example.com", "gone@example.com"]
                refused = client.sendmail("a@example.com", to, "Subject: p\\r\\n\\r\\nx")
            assert refused == {"gone@example.com": (550, b"5.1.1 No such user")}
            assert smtp_server.outbox.last.rcpt_tos == ("ok@example.com",)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_tempfail_then_success(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def send_with_retries(address, attempts):
            # What an application's retry loop does with 4xx replies.
            for attempt in range(1, attempts + 1):
                with smtplib.SMTP(*address) as client:
                    try:
                        client.sendmail("a@example.com", ["b@example.com"], "x")
                        return attempt
                    except smtplib.SMTPSenderRefused as exc:
                        assert exc.smtp_code == 451
            raise AssertionError("never delivered")

        def test_retry(smtp_server):
            smtp_server.tempfail("MAIL", times=2)
            assert send_with_retries(smtp_server.address, attempts=5) == 3
            smtp_server.assert_sent(1)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_slow_replies_and_timeouts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, time
        import pytest

        def test_slow_but_delivered(smtp_server):
            smtp_server.on("DATA").delay(0.3)
            started = time.monotonic()
            with smtplib.SMTP(*smtp_server.address, timeout=5) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: s\\r\\n\\r\\nx")
            assert time.monotonic() - started >= 0.3
            smtp_server.assert_sent(1)

        def test_client_gives_up(smtp_server):
            rule = smtp_server.on("MAIL").hang()
            with smtplib.SMTP(*smtp_server.address, timeout=0.3) as client:
                # smtplib reports a read timeout as a disconnection ("... timed out").
                with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
                    client.sendmail("a@example.com", ["b@example.com"], "x")
            assert rule.fired == 1
            smtp_server.assert_nothing_sent()
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)

"""Rich assertions on captured mail, as a downstream suite writes them (inner runs through
``pytester``): views, criteria, failure reports, the outbox API and the strategies."""

from __future__ import annotations

import re

import pytest

APP = """
import smtplib
from email.message import EmailMessage

def send_reset(address, to, cc=(), bcc=()):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "app@example.com", to, "Reset your password"
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg.set_content("Reset it here: https://app.example.com/reset?token=abc123\\n")
    msg.add_alternative(
        '<p><a href="https://app.example.com/reset?token=abc123">Reset</a> or '
        '<a href="https://app.example.com/help">get help</a></p>', subtype="html")
    msg.add_attachment(b"%PDF-1.7", maintype="application", subtype="pdf",
                       filename="policy.pdf")
    with smtplib.SMTP(*address) as client:
        client.send_message(msg, to_addrs=[to, *cc, *bcc])
"""


def test_views_and_criteria_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=APP,
        test_mail="""
        import re
        from app import send_reset

        def test_reset_mail(smtp_server):
            send_reset(smtp_server.address, "ann@example.org", cc=["boss@example.org"],
                       bcc=["audit@example.org"])
            [mail] = smtp_server.assert_sent(1, subject=re.compile("^Reset"),
                                             body_contains="token=",
                                             html_contains="get help",
                                             has_attachment="policy.pdf")
            assert mail.cc == ("boss@example.org",)
            assert mail.bcc == ("audit@example.org",)
            assert mail.link(matching="reset") == "https://app.example.com/reset?token=abc123"
            assert mail.links[-1] == "https://app.example.com/help"
            [pdf] = mail.attachments
            assert (pdf.filename, pdf.content_type, pdf.content) == (
                "policy.pdf", "application/pdf", b"%PDF-1.7")
            assert mail.headers["subject"] == ("Reset your password",)
            assert smtp_server.outbox.count(has_attachment=True) == 1
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_failure_report_points_at_the_nearest_miss(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=APP,
        test_mail="""
        from app import send_reset

        def test_reset_mail(smtp_server):
            for n in range(30):
                send_reset(smtp_server.address, f"user{n}@example.org")
            smtp_server.assert_sent(to="user7@example.org", html_contains="Welcome")
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * expected at least 1 message(s) matching to='user7@example.org', "
        "html_contains='Welcome', found 0; 30 message(s) captured, the 5 nearest:",
        "E * [[]7[]] from='app@example.com' to=[[]'user7@example.org'[]] *",
        "E * wanted HTML containing 'Welcome' but it reads '<p><a href=*",
    ])
    shown = [line for line in result.outlines if re.match(r"E +\[\d+\] from=", line)]
    assert len(shown) == 5  # the nearest few, not all thirty


def test_undecodable_charset_fails_only_as_an_assertion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        RAW = (b"Subject: odd\\r\\nContent-Type: text/plain; charset=unknown-8bit\\r\\n"
               b"Content-Transfer-Encoding: 8bit\\r\\n\\r\\ncaf\\xe9 ok\\r\\n")

        def test_unknown_charset(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", ["b@example.com"], RAW)
            assert smtp_server.outbox.last.text == "caf\\ufffd ok\\n"
            smtp_server.assert_sent(body_contains="ok")
            smtp_server.assert_sent(body_contains="missing")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * expected at least 1 message(s) matching "
                                 "body_contains='missing', found 0*"])
    assert "LookupError" not in result.stdout.str()


def test_outbox_clear_keeps_rules_and_count_counts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_two_phases(smtp_server):
            smtp_server.refuse_recipient("gone@example.org")
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", ["b@example.org"], "Subject: 1\\r\\n\\r\\nx")
            assert smtp_server.outbox.count() == len(smtp_server.outbox) == 1
            smtp_server.outbox.clear()
            with smtplib.SMTP(*smtp_server.address) as client:
                refused = client.sendmail("a@example.com", ["b@example.org", "gone@example.org"],
                                          "Subject: 2\\r\\n\\r\\nx")
            assert list(refused) == ["gone@example.org"]
            assert smtp_server.outbox.count(subject="2") == 1
            assert smtp_server.outbox.count() == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_strategies_fuzz_a_downstream_sender(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        from hypothesis import HealthCheck, given, settings
        from smtpfake.strategies import email_messages

        @settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(msg=email_messages(international=False, html=True, max_attachments=2))
        def test_app_forwards_anything(smtp_server, msg):
            smtp_server.reset()
            with smtplib.SMTP(*smtp_server.address) as client:
                client.send_message(msg)
            [mail] = smtp_server.wait_for(1)
            assert mail.html is not None
            assert len(mail.attachments) == len(list(msg.iter_attachments()))
            for attachment in mail.attachments:
                smtp_server.assert_sent(1, has_attachment=attachment.filename)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)

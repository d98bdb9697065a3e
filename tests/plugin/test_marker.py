"""``@pytest.mark.smtpfake(...)``: constructor options for the test's own servers."""

from __future__ import annotations

import pytest


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.smtpfake(**options):*"])
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtpfake(esmtp=False)
        def test_strict(): pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_auth_options_and_own_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        SHARED = []

        def test_shared(smtp_server):
            SHARED.append(smtp_server.port)

        @pytest.mark.smtpfake(users={"alice": "secret"}, auth_required=True)
        def test_auth(smtp_server):
            assert smtp_server.port != SHARED[0]   # its own server, not the session's
            with smtplib.SMTP(*smtp_server.address) as client:
                try:
                    client.sendmail("a@example.com", ["b@example.com"], "x")
                except smtplib.SMTPSenderRefused as exc:
                    assert exc.smtp_code == 530
                else:
                    raise AssertionError("MAIL accepted before AUTH")
                client.login("alice", "secret")
                client.sendmail("a@example.com", ["b@example.com"], "Subject: s\\r\\n\\r\\nx")
            assert smtp_server.outbox.last.session.auth_user == "alice"
            SHARED.append(smtp_server)

        def test_shared_again(smtp_server):
            assert smtp_server.port == SHARED[0]
            assert not SHARED[1].running   # the marked test's own server was stopped after it
            with smtplib.SMTP(*smtp_server.address) as client:   # no auth needed here
                client.sendmail("a@example.com", ["b@example.com"], "Subject: s\\r\\n\\r\\nx")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_extension_and_esmtp_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.mark.smtpfake(hide=("PIPELINING", "SMTPUTF8"), size_limit=1000)
        def test_hidden(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.ehlo()
                assert not client.has_extn("pipelining") and not client.has_extn("smtputf8")
                assert client.esmtp_features["size"] == "1000"

        @pytest.mark.smtpfake(esmtp=False)
        def test_no_esmtp(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: h\\r\\n\\r\\nx")
            assert smtp_server.outbox.last.session.helo_name
            assert any(line.text.startswith("HELO") for line in smtp_server.sessions[0].transcript)

        @pytest.mark.smtpfake(tls="starttls", tls_required=True)
        def test_tls_on_smtp_server(smtp_server, smtp_client_context):
            with smtplib.SMTP("localhost", smtp_server.port) as client:
                client.starttls(context=smtp_client_context)
                client.sendmail("a@example.com", ["b@example.com"], "Subject: t\\r\\n\\r\\nx")
            assert smtp_server.outbox.last.session.tls
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_markers_merge_closest_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        pytestmark = pytest.mark.smtpfake(users={"alice": "secret"}, hostname="module.test")

        @pytest.mark.smtpfake(hostname="function.test")
        def test_merged(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                code, text = client.ehlo()
                assert text.startswith(b"function.test")
                assert client.has_extn("auth")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_bad_marker_use_is_a_clear_setup_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtpfake(tls="none")
        def test_conflict(smtp_starttls_server): pass

        @pytest.mark.smtpfake(colour="blue")
        def test_unknown(smtp_server): pass

        @pytest.mark.smtpfake("users")
        def test_positional(smtp_server): pass

        @pytest.mark.smtpfake(auth_required=True)
        def test_invalid(smtp_server): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "*smtp_starttls_server always has tls='starttls'*tls='none'*",
            "*bad smtpfake marker options for smtp_server*colour*",
            "*keyword options only*('users',)*",
            "*bad smtpfake marker options for smtp_server*auth_required needs users*",
        ]
    )

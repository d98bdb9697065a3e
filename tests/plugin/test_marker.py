"""``@pytest.mark.smtpfake(...)``: constructor options for the test's own servers."""

from __future__ import annotations

import inspect

import pytest

from smtpfake import FakeSMTPServer


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

        @pytest.mark.smtpfake(tls_required=True)
        def test_nothing_to_require(smtp_server): pass

        @pytest.mark.smtpfake(host="::1")
        def test_host_of_a_socket(lmtp_unix_server): pass

        @pytest.mark.smtpfake("users")
        def test_positional(smtp_server): pass

        @pytest.mark.smtpfake(auth_required=True)
        def test_invalid(smtp_server): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines(
        [
            "*smtpfake(tls='none') cannot apply to smtp_starttls_server: it always has "
            "tls='starttls' (smtp_server, lmtp_server and lmtp_unix_server take the marker's tls)",
            "*smtpfake(tls_required=True) cannot apply to smtp_server: it has no TLS "
            "(tls='none'), so there is no STARTTLS to require (add tls='starttls' to the marker, "
            "or use smtp_starttls_server)",
            "*smtpfake(host='::1') cannot apply to lmtp_unix_server: it listens on a unix socket*",
            "*keyword options only*('users',)*",
            "*bad smtpfake marker options for smtp_server: auth_required needs users",
        ]
    )
    assert "During handling" not in result.stdout.str()


def test_unknown_option_names_the_valid_ones_and_the_nearest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtpfake(user={"alice": "secret"})
        def test_typo(smtp_server): pass

        @pytest.mark.smtpfake(colour="blue")
        def test_nothing_near(lmtp_server): pass

        @pytest.mark.smtpfake(user={"alice": "secret"})
        def test_typo_with_the_redirect(smtp_redirect): pass

        @pytest.mark.smtpfake(port=2525)
        def test_fixed_port(smtp_server): pass

        @pytest.mark.smtpfake(path="/tmp/x.sock")
        def test_fixed_path(lmtp_unix_server): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=5)
    # Every keyword option of the servers' constructors, except the two the fixtures choose.
    options = set(inspect.signature(FakeSMTPServer).parameters) - {"port", "path"}
    assert {"users", "tls", "tls_required", "hostname", "hide", "esmtp"} <= options
    valid = ", ".join(sorted(options))
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_typo *",
            "unknown smtpfake marker option 'user' (did you mean 'users'?); "
            f"valid options: {valid}",
            "*ERROR at setup of test_nothing_near *",
            f"unknown smtpfake marker option 'colour'; valid options: {valid}",
            "*ERROR at setup of test_typo_with_the_redirect *",
            "unknown smtpfake marker option 'user' (did you mean 'users'?)*",
            "*ERROR at setup of test_fixed_port *",
            "@pytest.mark.smtpfake(port=...) is not a marker option: every fixture listens on an "
            "ephemeral port*",
            "*ERROR at setup of test_fixed_path *",
            "@pytest.mark.smtpfake(path=...) is not a marker option: lmtp_unix_server makes a "
            "fresh socket path*",
        ]
    )
    assert "_BaseServer" not in result.stdout.str()


def test_the_marker_configures_each_redirect_target_it_fits(pytester: pytest.Pytester) -> None:
    # tls_required fits the STARTTLS server SMTP() reaches; SMTP_SSL's implicit-TLS server is
    # all TLS already, and the plain LMTP server has no STARTTLS to require: neither breaks.
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.mark.smtpfake(tls_required=True, users={"app": "pw"})
        def test_every_kind(smtp_redirect):
            with smtplib.SMTP("smtp.example.com", 587, timeout=5) as s:
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    s.sendmail("a@example.com", ["b@example.com"], "x")
                assert refused.value.smtp_code == 530
                s.starttls()
                s.login("app", "pw")
                s.sendmail("a@example.com", ["b@example.com"], "Subject: starttls\\r\\n\\r\\nx")
            with smtplib.SMTP_SSL("smtp.example.com", 465, timeout=5) as s:
                s.login("app", "pw")
                s.sendmail("a@example.com", ["b@example.com"], "Subject: ssl\\r\\n\\r\\nx")
            with smtplib.LMTP("lmtp.example.com", 24, timeout=5) as s:
                s.sendmail("a@example.com", ["b@example.com"], "Subject: lmtp\\r\\n\\r\\nx")
            assert smtp_redirect.smtp.outbox.last.session.auth_user == "app"
            assert smtp_redirect.smtps.outbox.last.session.tls
            assert smtp_redirect.lmtp.outbox.last.subject == "lmtp"

        @pytest.mark.smtpfake(tls="implicit")
        def test_tls_for_the_named_fixture_only(smtp_server, smtp_redirect, smtp_client_context):
            with smtplib.SMTP_SSL("localhost", smtp_server.port, context=smtp_client_context,
                                  timeout=5) as s:
                s.noop()
            with smtplib.SMTP("smtp.example.com", 25, timeout=5) as s:   # still offers STARTTLS
                s.starttls()
                s.noop()
            assert smtp_server.sessions[0].tls and smtp_redirect.smtp.sessions[0].tls
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_marker_error_for_a_redirect_target_fails_setup(pytester: pytest.Pytester) -> None:
    # The redirect starts its servers when the application connects; a bad option must not wait
    # for that (and land inside the application's code).
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtpfake(auth_required=True)
        def test_redirect_only(smtp_redirect):
            raise AssertionError("the test body must not run")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_redirect_only*",
         "bad smtpfake marker options for smtp_starttls_server: auth_required needs users"]
    )

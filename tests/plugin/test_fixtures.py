"""Each fixture, used the way a downstream test suite uses it (inner runs through ``pytester``)."""

from __future__ import annotations

import pytest


def test_smtp_server_captures_mail_sent_with_smtplib(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        from email.message import EmailMessage

        def test_send(smtp_server):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Hi"
            msg.set_content("hello")
            with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
                client.send_message(msg)
            smtp_server.assert_sent(1, to="b@example.com", subject="Hi", body_contains="hello")
            assert smtp_server.outbox.last.mail_from == "a@example.com"
            assert not smtp_server.sessions[0].tls
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_each_test_gets_a_clean_server_on_the_session_listener(pytester: pytest.Pytester) -> None:
    # The first test leaves mail, a rule and a session behind; the second must see none of them,
    # on the same (session-hosted) port.
    pytester.makepyfile(
        """
        import smtplib

        PORTS = []

        def test_dirty(smtp_server):
            PORTS.append(smtp_server.port)
            smtp_server.refuse_recipient("x@example.com")
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", ["b@example.com", "x@example.com"], "1")
            assert len(smtp_server.outbox) == 1

        def test_clean(smtp_server):
            PORTS.append(smtp_server.port)
            smtp_server.assert_nothing_sent()
            assert smtp_server.sessions == [] and smtp_server.rules == []
            with smtplib.SMTP(*smtp_server.address) as client:
                assert client.sendmail("a@example.com", ["x@example.com"], "2") == {}
            assert PORTS[0] == PORTS[1]
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_connection_an_earlier_test_left_open_cannot_deliver_into_the_next(
    pytester: pytest.Pytester,
) -> None:
    # The first test leaves a client half-way through a transaction; at the second test's reset
    # the server hangs up on it, so its DATA fails instead of landing in the second outbox.
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        LEFT_OPEN = []

        def test_leaves_a_client_open(smtp_server):
            client = smtplib.SMTP(*smtp_server.address)
            client.mail("a@example.com")
            client.rcpt("b@example.com")
            LEFT_OPEN.append(client)

        def test_next(smtp_server):
            (client,) = LEFT_OPEN
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.data("Subject: late\\r\\n\\r\\nfrom the first test\\r\\n")
            client.close()
            smtp_server.assert_nothing_sent()
            with smtplib.SMTP(*smtp_server.address) as fresh:
                fresh.sendmail("a@example.com", ["b@example.com"], "Subject: mine\\r\\n\\r\\nx")
            smtp_server.assert_sent(1, subject="mine")
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_starttls_server_and_client_context(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, ssl

        def test_starttls(smtp_starttls_server, smtp_client_context, smtp_ca):
            assert smtp_client_context.verify_mode == ssl.CERT_REQUIRED
            assert smtp_client_context.check_hostname
            assert smtp_starttls_server.ca is smtp_ca
            with smtplib.SMTP("localhost", smtp_starttls_server.port) as client:
                client.ehlo()
                assert client.has_extn("starttls")
                client.starttls(context=smtp_client_context)
                client.sendmail("a@example.com", ["b@example.com"], "Subject: tls\\r\\n\\r\\nx")
            session = smtp_starttls_server.sessions[0]
            assert session.tls and smtp_starttls_server.outbox.last.session.tls

        def test_untrusted_context_is_refused(smtp_starttls_server):
            # A context without the test CA must fail verification: the trust is real.
            with smtplib.SMTP("localhost", smtp_starttls_server.port) as client:
                try:
                    client.starttls(context=ssl.create_default_context())
                except ssl.SSLCertVerificationError:
                    return
            raise AssertionError("the fake server's certificate verified without the test CA")
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_smtps_server_speaks_implicit_tls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_smtps(smtps_server, smtp_client_context):
            with smtplib.SMTP_SSL("localhost", smtps_server.port, context=smtp_client_context) as c:
                c.sendmail("a@example.com", ["b@example.com"], "Subject: smtps\\r\\n\\r\\nx")
            smtps_server.assert_sent(subject="smtps")
            assert smtps_server.sessions[0].tls
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_lmtp_servers_on_tcp_and_unix_socket(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, smtplib, stat
        import smtpclient

        def test_tcp(lmtp_server):
            # smtpclient.LMTP reads one reply per recipient after DATA (smtplib reads one only).
            lmtp_server.on("END_OF_DATA", to="full@example.com").reply(452, "4.2.2 Mailbox full")
            with smtpclient.LMTP(lmtp_server.host, lmtp_server.port) as client:
                to = ["ok@example.com", "full@example.com"]
                refused = client.sendmail("a@example.com", to, "Subject: l\\r\\n\\r\\nx")
            assert refused == {"full@example.com": (452, b"4.2.2 Mailbox full")}
            assert lmtp_server.outbox.last.accepted_for == ("ok@example.com",)

        def test_unix(lmtp_unix_server):
            path = lmtp_unix_server.path
            assert stat.S_ISSOCK(os.stat(path).st_mode)
            with smtplib.LMTP(path) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: unix\\r\\n\\r\\nx")
            lmtp_unix_server.assert_sent(to="b@example.com", subject="unix")
            test_unix.path = path

        def test_unix_socket_removed_after_its_test():
            assert not os.path.exists(test_unix.path)
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_fixtures_share_one_server_per_kind_within_a_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_same(smtp_redirect, smtp_starttls_server, smtps_server, lmtp_server):
            assert smtp_redirect.smtp is smtp_starttls_server
            assert smtp_redirect.smtps is smtps_server
            assert smtp_redirect.lmtp is lmtp_server
            assert len({smtp_starttls_server.port, smtps_server.port, lmtp_server.port}) == 3
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_session_servers_are_stopped_when_the_session_ends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        SEEN = []

        def test_use(smtp_server, smtps_server):
            SEEN.extend([smtp_server, smtps_server])
            assert all(server.running for server in SEEN)
        """
    )
    result = pytester.inline_run()
    result.assertoutcome(passed=1)
    (item,) = [call.item for call in result.getcalls("pytest_runtest_setup")]
    servers = item.module.SEEN
    assert servers
    assert not any(server.running for server in servers)


def test_fixtures_are_listed_with_their_documentation(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    names_and_docs = {
        "smtp_server": "A running plain SMTP ``FakeSMTPServer``*",
        "smtp_starttls_server": "A running ``FakeSMTPServer`` offering STARTTLS*",
        "smtps_server": "A running implicit-TLS (SMTPS)*",
        "lmtp_server": "A running ``FakeLMTPServer`` on TCP*",
        "lmtp_unix_server": "A running ``FakeLMTPServer`` of the test's own on a unix socket*",
        "smtp_ca [[]session scope[]]": "The session's test certificate authority*",
        "smtp_client_context": "A fresh client ``ssl.SSLContext``*",
        "smtp_redirect": "Route every smtplib/smtpclient connection*",
    }
    for name, doc in names_and_docs.items():
        result.stdout.fnmatch_lines([f"{name} -- *plugin.py:*", f"    {doc}"])


def test_a_tests_own_servers_leave_nothing_behind(pytester: pytest.Pytester) -> None:
    # Servers started for one test (the marker, the unix socket) are stopped after it, and the
    # socket's private directory is removed; the session's servers go at the session's end.
    pytester.makepyfile(
        """
        import os
        import pytest

        SEEN = {}

        @pytest.mark.smtpfake(hostname="own.test")
        def test_own(smtp_server, smtps_server, lmtp_server, lmtp_unix_server, smtp_redirect):
            SEEN["own"] = [smtp_server, smtps_server, lmtp_server, lmtp_unix_server]
            SEEN["directory"] = os.path.dirname(lmtp_unix_server.path)

        def test_after():
            assert not any(server.running for server in SEEN["own"])
            assert not os.path.exists(SEEN["directory"])

        def test_shared(smtp_server, lmtp_server):
            SEEN["shared"] = [smtp_server, lmtp_server]
        """
    )
    result = pytester.inline_run()
    result.assertoutcome(passed=3)
    (module,) = {call.item.module for call in result.getcalls("pytest_runtest_setup")}
    assert not any(server.running for server in module.SEEN["shared"])


def test_a_stopped_session_server_is_never_handed_out_again(pytester: pytest.Pytester) -> None:
    # "The mail server is down" is played by stopping the fixture's server: later tests, and
    # the redirect, get running servers.
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        FIXTURES = ("smtp_server", "smtp_starttls_server", "smtps_server", "lmtp_server")
        STOPPED = {}

        @pytest.mark.parametrize("name", FIXTURES)
        def test_mail_server_down(request, name):
            server = request.getfixturevalue(name)
            server.stop()
            STOPPED[name] = server
            with pytest.raises(ConnectionRefusedError):
                smtplib.SMTP(*server.address, timeout=5)

        @pytest.mark.parametrize("name", FIXTURES)
        def test_up_again(request, name, smtp_client_context):
            server = request.getfixturevalue(name)
            assert server.running and server is not STOPPED[name]
            cls = smtplib.SMTP_SSL if name == "smtps_server" else (
                smtplib.LMTP if name == "lmtp_server" else smtplib.SMTP)
            extra = {"context": smtp_client_context} if name == "smtps_server" else {}
            with cls("localhost", server.port, timeout=5, **extra) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: up\\r\\n\\r\\nx")
            server.assert_sent(1, subject="up")

        def test_the_redirect_too(smtp_redirect):
            smtp_redirect.smtp.stop()

        def test_the_redirect_up_again(smtp_redirect):
            with smtplib.SMTP("smtp.example.com", 25, timeout=5) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: up\\r\\n\\r\\nx")
            smtp_redirect.smtp.assert_sent(1)
        """
    )
    pytester.runpytest().assert_outcomes(passed=10)

"""``smtp_redirect`` against application code that only knows smtplib (and hard-codes its host)."""

from __future__ import annotations

import pytest


def test_logging_smtp_handler_with_starttls_and_login(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import logging, logging.handlers
        import pytest

        @pytest.mark.smtpfake(users={"ops": "hunter2"}, auth_required=True)
        def test_error_mail(smtp_redirect):
            handler = logging.handlers.SMTPHandler(
                mailhost=("smtp.example.com", 587),
                fromaddr="app@example.com",
                toaddrs=["ops@example.com"],
                subject="Application error",
                credentials=("ops", "hunter2"),
                secure=(),          # STARTTLS with smtplib's default (unverified) context
                timeout=5,
            )
            handler.handleError = lambda record: pytest.fail("SMTPHandler failed to send")
            logger = logging.getLogger("app")
            logger.addHandler(handler)
            try:
                logger.error("disk full")
            finally:
                logger.removeHandler(handler)
            smtp_redirect.smtp.assert_sent(1, to="ops@example.com", subject="Application error")
            captured = smtp_redirect.smtp.outbox.last
            assert "disk full" in captured.text
            assert captured.session.tls and captured.session.auth_user == "ops"
            assert smtp_redirect.connections == [("smtp.example.com", 587, "smtp")]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_flask_mail_style_starttls_with_the_default_context(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, ssl
        from email.message import EmailMessage
        import pytest

        PEER_NAMES = []

        def send_welcome(to):
            # Application code: verified STARTTLS to a hard-coded host, as Flask-Mail/Django do.
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "noreply@example.com", to, "Welcome"
            msg.set_content("Thanks for signing up.")
            with smtplib.SMTP("smtp.example.com", 587, timeout=5) as s:
                s.starttls(context=ssl.create_default_context())
                PEER_NAMES.extend(v for k, v in s.sock.getpeercert()["subjectAltName"])
                s.login("app", "pw")
                s.send_message(msg)

        @pytest.mark.smtpfake(users={"app": "pw"})
        def test_welcome(smtp_redirect):
            send_welcome("new@example.org")
            smtp_redirect.smtp.assert_sent(to="new@example.org", subject="Welcome")
            assert smtp_redirect.smtp.outbox.last.session.tls
            assert PEER_NAMES == ["smtp.example.com"]    # verified for the name the app asked for
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_django_style_smtp_ssl_and_lmtp(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, ssl

        def test_smtps(smtp_redirect):
            context = ssl.create_default_context()
            with smtplib.SMTP_SSL("mail.example.net", 465, context=context, timeout=5) as s:
                s.sendmail("a@example.com", ["b@example.com"], "Subject: ssl\\r\\n\\r\\nx")
            smtp_redirect.smtps.assert_sent(subject="ssl")
            assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
            assert smtp_redirect.connections == [("mail.example.net", 465, "smtps")]

        def test_lmtp(smtp_redirect):
            with smtplib.LMTP("/var/run/dovecot/lmtp") as s:
                s.sendmail("a@example.com", ["b@example.com"], "Subject: unix\\r\\n\\r\\nx")
            with smtplib.LMTP("lmtp.example.net", 24) as s:
                s.sendmail("a@example.com", ["c@example.com"], "Subject: tcp\\r\\n\\r\\nx")
            assert [m.subject for m in smtp_redirect.lmtp.outbox] == ["unix", "tcp"]
            assert smtp_redirect.connections == [
                ("/var/run/dovecot/lmtp", None, "lmtp"),
                ("lmtp.example.net", 24, "lmtp"),
            ]
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_smtpclient_twins_with_their_verified_default_context(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtpclient

        ORIGINAL = smtpclient.SMTP.default_tls_context

        def test_redirected(smtp_redirect):
            with smtpclient.SMTP("smtp.example.com", 587, timeout=5) as s:
                s.starttls()                       # verified by default, and trusted here
                s.sendmail("a@example.com", ["b@example.com"], "Subject: client\\r\\n\\r\\nx")
            with smtpclient.SMTP_SSL("smtp.example.com", 465, timeout=5) as s:
                s.sendmail("a@example.com", ["b@example.com"], "Subject: ssl\\r\\n\\r\\nx")
            with smtpclient.LMTP("/run/lmtp") as s:
                s.sendmail("a@example.com", ["b@example.com"], "Subject: lmtp\\r\\n\\r\\nx")
            assert smtp_redirect.smtp.outbox.last.session.tls
            assert smtp_redirect.smtps.outbox.last.subject == "ssl"
            assert smtp_redirect.lmtp.outbox.last.subject == "lmtp"
            assert [c.kind for c in smtp_redirect.connections] == ["smtp", "smtps", "lmtp"]

        def test_restored_afterwards():
            assert smtpclient.SMTP.default_tls_context is ORIGINAL
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_redirect_is_undone_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, socket
        import pytest

        def seams():
            return smtplib.SMTP._get_socket, smtplib.SMTP.starttls, smtplib.LMTP.connect

        ORIGINAL = seams()

        def closed_port():
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]

        def test_redirected(smtp_redirect):
            with smtplib.SMTP("127.0.0.1", closed_port(), timeout=5) as s:
                assert s.noop()[0] == 250

        def test_not_redirected():
            assert seams() == ORIGINAL
            with pytest.raises(ConnectionRefusedError):
                smtplib.SMTP("127.0.0.1", closed_port(), timeout=5)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_connections_to_the_tests_own_servers_pass_through(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib, threading

        def test_direct_and_threaded(smtp_redirect, smtp_server):
            with smtplib.SMTP(*smtp_server.address) as s:        # a fake server: not redirected
                s.sendmail("a@example.com", ["b@example.com"], "Subject: direct\\r\\n\\r\\nx")
            errors = []

            def worker():  # application code sending from its own thread
                try:
                    with smtplib.SMTP("smtp.example.com", 25, timeout=5) as s:
                        s.sendmail("a@example.com", ["b@example.com"], "Subject: thread\\n\\nx")
                except Exception as exc:
                    errors.append(exc)

            thread = threading.Thread(target=worker)
            thread.start()
            thread.join(10)
            assert not thread.is_alive() and errors == []
            smtp_server.assert_sent(1, subject="direct")
            smtp_redirect.smtp.assert_sent(1, subject="thread")
            assert smtp_redirect.connections == [("smtp.example.com", 25, "smtp")]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_every_way_of_connecting_is_redirected(pytester: pytest.Pytester) -> None:
    # The same application calls through smtplib and through smtpclient: host and port in the
    # constructor, connect() later, a "host:port" string, default ports, a source address.
    pytester.makepyfile(
        """
        import smtplib
        import pytest
        import smtpclient

        MESSAGE = "Subject: hi\\r\\n\\r\\nx"

        @pytest.fixture(params=["smtplib", "smtpclient"])
        def lib(request):
            return {"smtplib": smtplib, "smtpclient": smtpclient}[request.param]

        def test_connect_later_and_host_port_strings(smtp_redirect, lib):
            client = lib.SMTP(timeout=5)
            client.connect("smtp.example.com:2525")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            client.quit()
            with lib.SMTP("mx.example.com", timeout=5) as client:    # the default port
                client.noop()
            lmtp = lib.LMTP(timeout=5)
            lmtp.connect("lmtp.example.net:24")
            lmtp.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            lmtp.quit()
            with lib.LMTP("lmtp.example.net", timeout=5) as client:  # the default LMTP port
                client.noop()
            with lib.SMTP_SSL("smtps.example.com", timeout=5) as client:  # default port, context
                client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            assert smtp_redirect.connections == [
                ("smtp.example.com", 2525, "smtp"),
                ("mx.example.com", 25, "smtp"),
                ("lmtp.example.net", 24, "lmtp"),
                ("lmtp.example.net", lib.LMTP_PORT, "lmtp"),
                ("smtps.example.com", 465, "smtps"),
            ]
            assert len(smtp_redirect.smtp.outbox) == 1
            assert len(smtp_redirect.lmtp.outbox) == 1
            assert smtp_redirect.smtps.outbox.last.session.tls

        def test_source_address_is_kept(smtp_redirect, lib):
            # Linux routes all of 127.0.0.0/8 to the loopback: 127.0.0.2 is a distinct source.
            with lib.SMTP("smtp.example.com", 587, source_address=("127.0.0.2", 0)) as client:
                client.noop()
            client = lib.SMTP(timeout=5)
            client.connect("smtp.example.com", 587, source_address=("127.0.0.3", 0))
            client.quit()
            assert [s.peer[0] for s in smtp_redirect.smtp.sessions] == ["127.0.0.2", "127.0.0.3"]
            assert len(smtp_redirect.connections) == 2

        def test_the_tests_own_servers_by_any_loopback_name(smtp_redirect, smtp_server, lib):
            for host in ("localhost", "127.0.0.1", smtp_server.host):
                with lib.SMTP(host, smtp_server.port, timeout=5) as client:
                    client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            smtp_server.assert_sent(3)
            assert smtp_redirect.connections == []
            with lib.SMTP("smtp.example.com", smtp_server.port, timeout=5) as client:
                client.noop()     # the same port on another host is somebody else's server
            assert smtp_redirect.connections == [("smtp.example.com", smtp_server.port, "smtp")]
        """
    )
    pytester.runpytest().assert_outcomes(passed=6)


def test_connections_to_every_fixture_of_the_test_pass_through(pytester: pytest.Pytester) -> None:
    # The test's own servers, TCP and unix socket alike, are reached directly; only other
    # addresses are redirected.
    pytester.makepyfile(
        """
        import smtplib
        import smtpclient

        MESSAGE = "Subject: hi\\r\\n\\r\\nx"

        def test_unix_socket(smtp_redirect, lmtp_unix_server):
            for lib in (smtplib, smtpclient):
                with lib.LMTP(lmtp_unix_server.path, timeout=5) as client:
                    client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            lmtp_unix_server.assert_sent(2)
            assert smtp_redirect.connections == []
            with smtplib.LMTP("/run/dovecot/lmtp", timeout=5) as client:   # not the test's
                client.noop()
            assert smtp_redirect.connections == [("/run/dovecot/lmtp", None, "lmtp")]
            assert len(smtp_redirect.lmtp.sessions) == 1

        def test_every_tcp_fixture(smtp_redirect, smtp_server, smtp_starttls_server,
                                   smtps_server, lmtp_server, smtp_client_context):
            with smtplib.SMTP("localhost", smtp_server.port, timeout=5) as client:
                client.noop()
            with smtplib.SMTP("localhost", smtp_starttls_server.port, timeout=5) as client:
                client.starttls(context=smtp_client_context)
            with smtplib.SMTP_SSL("localhost", smtps_server.port, timeout=5,
                                  context=smtp_client_context) as client:
                client.noop()
            with smtplib.LMTP("localhost", lmtp_server.port, timeout=5) as client:
                client.noop()
            assert smtp_redirect.connections == []
            servers = (smtp_server, smtp_starttls_server, smtps_server, lmtp_server)
            assert [len(server.sessions) for server in servers] == [1, 1, 1, 1]
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)

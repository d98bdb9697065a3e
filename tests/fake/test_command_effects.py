"""What a command does, scripted or not: transactions end, STARTTLS starts TLS once, no sender
outside a transaction."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake import FakeLMTPServer, FakeSMTPServer, ServerError


def _greeted(wire, server: FakeSMTPServer, hello: str = "EHLO me"):
    client = wire(server.path or server.address)
    assert client.reply()[0] == 220
    assert client.cmd(hello)[0] == 250
    return client


@pytest.mark.parametrize("kind", ["smtp", "lmtp"])
def test_a_server_error_after_the_data_ends_the_transaction(kind: str, wire) -> None:
    failed: list[str] = []

    def fails_once(rcpt: str) -> bool:
        if not failed:
            failed.append(rcpt)
            raise RuntimeError("the rule's callable broke")
        return False

    server = FakeSMTPServer() if kind == "smtp" else FakeLMTPServer()
    with server:
        server.on("END_OF_DATA", to=fails_once).reply(554)
        client = _greeted(wire, server, "EHLO me" if kind == "smtp" else "LHLO me")
        client.cmd("MAIL FROM:<first@example.com>")
        client.cmd("RCPT TO:<old@example.com>")
        assert client.cmd("DATA")[0] == 354
        assert client.cmd("Subject: one\r\n\r\nlost\r\n.")[0] == 451
        # A fresh transaction: no "503 nested MAIL", none of the failed one's recipients.
        assert client.cmd("MAIL FROM:<second@example.com>")[0] == 250
        assert client.cmd("RCPT TO:<new@example.com>")[0] == 250
        assert client.cmd("DATA")[0] == 354
        assert client.cmd("Subject: two\r\n\r\nkept\r\n.")[0] == 250
        with pytest.raises(ServerError, match="the rule's callable broke"):
            server.check()
        [captured] = server.wait_for(1)
        assert (captured.mail_from, captured.rcpt_tos) == ("second@example.com",
                                                          ("new@example.com",))


def test_a_scripted_2xx_to_rset_clears_the_transaction(server, wire) -> None:
    server.on("RSET").reply(250, "2.0.0 flushed")
    client = _greeted(wire, server)
    client.cmd("MAIL FROM:<old@example.com>")
    client.cmd("RCPT TO:<old@example.com>")
    assert client.cmd("RSET") == (250, ["2.0.0 flushed"])
    assert client.cmd("MAIL FROM:<new@example.com>")[0] == 250
    assert client.cmd("RCPT TO:<new@example.com>")[0] == 250
    assert client.cmd("DATA")[0] == 354
    assert client.cmd("Subject: x\r\n\r\nhi\r\n.")[0] == 250
    captured = server.outbox.last
    assert (captured.mail_from, captured.rcpt_tos) == ("new@example.com", ("new@example.com",))


def test_a_non_2xx_to_rset_leaves_the_transaction(server, wire) -> None:
    server.on("RSET").reply(421, "4.3.2 not now")
    client = _greeted(wire, server)
    client.cmd("MAIL FROM:<old@example.com>")
    assert client.cmd("RSET")[0] == 421
    assert client.cmd("MAIL FROM:<new@example.com>")[0] == 503


def test_a_scripted_220_to_starttls_starts_tls() -> None:
    with FakeSMTPServer(tls="starttls") as server:
        rule = server.on("STARTTLS").reply(220, "2.0.0 scripted go-ahead")
        with smtplib.SMTP("localhost", server.port, timeout=5) as client:
            assert client.starttls(context=server.client_context()) == (
                220, b"2.0.0 scripted go-ahead")
            client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nhi\r\n")
        captured = server.wait_for(1)[0]
        assert rule.fired == 1
        assert captured.session.tls
        text = captured.session.format_transcript()
        assert "S: 220 2.0.0 scripted go-ahead\n!: TLS established" in text


@pytest.mark.parametrize("tls", ["none", "implicit"])
def test_a_scripted_2xx_to_starttls_that_cannot_start_tls_is_a_server_error(
    tls: str, wire
) -> None:
    with FakeSMTPServer(tls=tls) as server:
        server.on("STARTTLS").reply(220, "go ahead")
        if tls == "implicit":
            client = smtplib.SMTP_SSL("localhost", server.port, timeout=5,
                                      context=server.client_context())
            code, _ = client.docmd("STARTTLS")
            assert code == 451
            assert client.noop()[0] == 250  # the connection is still usable
            client.quit()
        else:
            client = _greeted(wire, server)
            assert client.cmd("STARTTLS")[0] == 451
            assert client.cmd("NOOP")[0] == 250
        with pytest.raises(ServerError, match="send_raw"):
            server.check()


def test_a_second_starttls_is_refused_and_the_session_goes_on(wire) -> None:
    with FakeSMTPServer(tls="starttls") as server:
        client = _greeted(wire, server)
        assert client.cmd("STARTTLS")[0] == 220
        client.starttls(server.client_context())
        code, features = client.cmd("EHLO me")
        assert code == 250
        assert "STARTTLS" not in features
        assert client.cmd("STARTTLS") == (554, ["5.5.1 Error: TLS already active"])
        assert client.cmd("MAIL FROM:<a@example.com>")[0] == 250
        assert client.cmd("RCPT TO:<b@example.com>")[0] == 250
        assert client.cmd("DATA")[0] == 354
        assert client.cmd("Subject: x\r\n\r\nhi\r\n.")[0] == 250
        assert client.cmd("QUIT")[0] == 221
        assert server.outbox.last.session.tls
    # stop() raised no ServerError: nothing broke inside the server


def test_starttls_on_an_implicit_tls_connection_is_refused() -> None:
    with FakeSMTPServer(tls="implicit") as server, smtplib.SMTP_SSL(
        "localhost", server.port, timeout=5, context=server.client_context()
    ) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")
        assert client.noop()[0] == 250


def test_a_null_sender_rule_never_fires_outside_a_transaction(server, wire) -> None:
    ehlo = server.on("EHLO", sender="").reply(550, "5.7.1 not outside a transaction")
    rcpt = server.on("RCPT", sender="").reply(550, "5.7.1 not before MAIL")
    noop = server.on("NOOP", sender="").reply(250, "2.0.0 inside a null-sender transaction")
    client = wire(server.address)
    assert client.reply()[0] == 220
    assert client.cmd("EHLO me")[0] == 250
    assert client.cmd("NOOP") == (250, ["OK"])
    assert client.cmd("RCPT TO:<b@example.com>")[0] == 503  # aiosmtpd: need MAIL first
    assert client.cmd("MAIL FROM:<>")[0] == 250
    assert client.cmd("NOOP") == (250, ["2.0.0 inside a null-sender transaction"])
    assert client.cmd("RCPT TO:<b@example.com>") == (550, ["5.7.1 not before MAIL"])
    assert (ehlo.fired, rcpt.fired, noop.fired) == (0, 1, 1)

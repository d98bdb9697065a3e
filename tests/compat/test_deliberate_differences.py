"""Where smtpclient differs from smtplib on purpose (documented in smtpclient._sync).

Each test runs the same conversation on both modules and asserts each one's behaviour: smtplib's
(so the test shows the difference is real) and smtpclient's documented one.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import sys
from typing import Any

import pytest

from tests._support.wire import wire

from ._harness import Conversation, Outcome, candidate, run
from ._peer import HANGUP, TLS_MARK

TLS_EHLO = "250-peer.test\n250-8BITMIME\n250 STARTTLS"
LHLO = "250-peer.test\n250 PIPELINING"


def both(peer: Any, conv: Any) -> tuple[Outcome, Outcome]:
    return run(smtplib, peer, conv), run(candidate(), peer, conv)


class TestDeliberateDifferences:
    def test_starttls_verifies_the_certificate_by_default(
        self, make_peer: Any, server_tls: ssl.SSLContext
    ) -> None:
        peer = make_peer({"EHLO": TLS_EHLO, "STARTTLS": "220 go"}, tls=server_tls)

        def conv(c: Conversation) -> Any:
            return c.smtp().starttls()

        theirs, ours = both(peer, conv)
        assert theirs.error is None  # smtplib accepts a certificate from an unknown CA
        assert TLS_MARK in theirs.sent[0]
        assert ours.error is not None
        assert ours.error.type == "SSLCertVerificationError"
        assert ours.clients[0]["sock is None"] is True

    def test_failed_tls_handshake_leaves_no_socket_behind(
        self, make_peer: Any, server_tls: ssl.SSLContext
    ) -> None:
        """Both refuse an unknown CA; smtplib keeps the dead socket in ``sock``, we close it."""
        peer = make_peer({"EHLO": TLS_EHLO, "STARTTLS": "220 go"}, tls=server_tls)

        def conv(c: Conversation) -> Any:
            return c.smtp().starttls(context=ssl.create_default_context())

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert ours.error is not None
        assert theirs.error.type == ours.error.type == "SSLCertVerificationError"
        assert theirs.clients[0]["sock is None"] is False
        assert ours.clients[0]["sock is None"] is True

    @pytest.mark.skipif(sys.version_info >= (3, 12), reason="smtplib 3.12 removed keyfile/certfile")
    def test_starttls_refuses_context_with_keyfile_before_sending(
        self, make_peer: Any, client_tls: ssl.SSLContext
    ) -> None:
        """smtplib sends STARTTLS, then raises, leaving the server waiting for a handshake."""
        peer = make_peer({"EHLO": TLS_EHLO, "STARTTLS": "220 go"})

        def conv(c: Conversation) -> Any:
            return c.smtp().starttls(keyfile="k.pem", context=client_tls)

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert ours.error is not None
        assert theirs.error.type == ours.error.type == "ValueError"
        assert b"STARTTLS\r\n" in theirs.sent[0]
        assert b"STARTTLS\r\n" not in ours.sent[0]

    def test_refused_data_command_resets_the_transaction(self, make_peer: Any) -> None:
        """smtplib raises without RSET when DATA itself is refused; its next MAIL meets 503."""
        peer = make_peer({"DATA": "554 5.6.0 no thanks"})

        def conv(c: Conversation) -> Any:
            return c.smtp().sendmail("a@example.org", ["b@example.org"], b"hi\r\n")

        theirs, ours = both(peer, conv)
        for out in (theirs, ours):
            assert out.error is not None
            assert out.error.type == "SMTPDataError"
            assert out.error.attrs == {"smtp_code": 554, "smtp_error": b"5.6.0 no thanks"}
        assert b"rset\r\n" not in theirs.sent[0]
        assert b"rset\r\n" in ours.sent[0]

    def test_smtp_ssl_verifies_the_certificate_by_default(
        self, make_peer: Any, server_tls: ssl.SSLContext
    ) -> None:
        peer = make_peer(tls=server_tls, implicit_tls=True)

        def conv(c: Conversation) -> Any:
            return c.smtp(cls="SMTP_SSL").noop()

        theirs, ours = both(peer, conv)
        assert theirs.error is None
        assert theirs.value == (250, b"2.0.0 ok")
        assert ours.error is not None
        assert ours.error.type == "SSLCertVerificationError"

    def test_starttls_checks_the_host_given_to_connect(
        self, make_peer: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
    ) -> None:
        """smtplib checks the constructor's host, which is empty when connect() is used."""
        peer = make_peer({"EHLO": TLS_EHLO, "STARTTLS": "220 go"}, tls=server_tls)

        def conv(c: Conversation) -> Any:
            s = c.smtp(connect=False)
            s.connect(c.host, c.port)
            return s.starttls(context=client_tls)

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert theirs.error.type == "ValueError"  # check_hostname requires server_hostname
        assert ours.error is None
        assert ours.value == (220, b"go")

    def test_plaintext_after_the_starttls_reply_is_discarded(
        self, make_peer: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
    ) -> None:
        injected = b"220 go\r\n250-injected before the handshake\r\n"
        peer = make_peer(
            {"EHLO": [TLS_EHLO, "250 peer.test after TLS"], "STARTTLS": injected}, tls=server_tls
        )

        def conv(c: Conversation) -> Any:
            s = c.smtp()
            s.starttls(context=client_tls)
            return s.ehlo()

        ours = run(candidate(), peer, conv)
        assert ours.error is None
        assert ours.value == (250, b"peer.test after TLS")

    @pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x08"])
    def test_control_characters_are_refused_before_sending(self, make_peer: Any, char: str) -> None:
        def conv(c: Conversation) -> Any:
            s = c.smtp()
            return s.docmd("NOOP", f"x{char}y")

        theirs, ours = both(make_peer(), conv)
        assert theirs.error is None
        assert theirs.sent[0][0] == f"NOOP x{char}y\r\n".encode()
        assert ours.error is not None
        assert ours.error.type == "ValueError"
        assert ours.sent == [[b"[client closed]"]]

    def test_over_long_reply_line(self, make_peer: Any) -> None:
        peer = make_peer({"NOOP": b"250 " + b"x" * 9000 + b"\r\n"})

        def conv(c: Conversation) -> Any:
            c.smtp().noop()

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert (theirs.error.type, theirs.error.args) == (
            "SMTPResponseException",
            (500, "Line too long."),
        )
        assert ours.error is not None
        assert ours.error.type == "SMTPReplyError"
        assert ours.error.is_smtplib_class  # an smtplib.SMTPResponseException
        assert ours.error.attrs["smtp_code"] == 500
        assert ours.clients[0]["sock is None"] is True

    def test_too_many_reply_lines(self, make_peer: Any) -> None:
        many = "\n".join(["250-line"] * 2000 + ["250 end"])
        peer = make_peer({"NOOP": many})

        def conv(c: Conversation) -> Any:
            return c.smtp().noop()

        theirs, ours = both(peer, conv)
        assert theirs.error is None
        assert theirs.value[0] == 250
        assert ours.error is not None
        assert ours.error.type == "SMTPReplyError"
        assert ours.clients[0]["sock is None"] is True

    def test_too_large_reply(self, make_peer: Any) -> None:
        big = "\n".join(["250-" + "y" * 8000] * 100 + ["250 end"])  # 800 KB in 101 lines
        peer = make_peer({"NOOP": big})

        def conv(c: Conversation) -> Any:
            return c.smtp().noop()

        theirs, ours = both(peer, conv)
        assert theirs.error is None
        assert ours.error is not None
        assert ours.error.type == "SMTPReplyError"

    @pytest.mark.parametrize(
        "raw",
        [
            b"25O letter O\r\n",
            b"250-first\r\n251 code changes on the last line\r\n",
            b"\r\n",
            b"2x0 hello\r\n",
        ],
    )
    def test_malformed_reply_is_a_typed_error(self, make_peer: Any, raw: bytes) -> None:
        peer = make_peer({"NOOP": raw})

        def conv(c: Conversation) -> Any:
            return c.smtp().noop()

        theirs, ours = both(peer, conv)
        assert theirs.error is None  # smtplib returns code -1 or takes the last line's code
        assert ours.error is not None
        assert ours.error.type == "SMTPReplyError"
        assert ours.clients[0]["sock is None"] is True

    def test_malformed_greeting_is_a_typed_error(self, make_peer: Any) -> None:
        peer = make_peer({"GREETING": "2x0 hello"})

        def conv(c: Conversation) -> Any:
            return c.smtp(connect=False).connect(c.host, c.port)

        theirs, ours = both(peer, conv)
        assert theirs.value == (-1, b"hello")
        assert ours.error is not None
        assert ours.error.type == "SMTPGreetingError"  # an SMTPReplyError and SMTPConnectError

    def test_malformed_greeting_is_caught_as_a_connect_error(self, make_peer: Any) -> None:
        """The "try the next MX" pattern catches it with either module."""
        peer = make_peer({"GREETING": "2x0 hello"})

        def conv(c: Conversation) -> Any:
            try:
                c.smtp()
            except smtplib.SMTPConnectError as exc:
                return "SMTPConnectError", exc.smtp_code
            return "connected"

        theirs, ours = both(peer, conv)
        assert theirs.value == ours.value == ("SMTPConnectError", -1)

    def test_lmtp_reads_one_reply_per_recipient(self, make_peer: Any) -> None:
        peer = make_peer(
            {"LHLO": LHLO, "EOD": "250 2.0.0 <a> delivered\n452 4.2.2 <b> mailbox full"}
        )

        def conv(c: Conversation) -> Any:
            s = c.smtp(cls="LMTP")
            refused = s.sendmail("x@example.org", ["a@example.org", "b@example.org"], "hi\n")
            return refused, s.noop()

        theirs, ours = both(peer, conv)
        # smtplib reads one reply, so the second one answers its next command.
        assert theirs.value == ({}, (452, b"4.2.2 <b> mailbox full"))
        assert ours.value == (
            {"b@example.org": (452, b"4.2.2 <b> mailbox full")},
            (250, b"2.0.0 ok"),
        )

    def test_lmtp_every_recipient_refused_after_data(self, make_peer: Any) -> None:
        peer = make_peer({"LHLO": LHLO, "EOD": "550 5.1.1 <a> gone\n452 4.2.2 <b> full"})

        def conv(c: Conversation) -> Any:
            s = c.smtp(cls="LMTP")
            s.sendmail("x@example.org", ["a@example.org", "b@example.org"], "hi\n")

        ours = run(candidate(), peer, conv)
        assert ours.error is not None
        assert ours.error.type == "SMTPDataError"
        assert ours.error.attrs["smtp_code"] == 550

    def test_enhanced_status_codes_and_the_data_reply(self, make_peer: Any) -> None:
        peer = make_peer({"MAIL": ["553 5.1.8 bad sender", "250 2.1.0 ok"]})

        def conv(c: Conversation) -> Any:
            s = c.smtp()
            try:
                s.sendmail("a@example.org", ["b@example.org"], "x\n")
            except smtplib.SMTPSenderRefused as exc:
                status = getattr(exc, "enhanced_status", None)
            s.sendmail("a@example.org", ["b@example.org"], "x\n")
            data_reply = getattr(s, "last_data_reply", None)
            return status, data_reply and (data_reply.message, data_reply.enhanced_status)

        theirs, ours = both(peer, conv)
        assert theirs.value == (None, None)
        assert ours.value == ("5.1.8", (b"2.0.0 queued as 4711", "2.0.0"))

    def test_client_side_size_check(self, make_peer: Any) -> None:
        peer = make_peer({"EHLO": "250-peer.test\n250 SIZE 100"})

        def conv(c: Conversation) -> Any:
            c.smtp().sendmail("a@example.org", ["b@example.org"], "x" * 500)

        theirs, ours = both(peer, conv)
        assert theirs.error is None  # the scripted peer accepts it; smtplib sends all 500 bytes
        assert ours.error is not None
        assert ours.error.type == "SMTPSenderRefused"
        assert ours.error.attrs["smtp_code"] == 552
        assert not any(u.startswith(b"mail") for u in ours.sent[0])

    def test_connect_starts_a_new_session(self, make_peer: Any) -> None:
        peer = make_peer({"NOOP": HANGUP})

        def conv(c: Conversation) -> Any:
            s = c.smtp()
            s.ehlo()
            with contextlib.suppress(smtplib.SMTPServerDisconnected):
                s.noop()
            s.connect(c.host, c.port)
            return s.sendmail("a@example.org", ["b@example.org"], "x\n")

        theirs, ours = both(peer, conv)
        # smtplib keeps the old EHLO state and sends MAIL on the new connection without EHLO.
        assert theirs.sent[1][0] == wire(b"mail FROM:<a@example.org>\r\n")
        assert ours.sent[1][0] == b"ehlo client.test\r\n"

    def test_nul_in_a_user_name_is_refused_before_sending(self, make_peer: Any) -> None:
        """smtplib sends it: in PLAIN the NUL makes "admin" the authorization identity."""
        peer = make_peer({"EHLO": "250-peer.test\n250 AUTH PLAIN", "AUTH": "235 2.7.0 ok"})

        def conv(c: Conversation) -> Any:
            return c.smtp().login("admin\0mallory", "s3cret")

        theirs, ours = both(peer, conv)
        assert theirs.value == (235, b"2.7.0 ok")
        assert theirs.sent[0][1].startswith(b"AUTH PLAIN ")
        assert ours.error is not None
        assert ours.error.type == "ValueError"
        assert ours.sent == [[b"[client closed]"]]  # not even EHLO

    def test_challenge_that_is_not_base64(self, make_peer: Any) -> None:
        """smtplib lets binascii.Error out and leaves the server waiting for an answer."""
        peer = make_peer(
            {"EHLO": "250-peer.test\n250 AUTH LOGIN", "AUTH": "334 abc", "AUTH_CONT": "501 no"}
        )

        def conv(c: Conversation) -> Any:
            return c.smtp().login("alice", "s3cret")

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert theirs.error.type == "Error"  # binascii.Error
        assert ours.error is not None
        assert ours.error.type == "SMTPAuthenticationError"
        assert ours.sent[0][2] == b"*\r\n"

    def test_xoauth2_when_it_is_the_only_mechanism(self, make_peer: Any) -> None:
        peer = make_peer({"EHLO": "250-peer.test\n250 AUTH XOAUTH2", "AUTH": "235 2.7.0 ok"})

        def conv(c: Conversation) -> Any:
            return c.smtp().login("alice@example.org", "token")

        theirs, ours = both(peer, conv)
        assert theirs.error is not None
        assert theirs.error.args == ("No suitable authentication method found.",)
        assert ours.value == (235, b"2.7.0 ok")
        assert ours.sent[0][1].startswith(b"AUTH XOAUTH2 ")

"""The client against TLS that goes wrong: injection, no TLS, failed handshakes, wrong certificates.

Real TLS throughout: trustme certificates, the server side in the hostile server's thread or in
smtpfake.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator

import pytest
import trustme

import smtpclient
from smtpfake import CertificateAuthority, FakeSMTPServer
from tests._support import server_context

from ._checks import TIMEOUT, fails_fast, reusable
from ._hostile import HostileServer, Peer

GREETING = b"220 hostile.test ESMTP\r\n"
EHLO_TLS = b"250-hostile.test\r\n250 STARTTLS\r\n"
GREEN_LIGHT = b"220 2.0.0 go ahead\r\n"


def _to_starttls(peer: Peer) -> None:
    peer.send(GREETING)
    peer.expect("EHLO")
    peer.send(EHLO_TLS)
    peer.expect("STARTTLS")


@contextlib.contextmanager
def _connected_to_tls_go_ahead(
    client: smtpclient.SMTP, then: Callable[[Peer], object]
) -> Iterator[HostileServer]:
    """``client`` connected to a server that answers STARTTLS 220, then does ``then(peer)``."""

    def script(peer: Peer) -> None:
        _to_starttls(peer)
        peer.send(GREEN_LIGHT)
        then(peer)

    with HostileServer(script) as server:
        client.connect(server.host, server.port)
        yield server


def _starttls_fails(
    client: smtpclient.SMTP,
    context: ssl.SSLContext,
    expected: type[BaseException] | tuple[type[BaseException], ...],
    why: str,
) -> BaseException:
    return fails_fast(client, lambda: client.starttls(context=context), expected, why)


def test_plaintext_injected_after_starttls_220_is_never_a_reply(
    ca: trustme.CA, client_tls: ssl.SSLContext
) -> None:
    """The injected reply arrives with the 220; after the handshake only TLS replies count."""
    server_side = server_context(ca)

    def script(peer: Peer) -> None:
        _to_starttls(peer)
        peer.send(GREEN_LIGHT + b"250 2.0.0 injected\r\n")
        peer.start_tls(server_side)
        peer.expect("EHLO")
        peer.send(b"250-hostile.test\r\n250 SIZE 1000\r\n")
        peer.expect("NOOP")
        peer.send(b"250 2.0.0 genuine\r\n")
        peer.expect("QUIT")
        peer.send(b"221 2.0.0 bye\r\n")

    with HostileServer(script) as server, smtpclient.SMTP(timeout=TIMEOUT) as client:
        client.connect(server.host, server.port)
        try:
            client.starttls(context=client_tls)
        except ssl.SSLError:  # the injected bytes reached the handshake: refused too
            assert client.sock is None
            return
        assert client.ehlo() == (250, b"hostile.test\nSIZE 1000")
        assert client.noop() == (250, b"2.0.0 genuine")


def test_plaintext_instead_of_tls_after_220(
    client: smtpclient.SMTP, client_tls: ssl.SSLContext, good: FakeSMTPServer
) -> None:
    def plaintext(peer: Peer) -> None:
        peer.read_line()  # the ClientHello (binary; no newline needed before the bound)
        peer.send(b"250 2.0.0 plaintext pretending to be TLS\r\n")

    with _connected_to_tls_go_ahead(client, plaintext):
        _starttls_fails(client, client_tls, ssl.SSLError, "plaintext TLS")
    reusable(client, good)


def test_starttls_220_then_no_handshake(
    client: smtpclient.SMTP, client_tls: ssl.SSLContext, good: FakeSMTPServer
) -> None:
    with _connected_to_tls_go_ahead(client, Peer.stall) as server:
        _starttls_fails(
            client,
            client_tls,
            (TimeoutError, ssl.SSLError, smtpclient.SMTPServerDisconnected),
            "STARTTLS answered 220, then no TLS",
        )
        assert server.client_closed.wait(5)
    reusable(client, good)


def test_tls_handshake_failure_no_common_version(
    ca: trustme.CA, client: smtpclient.SMTP, client_tls: ssl.SSLContext, good: FakeSMTPServer
) -> None:
    server_side = server_context(ca)
    server_side.maximum_version = ssl.TLSVersion.TLSv1_2
    client_tls.minimum_version = ssl.TLSVersion.TLSv1_3

    with _connected_to_tls_go_ahead(client, lambda peer: peer.start_tls(server_side)):
        _starttls_fails(client, client_tls, ssl.SSLError, "no TLS version")
    reusable(client, good)


def test_certificate_for_another_host(
    ca: trustme.CA, client: smtpclient.SMTP, client_tls: ssl.SSLContext, good: FakeSMTPServer
) -> None:
    server_side = server_context(ca, "wrong.example")

    with _connected_to_tls_go_ahead(client, lambda peer: peer.start_tls(server_side)):
        error = _starttls_fails(
            client, client_tls, ssl.SSLCertVerificationError, "certificate for wrong.example"
        )
        assert "wrong.example" in str(error) or "mismatch" in str(error)
    reusable(client, good)


@pytest.fixture
def tls_fake() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer(tls="starttls") as server:
        yield server


def test_certificate_from_an_untrusted_ca_via_smtpfake(
    client: smtpclient.SMTP,
    client_tls: ssl.SSLContext,
    tls_fake: FakeSMTPServer,
    good: FakeSMTPServer,
) -> None:
    """client_tls trusts this module's CA, not smtpfake's."""
    client.connect("localhost", tls_fake.port)
    fails_fast(
        client,
        lambda: client.starttls(context=client_tls),
        ssl.SSLCertVerificationError,
        "untrusted CA",
    )
    tls_fake.check()
    assert tls_fake.sessions[0].tls is False
    reusable(client, good)


def test_implicit_tls_against_a_plaintext_server(good: FakeSMTPServer) -> None:
    ca = CertificateAuthority.shared()

    def script(peer: Peer) -> None:
        peer.send(GREETING)

    with FakeSMTPServer(tls="implicit", ca=ca) as tls_good:
        client = smtpclient.SMTP_SSL(timeout=TIMEOUT, context=ca.client_context())
        try:
            with HostileServer(script) as server:
                fails_fast(
                    client,
                    lambda: client.connect("localhost", server.port),
                    ssl.SSLError,
                    "SMTP_SSL against plaintext",
                )
            reusable(client, tls_good)
        finally:
            client.close()

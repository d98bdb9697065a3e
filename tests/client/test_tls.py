"""TLS: STARTTLS and implicit TLS verified by default, against trustme certificates."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme

import smtpclient
from smtpclient import _tls
from tests._support import server_context

from ._servers import Server, StartServer

LOCAL = "client.test"


@pytest.fixture
def trusting_default(monkeypatch: pytest.MonkeyPatch, client_tls: ssl.SSLContext) -> ssl.SSLContext:
    """Make the process-wide default context trust the test CA (as the pytest plugin does)."""
    monkeypatch.setattr(_tls, "_context", client_tls)
    return client_tls


def test_default_context_is_verified_and_cached() -> None:
    context = _tls.default_context()
    assert context is _tls.default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_starttls_with_default_context(
    start_server: StartServer, server_tls: ssl.SSLContext, trusting_default: ssl.SSLContext
) -> None:
    server = start_server(starttls=server_tls)
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert smtp.starttls()[0] == 220
        assert smtp.ehlo_resp is None
        assert smtp.esmtp_features == {}
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sendmail("a@example.com", "b@example.com", "secret") == {}
    assert server.handler.messages[0].content == b"secret\r\n"


def open_tls(mode: str, server: Server, context: ssl.SSLContext) -> smtpclient.SMTP:
    """A client in TLS with ``server``: STARTTLS or implicit TLS (``mode``, as start_server)."""
    if mode == "implicit_tls":
        return smtpclient.SMTP_SSL(server.host, server.port, local_hostname=LOCAL, context=context)
    smtp = smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL)
    try:
        smtp.starttls(context=context)
    except BaseException:
        smtp.close()
        raise
    return smtp


# An unknown CA is refused in test_against_smtpfake.py (STARTTLS and implicit TLS alike).


@pytest.mark.parametrize("mode", ["starttls", "implicit_tls"])
def test_certificate_for_another_host_name_fails(
    mode: str, start_server: StartServer, ca: trustme.CA, client_tls: ssl.SSLContext
) -> None:
    server = start_server(**{mode: server_context(ca, "mail.other.example")})
    with pytest.raises(ssl.SSLCertVerificationError, match=r"mismatch|match"):
        open_tls(mode, server, client_tls).quit()


def test_the_name_checked_is_the_one_given_to_connect(
    start_server: StartServer, client_tls: ssl.SSLContext, server_tls: ssl.SSLContext
) -> None:
    server = start_server(starttls=server_tls)
    smtp = smtpclient.SMTP(local_hostname=LOCAL)  # no host in the constructor
    try:
        smtp.connect("localhost", server.port)
        smtp.starttls(context=client_tls)
        assert smtp.sock.server_hostname == "localhost"  # type: ignore[union-attr]
        smtp.quit()
    finally:
        smtp.close()


def test_an_unverified_context_can_still_be_passed(
    start_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    server = start_server(starttls=server_tls)
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert smtp.starttls(context=ssl._create_unverified_context())[0] == 220
        assert smtp.noop()[0] == 250


def test_starttls_not_supported(start_server: StartServer) -> None:
    server = start_server()
    with (
        smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp,
        pytest.raises(smtpclient.SMTPNotSupportedError),
    ):
        smtp.starttls()


def test_smtp_ssl_default_context_verifies(
    start_server: StartServer, server_tls: ssl.SSLContext, trusting_default: ssl.SSLContext
) -> None:
    server = start_server(implicit_tls=server_tls)
    with smtpclient.SMTP_SSL(server.host, server.port, local_hostname=LOCAL) as smtp:
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sock.context is trusting_default  # the cached default, not built again
        assert smtp.sendmail("a@example.com", "b@example.com", "over tls") == {}
    assert len(server.handler.messages) == 1


def test_smtp_ssl_context_is_the_objects_own(
    start_server: StartServer, server_tls: ssl.SSLContext, trusting_default: ssl.SSLContext
) -> None:
    """Legacy code turns verification off on ``.context``: only that object is affected."""
    legacy, other = smtpclient.SMTP_SSL(), smtpclient.SMTP_SSL()
    assert legacy.context is not other.context
    assert legacy.context is not _tls.default_context()
    legacy.context.check_hostname = False
    legacy.context.verify_mode = ssl.CERT_NONE
    assert _tls.default_context().verify_mode == ssl.CERT_REQUIRED
    assert other.context.verify_mode == ssl.CERT_REQUIRED
    assert other.context.check_hostname
    # An unrelated STARTTLS with the default context still refuses an untrusted certificate.
    untrusted = server_context(trustme.CA())
    server = start_server(starttls=untrusted)
    with (
        smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls()
    # ... and the legacy object itself connects as it asked, unverified.
    implicit = start_server(implicit_tls=untrusted)
    legacy.connect(implicit.host, implicit.port)
    try:
        assert legacy.noop()[0] == 250
    finally:
        legacy.close()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, ca: trustme.CA) -> list[ssl.SSLContext]:
    """A fresh process-wide default, built as smtpclient builds it; every build is recorded."""
    contexts: list[ssl.SSLContext] = []
    original = ssl.create_default_context

    def build(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if args or kwargs:  # a server context, or a client one with its own CA file
            return original(*args, **kwargs)
        # The client default: stands in for the system store, trusting the test CA.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ca.configure_trust(context)
        contexts.append(context)
        return context

    monkeypatch.setattr(_tls, "_context", None)
    monkeypatch.setattr(ssl, "create_default_context", build)
    return contexts


def test_tls_socket_does_not_expose_the_default_context(
    start_server: StartServer, server_tls: ssl.SSLContext, built: list[ssl.SSLContext]
) -> None:
    """``smtp.sock.context`` after a default STARTTLS: adjusting it changes no other connection."""
    server = start_server(starttls=server_tls)
    with smtpclient.SMTP(server.host, server.port, local_hostname=LOCAL) as smtp:
        smtp.starttls()
        assert isinstance(smtp.sock, ssl.SSLSocket)
        exposed = smtp.sock.context
        assert exposed is not _tls.default_context()
        exposed.check_hostname = False
        exposed.verify_mode = ssl.CERT_NONE
        assert smtp.noop()[0] == 250  # the connection keeps the context it was made with
    assert _tls.default_context().verify_mode == ssl.CERT_REQUIRED
    untrusted = start_server(starttls=server_context(trustme.CA()))
    with (
        smtpclient.SMTP(untrusted.host, untrusted.port, local_hostname=LOCAL) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls()


def test_default_context_is_built_once_for_all_connections(
    start_server: StartServer, server_tls: ssl.SSLContext, built: list[ssl.SSLContext]
) -> None:
    plain = start_server(starttls=server_tls)
    implicit = start_server(implicit_tls=server_tls)
    for _ in range(3):
        with smtpclient.SMTP_SSL(implicit.host, implicit.port, LOCAL) as smtps:
            assert smtps.noop()[0] == 250
        with smtpclient.SMTP(plain.host, plain.port, local_hostname=LOCAL) as smtp:
            assert smtp.starttls()[0] == 220
    assert len(built) == 1
    assert smtpclient.SMTP_SSL().context is not built[0]  # reading .context builds its own
    assert len(built) == 2


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="smtplib 3.12 removed keyfile/certfile")
def test_tls_argument_checks() -> None:
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="mutually exclusive"):
        smtpclient.SMTP_SSL(keyfile="k.pem", context=context)
    with pytest.raises(ValueError, match="mutually exclusive"):
        smtpclient.SMTP(local_hostname=LOCAL).starttls(certfile="c.pem", context=context)


def test_plaintext_sent_before_the_handshake_is_discarded(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    """A man in the middle appends a forged reply to the 220: it must never be read."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                reader = conn.makefile("rb")
                conn.sendall(b"220 hi\r\n")
                reader.readline()  # EHLO
                conn.sendall(b"250-hi\r\n250 STARTTLS\r\n")
                reader.readline()  # STARTTLS
                conn.sendall(b"220 go ahead\r\n250 INJECTED\r\n")
                with server_tls.wrap_socket(conn, server_side=True) as tls:
                    tls_reader = tls.makefile("rb")
                    tls_reader.readline()  # EHLO again, over TLS
                    tls.sendall(b"250 real\r\n")
                    tls_reader.readline()  # QUIT
                    tls.sendall(b"221 bye\r\n")
        except BaseException as exc:  # surfaced in the test below
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with smtpclient.SMTP("127.0.0.1", port, local_hostname=LOCAL) as smtp:
            smtp.starttls(context=client_tls)
            assert smtp.ehlo() == (250, b"real")
    finally:
        thread.join(5)
        listener.close()
    assert not errors


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="smtplib 3.12 removed keyfile/certfile")
def test_keyfile_and_certfile_are_deprecated_and_blame_the_caller(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with (
        pytest.warns(DeprecationWarning, match="keyfile and certfile") as warned,
        pytest.raises(FileNotFoundError),
    ):
        smtpclient.SMTP_SSL(certfile=missing)
    assert warned[0].filename == __file__


def test_patching_tls_default_context_alone_reaches_starttls_and_smtp_ssl(
    monkeypatch: pytest.MonkeyPatch,
    start_server: StartServer,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
) -> None:
    # The one patch point a harness needs (the pytest plugin replaces this attribute).
    asked: list[str] = []

    def trusting() -> ssl.SSLContext:
        asked.append("default_context")
        return client_tls

    monkeypatch.setattr(_tls, "default_context", trusting)
    plain = start_server(starttls=server_tls)
    implicit = start_server(implicit_tls=server_tls)
    with smtpclient.SMTP(plain.host, plain.port, local_hostname=LOCAL) as smtp:
        assert smtp.starttls()[0] == 220
    with smtpclient.SMTP_SSL(implicit.host, implicit.port, LOCAL) as smtps:
        assert smtps.noop()[0] == 250
    assert asked == ["default_context", "default_context"]

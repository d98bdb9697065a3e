"""The pytest plugin: fake-server fixtures, the ``smtpfake`` marker and the failure report.

Fixtures (all function-scoped, each yielding the ``smtpfake`` object itself):

* ``smtp_server``: a plain ``FakeSMTPServer``; ``smtp_starttls_server``: one offering STARTTLS;
  ``smtps_server``: implicit TLS; ``lmtp_server``: a ``FakeLMTPServer`` on TCP;
  ``lmtp_unix_server``: one on a unix socket (``server.path``).
* ``smtp_ca`` (session): the test CA; ``smtp_client_context``: an ``ssl.SSLContext`` trusting it.
* ``smtp_redirect``: every smtplib/smtpclient connection reaches the test's fake servers.

``@pytest.mark.smtpfake(**options)`` gives the test servers built with those constructor options;
without it a test borrows the session's servers, reset for it. When a test fails, the SMTP
transcripts of its servers are added to the report; an error inside a server fails the test.
Nothing here imports the fake server until a fixture is used (see ``_loading``).
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from ._hosting import Hosting, TestServers, marker_options
from ._loading import import_smtpfake
from ._redirect import Redirect

if TYPE_CHECKING:
    from smtpfake import CertificateAuthority, FakeLMTPServer, FakeSMTPServer

    from ._hosting import AnyServer

_SERVERS = pytest.StashKey[TestServers]()

MARKER_HELP = (
    "smtpfake(**options): configure this test's fake servers with FakeSMTPServer/FakeLMTPServer "
    "options, e.g. users={'alice': 'secret'}, auth_required=True, hide=('PIPELINING',), "
    "esmtp=False; the test gets servers of its own"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_ca() -> CertificateAuthority:
    """The session's test certificate authority (trustme, ECDSA), shared by every TLS server.

    It is smtpfake's process-wide CA (``CertificateAuthority.shared()``), so servers a test
    builds itself use it too.
    """
    smtpfake = import_smtpfake()
    ca: CertificateAuthority = smtpfake.CertificateAuthority.shared()
    return ca


@pytest.fixture
def smtp_client_context(smtp_ca: CertificateAuthority) -> ssl.SSLContext:
    """A fresh client ``ssl.SSLContext`` that trusts the test CA and verifies host names."""
    return smtp_ca.client_context()


@pytest.fixture(scope="session")
def _smtpfake_hosting() -> Iterator[Hosting]:
    hosting = Hosting(import_smtpfake())
    try:
        yield hosting
    finally:
        hosting.close()


@pytest.fixture
def _smtpfake_servers(
    request: pytest.FixtureRequest, _smtpfake_hosting: Hosting
) -> Iterator[TestServers]:
    servers = TestServers(_smtpfake_hosting, marker_options(request.node))
    request.node.stash[_SERVERS] = servers
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def smtp_server(_smtpfake_servers: TestServers) -> FakeSMTPServer:
    """A running plain SMTP ``FakeSMTPServer`` with no mail and no rules from earlier tests."""
    server: FakeSMTPServer = _smtpfake_servers.get("smtp")  # type: ignore[assignment]
    return server


@pytest.fixture
def smtp_starttls_server(_smtpfake_servers: TestServers) -> FakeSMTPServer:
    """A running ``FakeSMTPServer`` offering STARTTLS with a certificate from ``smtp_ca``."""
    server: FakeSMTPServer = _smtpfake_servers.get("starttls")  # type: ignore[assignment]
    return server


@pytest.fixture
def smtps_server(_smtpfake_servers: TestServers) -> FakeSMTPServer:
    """A running implicit-TLS (SMTPS) ``FakeSMTPServer`` with a certificate from ``smtp_ca``."""
    server: FakeSMTPServer = _smtpfake_servers.get("smtps")  # type: ignore[assignment]
    return server


@pytest.fixture
def lmtp_server(_smtpfake_servers: TestServers) -> FakeLMTPServer:
    """A running ``FakeLMTPServer`` on TCP (``server.address``)."""
    server: FakeLMTPServer = _smtpfake_servers.get("lmtp")  # type: ignore[assignment]
    return server


@pytest.fixture
def lmtp_unix_server(_smtpfake_servers: TestServers) -> FakeLMTPServer:
    """A running ``FakeLMTPServer`` of the test's own on a unix socket (``server.path``)."""
    server: FakeLMTPServer = _smtpfake_servers.get("lmtp_unix")  # type: ignore[assignment]
    return server


@pytest.fixture
def smtp_redirect(
    _smtpfake_servers: TestServers, smtp_ca: CertificateAuthority
) -> Iterator[Redirect]:
    """Route every smtplib/smtpclient connection, to any host and port, to this test's servers.

    ``SMTP`` reaches ``smtp_redirect.smtp`` (offers STARTTLS), ``SMTP_SSL`` reaches
    ``smtp_redirect.smtps``, ``LMTP`` (TCP or unix socket path) reaches ``smtp_redirect.lmtp``.
    TLS contexts the application uses are made to trust ``smtp_ca``; see ``_redirect``.
    """
    redirect = Redirect(_smtpfake_servers.get, smtp_ca)

    def own_addresses() -> set[tuple[str, int]]:
        return {
            (server.address[0], server.address[1])
            for _, server in _smtpfake_servers.labelled()
            if getattr(server, "path", None) is None
        }

    with pytest.MonkeyPatch.context() as patch:
        redirect.install(patch, own_addresses, _smtpfake_servers.hosting.trusting_context)
        yield redirect


# -- hooks: server errors and transcripts ----------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a test whose servers raised inside their thread, with the server's traceback."""
    servers = item.stash.get(_SERVERS, None)
    try:
        result = yield
    except BaseException:
        # The test failed on its own; the servers' errors are evidence, not the verdict.
        if servers is not None:
            for label, error in servers.errors():
                item.add_report_section("call", f"smtpfake error in {label}", str(error))
        raise
    errors = servers.errors() if servers is not None else []
    if errors:
        # The server's traceback is the message; the plugin's frames would only hide it.
        text = "\n".join(f"{label}: {error}" for label, error in errors)
        pytest.fail(f"error inside the fake server\n{text}", pytrace=False)
    return result


def _transcripts(labelled: list[tuple[str, AnyServer]]) -> str:
    parts: list[str] = []
    for label, server in labelled:
        sessions = list(server.sessions)
        path = getattr(server, "path", None)
        where = path if path is not None else f"{server.host}:{server.port}"
        for number, session in enumerate(sessions, start=1):
            details = [f"peer {session.peer}"]
            if session.tls:
                details.append("TLS")
            if session.auth_user:
                details.append(f"user {session.auth_user!r}")
            parts.append(
                f"{label} at {where}, session {number} of {len(sessions)} "
                f"({', '.join(details)})\n{session.format_transcript().rstrip()}"
            )
    return "\n\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the SMTP transcript of a failed test's servers to its report."""
    report = yield
    servers = item.stash.get(_SERVERS, None)
    if report.failed and servers is not None:
        text = _transcripts(servers.labelled())
        if text:
            report.sections.append((f"smtpfake transcript {report.when}", text))
    return report

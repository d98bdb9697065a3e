"""The pytest plugin: fake-server fixtures, the ``smtpfake`` marker and the failure report.

Fixtures (all function-scoped, each returning the ``smtpfake`` object itself):

* ``smtp_server``: a plain ``FakeSMTPServer``; ``smtp_starttls_server``: one offering STARTTLS;
  ``smtps_server``: implicit TLS; ``lmtp_server``: a ``FakeLMTPServer`` on TCP;
  ``lmtp_unix_server``: one on a unix socket (``server.path``).
* ``smtp_ca`` (session): the test CA; ``smtp_client_context``: an ``ssl.SSLContext`` trusting it.
* ``smtp_redirect``: every smtplib/smtpclient connection reaches the test's fake servers.

``@pytest.mark.smtpfake(**options)`` gives the test servers built with those constructor options;
without it a test borrows the session's servers, reset for it (see ``_hosting``). When a test
fails, in setup, call or teardown, the SMTP transcripts of its servers are added to that phase's
report; an error inside a server fails the phase it happened in, with the server's traceback.
Nothing here imports the fake server until a fixture is used (see ``_dependencies``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from ._dependencies import import_smtpfake, require_tls
from ._hosting import KINDS, Hosting, TestServers, marker_options
from ._redirect import TARGETS, Redirect
from ._report import transcripts

if TYPE_CHECKING:
    from smtpfake import CertificateAuthority, ServerError

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
    require_tls()
    ca: CertificateAuthority = smtpfake.CertificateAuthority.shared()
    return ca


@pytest.fixture
def smtp_client_context(smtp_ca: CertificateAuthority) -> ssl.SSLContext:
    """A fresh client ``ssl.SSLContext`` that trusts the test CA and verifies host names."""
    return smtp_ca.client_context()


@pytest.fixture(scope="session")
def _smtpfake_hosting() -> Iterator[Hosting]:
    """The session's servers (one per kind, started on first use), stopped at session end."""
    hosting = Hosting(import_smtpfake())
    try:
        yield hosting
    finally:
        hosting.close()


def _test_servers(request: pytest.FixtureRequest, hosting: Hosting) -> TestServers:
    """The test's servers, made by the first fixture that asks and kept in the item's stash.

    Not a fixture of its own: one fixture less per test is measurably cheaper. The teardown
    hook stops what they started once every fixture has finished with them.
    """
    item: pytest.Item = request.node
    servers = item.stash.get(_SERVERS, None)
    if servers is None:
        servers = TestServers(hosting, marker_options(item), request.fixturenames)
        item.stash[_SERVERS] = servers
    return servers


def _server_fixture(name: str, doc: str) -> Callable[..., AnyServer]:
    """The fixture handing out the test's server of kind ``name`` (see ``_hosting.KINDS``)."""

    def server(request: pytest.FixtureRequest, _smtpfake_hosting: Hosting) -> AnyServer:
        return _test_servers(request, _smtpfake_hosting).get(name)

    server.__name__ = server.__qualname__ = KINDS[name].fixture
    server.__doc__ = doc
    return pytest.fixture(name=KINDS[name].fixture)(server)


smtp_server = _server_fixture(
    "smtp", "A running plain SMTP ``FakeSMTPServer`` with no mail and no rules from earlier tests."
)
smtp_starttls_server = _server_fixture(
    "starttls", "A running ``FakeSMTPServer`` offering STARTTLS, certificate from ``smtp_ca``."
)
smtps_server = _server_fixture(
    "smtps", "A running implicit-TLS (SMTPS) ``FakeSMTPServer``, certificate from ``smtp_ca``."
)
lmtp_server = _server_fixture("lmtp", "A running ``FakeLMTPServer`` on TCP (``server.address``).")
lmtp_unix_server = _server_fixture(
    "lmtp_unix", "A running ``FakeLMTPServer`` of the test's own on a unix socket (``.path``)."
)


@pytest.fixture
def smtp_redirect(
    request: pytest.FixtureRequest, _smtpfake_hosting: Hosting, smtp_ca: CertificateAuthority
) -> Iterator[Redirect]:
    """Route every smtplib/smtpclient connection, to any host and port, to this test's servers.

    ``SMTP`` reaches ``smtp_redirect.smtp`` (offers STARTTLS), ``SMTP_SSL`` reaches
    ``smtp_redirect.smtps``, ``LMTP`` (TCP or unix socket path) reaches ``smtp_redirect.lmtp``.
    TLS contexts the application uses are made to trust ``smtp_ca``; see ``_redirect``.
    """
    servers = _test_servers(request, _smtpfake_hosting)
    for target in TARGETS.values():
        servers.build(target)  # a marker option that cannot work fails here, at setup
    redirect = Redirect(servers, smtp_ca)
    with pytest.MonkeyPatch.context() as patch:
        redirect.install(patch, _smtpfake_hosting.trusting_context)
        yield redirect


# -- hooks: server errors and transcripts ----------------------------------------------------


def _fail_on_server_errors(item: pytest.Item, when: str) -> Generator[None, object, object]:
    """Run one phase; then fail it if the test's servers raised inside their thread meanwhile.

    The failure's text is the server's traceback (the plugin's frames would only hide it). When
    the phase failed on its own, the errors are evidence, not the verdict: they go into the
    report as a section.
    """
    try:
        result = yield
    except BaseException:
        for label, error in _server_errors(item, when):
            item.add_report_section(when, f"smtpfake error in {label}", str(error))
        raise
    errors = _server_errors(item, when)
    if errors:
        text = "\n".join(f"{label}: {error}" for label, error in errors)
        pytest.fail(f"error inside the fake server during {when}\n{text}", pytrace=False)
    return result


def _server_errors(item: pytest.Item, when: str) -> list[tuple[str, ServerError]]:
    """The errors the test's servers raised; at teardown, first stop the ones it started.

    Stopping waits for every fixture's teardown (the hook's ``yield``), since a fixture of the
    test suite may still talk to a server in its own teardown.
    """
    servers = item.stash.get(_SERVERS, None)
    if servers is None:
        return []
    if when == "teardown":
        servers.close()
    return servers.errors()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _fail_on_server_errors(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _fail_on_server_errors(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    return (yield from _fail_on_server_errors(item, "teardown"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the SMTP transcript of a failed phase's servers to its report; forget them after."""
    report = yield
    servers = item.stash.get(_SERVERS, None)
    if servers is None:
        return report
    if report.failed:
        text = transcripts(servers.labelled())
        if text:
            report.sections.append((f"smtpfake transcript {report.when}", text))
    if report.when == "teardown":
        del item.stash[_SERVERS]  # the item outlives its test; its servers' records need not
    return report

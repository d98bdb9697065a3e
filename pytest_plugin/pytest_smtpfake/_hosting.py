"""Which server a test gets: a session-hosted one reset for the test, or its own.

A test without ``@pytest.mark.smtpfake`` options borrows the session's server of the kind it asks
for, reset to a clean state (no mail, sessions, rules or errors from an earlier test); a session
server a test stopped is replaced, never handed out again. A test with options gets a server of
its own, started for it (about a millisecond) and stopped after it.

The marker's options configure every server of the test that can take them (``Kind.misfit``
says which cannot, and why). For a fixture the test names, an option that cannot apply is an
error at setup; the redirect's servers the test does not name take only the options that fit
them, since the client class the application uses, not the test, picks which one is reached.
"""

from __future__ import annotations

import difflib
import inspect
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from ._dependencies import require_tls

if TYPE_CHECKING:
    from typing import TypeAlias

    from smtpfake import CertificateAuthority, FakeLMTPServer, FakeSMTPServer, ServerError

    AnyServer: TypeAlias = FakeSMTPServer | FakeLMTPServer


@dataclass(frozen=True)
class Kind:
    """One flavour of server a fixture hands out."""

    fixture: str  # the fixture name, used in messages and report sections
    lmtp: bool = False
    tls: str = "none"  # the default for the ``tls`` option
    fixed_tls: bool = False  # the fixture's name promises this tls; the marker may not change it
    unix_socket: bool = False  # always a server of the test's own, on a fresh socket path

    def misfit(self, option: str, options: Mapping[str, Any]) -> str | None:
        """Why ``option`` (among the marker's ``options``) cannot configure this kind, or None."""
        if option == "tls" and self.fixed_tls and options["tls"] != self.tls:
            return (
                f"it always has tls={self.tls!r} (smtp_server, lmtp_server and "
                f"lmtp_unix_server take the marker's tls)"
            )
        if option == "host" and self.unix_socket:
            return "it listens on a unix socket, not on a host"
        if option == "tls_required" and options["tls_required"]:
            tls = self.tls if self.fixed_tls else options.get("tls", self.tls)
            if tls == "none":
                return (
                    "it has no TLS (tls='none'), so there is no STARTTLS to require "
                    "(add tls='starttls' to the marker, or use smtp_starttls_server)"
                )
        return None

    def fitting(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options that can configure this kind (the rest are left out)."""
        fitting = {k: v for k, v in options.items() if self.misfit(k, options) is None}
        if self.tls == "implicit" and fitting.get("tls_required"):
            del fitting["tls_required"]  # implicit TLS: every command is inside TLS already
        return fitting


KINDS: dict[str, Kind] = {
    "smtp": Kind("smtp_server"),
    "starttls": Kind("smtp_starttls_server", tls="starttls", fixed_tls=True),
    "smtps": Kind("smtps_server", tls="implicit", fixed_tls=True),
    "lmtp": Kind("lmtp_server", lmtp=True),
    "lmtp_unix": Kind("lmtp_unix_server", lmtp=True, unix_socket=True),
}


# Options a marker may not set: the fixtures choose them, so tests never collide (pytest-xdist).
_CHOSEN_BY_FIXTURES = {
    "port": "every fixture listens on an ephemeral port (port 0); for a fixed port, start a "
    "FakeSMTPServer(port=...) in the test",
    "path": "lmtp_unix_server makes a fresh socket path for each test (read server.path)",
}


def check_options(smtpfake: ModuleType, options: Mapping[str, Any]) -> None:
    """Fail the calling fixture if the marker names an option no fixture server takes."""
    valid = sorted(
        (set(_keywords(smtpfake.FakeSMTPServer)) | set(_keywords(smtpfake.FakeLMTPServer)))
        - set(_CHOSEN_BY_FIXTURES)
    )
    for option in options:
        if option in _CHOSEN_BY_FIXTURES:
            pytest.fail(
                f"@pytest.mark.smtpfake({option}=...) is not a marker option: "
                f"{_CHOSEN_BY_FIXTURES[option]}",
                pytrace=False,
            )
        if option not in valid:
            near = difflib.get_close_matches(option, valid, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            pytest.fail(
                f"unknown smtpfake marker option {option!r}{hint}; "
                f"valid options: {', '.join(valid)}",
                pytrace=False,
            )


def _keywords(cls: type) -> list[str]:
    """The keyword parameters of a server class's constructor."""
    parameters = inspect.signature(cls).parameters.values()
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """Merge every ``smtpfake`` marker on the test, the closest (function over class) winning."""
    options: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("smtpfake"))):
        if mark.args:
            pytest.fail(
                f"@pytest.mark.smtpfake takes keyword options only (as FakeSMTPServer does), "
                f"got positional {mark.args!r}",
                pytrace=False,
            )
        options.update(mark.kwargs)
    return options


def _build(
    smtpfake: ModuleType,
    kind: Kind,
    ca: Callable[[], CertificateAuthority],
    options: Mapping[str, Any],
    named: bool,
) -> AnyServer:
    """A server of ``kind`` built (not started) with the marker's ``options``.

    ``named``: the test asked for this kind's fixture by name, so an option that cannot apply
    to it is an error; otherwise (a redirect target only) it is left out.
    """
    if named:
        for option in options:
            why = kind.misfit(option, options)
            if why is not None:
                pytest.fail(
                    f"@pytest.mark.smtpfake({option}={options[option]!r}) cannot apply to "
                    f"{kind.fixture}: {why}",
                    pytrace=False,
                )
    cls = smtpfake.FakeLMTPServer if kind.lmtp else smtpfake.FakeSMTPServer
    arguments = {"tls": kind.tls, **kind.fitting(options)}
    if arguments["tls"] != "none" and "ca" not in arguments:
        arguments["ca"] = ca()  # only TLS needs the CA: a plain server makes no keys
    try:
        server: AnyServer = cls(**arguments)
    except (TypeError, ValueError) as exc:
        problem = f"bad smtpfake marker options for {kind.fixture}: {exc}"
    else:
        return server
    pytest.fail(problem, pytrace=False)  # outside the except: the chained error is noise


def _stop_all(
    smtpfake: ModuleType, servers: list[tuple[str, AnyServer]]
) -> list[tuple[str, ServerError]]:
    """Stop every server; return the server-thread errors ``stop()`` re-raised, by label.

    Any other failure to stop is re-raised once every server has been stopped.
    """
    errors: list[tuple[str, ServerError]] = []
    failure: BaseException | None = None
    for label, server in servers:
        try:
            server.stop()
        except smtpfake.ServerError as exc:
            errors.append((label, exc))
        except BaseException as exc:  # the remaining servers must still be stopped
            failure = failure or exc
    if failure is not None:
        raise failure
    return errors


class Hosting:
    """The session's servers, one per kind, started on first use and stopped at session end."""

    def __init__(self, smtpfake: ModuleType) -> None:
        self.smtpfake = smtpfake
        self._servers: dict[str, AnyServer] = {}
        self._lock = threading.Lock()
        self._trusting_context: ssl.SSLContext | None = None

    def ca(self) -> CertificateAuthority:
        """The process-wide test CA (``smtp_ca``), created on first use."""
        require_tls()
        ca: CertificateAuthority = self.smtpfake.CertificateAuthority.shared()
        return ca

    def trusting_context(self) -> ssl.SSLContext:
        """A verified client context that trusts the CA, built once (it loads the system store)."""
        with self._lock:
            if self._trusting_context is None:
                self._trusting_context = self.ca().client_context()
            return self._trusting_context

    def shared(self, name: str) -> AnyServer:
        """The session's running server of this kind (its state is whatever the last test left).

        One that an earlier test stopped (to play "mail server down") is replaced.
        """
        with self._lock:
            server = self._servers.get(name)
            if server is None or not server.running:
                server = _build(self.smtpfake, KINDS[name], self.ca, {}, named=False)
                server.start()
                self._servers[name] = server
            return server

    def close(self) -> None:
        """Stop the session's servers; a server-thread error still pending is raised."""
        with self._lock:
            servers, self._servers = self._servers, {}
        errors = _stop_all(self.smtpfake, [(KINDS[name].fixture, s) for name, s in servers.items()])
        if errors:
            raise errors[0][1]


class TestServers:
    """The servers one test uses, each created once per test whichever fixture asks first.

    ``smtp_starttls_server`` and the redirect's plain-SMTP target are therefore the same object
    within a test, and the report hooks know every server whose transcript a failure should show.
    """

    __test__ = False  # not a test class, whatever pytest's collector thinks of the name

    def __init__(
        self, hosting: Hosting, options: Mapping[str, Any], fixtures: Iterable[str]
    ) -> None:
        check_options(hosting.smtpfake, options)
        self.hosting = hosting
        self.options = dict(options)
        self.fixtures = frozenset(fixtures)  # every fixture the test uses, directly or not
        self.used: dict[str, AnyServer] = {}
        self._built: dict[str, AnyServer] = {}  # built for the marker's options, not started
        self._own: list[str] = []  # the names (in self.used) of servers started for this test
        self._temp_dirs: list[Path] = []
        self._stop_errors: list[tuple[str, ServerError]] = []
        self._lock = threading.RLock()

    def get(self, name: str) -> AnyServer:
        """The test's server of this kind; the first call starts or resets it."""
        with self._lock:
            server = self.used.get(name)
            if server is None:
                server = self._provide(name)
                self.used[name] = server
            return server

    def build(self, name: str) -> None:
        """Build (not start) the test's own server of this kind, so a bad option fails now.

        The redirect calls this at its setup for its targets, which it starts only when the
        application first connects: without it, a marker error would surface mid-test.
        """
        with self._lock:
            if name not in self.used and name not in self._built and self._own_server(name):
                kind = KINDS[name]
                named = kind.fixture in self.fixtures
                self._built[name] = _build(
                    self.hosting.smtpfake, kind, self.hosting.ca, self.options, named
                )

    def _own_server(self, name: str) -> bool:
        return bool(self.options) or KINDS[name].unix_socket

    def _provide(self, name: str) -> AnyServer:
        if not self._own_server(name):
            server = self.hosting.shared(name)
            server.reset(drop_connections=True)  # nothing an earlier test left open delivers here
            return server
        kind = KINDS[name]
        if kind.unix_socket:
            # A short private directory: socket paths are limited to about 100 bytes.
            directory = Path(tempfile.mkdtemp(prefix="smtpfake-"))
            self._temp_dirs.append(directory)
            options = {**self.options, "path": str(directory / "lmtp.sock")}
            server = _build(self.hosting.smtpfake, kind, self.hosting.ca, options, named=True)
        else:
            self.build(name)
            server = self._built.pop(name)
        server.start()
        self._own.append(name)
        return server

    def labelled(self) -> list[tuple[str, AnyServer]]:
        """(fixture name, server) for every server the test used, in the order it asked."""
        with self._lock:
            return [(KINDS[name].fixture, server) for name, server in self.used.items()]

    def passthrough(self, host: str, port: int) -> tuple[str, int] | None:
        """The address of the test's TCP server that ``host:port`` names, if it names one.

        ``localhost`` and every loopback address count as the server's host, so an application
        configured with ``("localhost", smtp_server.port)`` reaches ``smtp_server`` itself.
        """
        for _, server in self.labelled():
            mine = host == server.host or _is_loopback(host)
            if mine and server.path is None and server.port == port:
                return server.address
        return None

    def owns_socket(self, path: str) -> bool:
        """Whether ``path`` is the unix socket of one of the test's servers."""
        wanted = os.path.realpath(path)
        return any(
            server.path is not None and os.path.realpath(server.path) == wanted
            for _, server in self.labelled()
        )

    def errors(self) -> list[tuple[str, ServerError]]:
        """Collect (and so clear) the errors raised inside the servers' threads, by fixture.

        Errors that stopping the test's own servers re-raised (``close()``) are included.
        """
        server_error = self.hosting.smtpfake.ServerError
        with self._lock:
            found, self._stop_errors = self._stop_errors, []
            used = list(self.used.items())
        for name, server in used:
            try:
                server.check()
            except server_error as exc:
                found.append((KINDS[name].fixture, exc))
        return found

    def close(self) -> None:
        """Stop the test's own servers and remove their socket directories.

        A server-thread error that ``stop()`` re-raises is kept for ``errors()``, so the
        plugin reports it like any other; a failure to stop propagates.
        """
        with self._lock:
            if not self._own and not self._temp_dirs:
                return  # the usual case: only session servers, which stay up
            own = [(KINDS[name].fixture, self.used[name]) for name in self._own]
            self._own = []
            temp_dirs, self._temp_dirs = self._temp_dirs, []
        try:
            errors = _stop_all(self.hosting.smtpfake, own)
        finally:
            for directory in temp_dirs:
                shutil.rmtree(directory, ignore_errors=True)
        with self._lock:
            self._stop_errors.extend(errors)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

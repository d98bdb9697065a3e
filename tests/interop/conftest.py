"""Private Postfix and Dovecot instances, started once for the session and stopped at its end.

Each has its own configuration, queue, sockets and Maildirs in one temporary directory, and
loopback ports probed at start; none of the system's configuration is read or changed.
Without the packages (or without root) every test here skips, saying what to install.

The directory is made by ``tempfile`` rather than pytest: the daemons' unprivileged users
(postfix, dovecot, nobody) must be able to reach it, and pytest puts its own root back to mode
0700 whenever another pytest run starts, which would cut them off in the middle of a session.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests._support.tls import ca, client_tls

from ._daemon import assert_released
from ._dovecot import Dovecot
from ._postfix import Postfix
from ._tools import skip_reason, unavailable

__all__ = ["ca", "client_tls", "dovecot", "interop_dir", "postfix", "tag"]

_tags = itertools.count()


@pytest.fixture(scope="session")
def interop_dir() -> Iterator[Path]:
    """The session's directory for the instances, removed at the end (skips when they cannot
    run here)."""
    reasons = unavailable()
    if reasons:
        pytest.skip(skip_reason(reasons))
    root = Path(tempfile.mkdtemp(prefix="smtpclient-interop-", dir=_scratch()))
    root.chmod(0o711)  # reachable by the daemons' users, not listable
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.fixture(scope="session")
def dovecot(interop_dir: Path) -> Iterator[Dovecot]:
    """Dovecot: LMTP on TCP and a unix socket, and SASL for Postfix."""
    server = Dovecot(interop_dir / "dovecot")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        assert_released(server.root, [server.lmtp_port])


@pytest.fixture(scope="session")
def postfix(interop_dir: Path, dovecot: Dovecot, ca: trustme.CA) -> Iterator[Postfix]:
    """Postfix: SMTP, submission (STARTTLS and AUTH required) and SMTPS, TLS from the test CA."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = Postfix(
        interop_dir / "postfix",
        cert_pem=b"".join(blob.bytes() for blob in cert.cert_chain_pems),
        key_pem=cert.private_key_pem.bytes(),
        sasl_socket=dovecot.auth_socket,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        assert_released(server.root, server.tcp_ports)


def _scratch() -> str | None:
    """/dev/shm when there is one: in memory, 10,000 Maildir files are written, fsynced and
    removed in a fraction of the time a disk takes."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


@pytest.fixture
def tag() -> str:
    """A tag unique in the session, for addresses (inbox+TAG@) that mark one test's mail."""
    return f"t{next(_tags)}"

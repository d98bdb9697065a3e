"""The instances' own life cycle: started from nothing, stopped leaving no process, no listening
port and no socket file (the session fixtures run the same check when the session ends)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from ._daemon import (
    Daemon,
    DaemonError,
    assert_released,
    session_members,
    tcp_listening,
    unix_listening,
)
from ._dovecot import Dovecot
from ._postfix import Postfix


def test_private_instances_start_and_leave_nothing_behind(
    interop_dir: Path, ca: trustme.CA
) -> None:
    root = interop_dir / "lifecycle"
    dovecot = Dovecot(root / "dovecot")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    postfix = Postfix(
        root / "postfix",
        cert_pem=b"".join(blob.bytes() for blob in cert.cert_chain_pems),
        key_pem=cert.private_key_pem.bytes(),
        sasl_socket=dovecot.auth_socket,
    )
    dovecot.start()
    try:
        postfix.start()
    except BaseException:
        dovecot.stop()
        raise
    sessions = []
    for server in (postfix, dovecot):
        assert server.daemon.process is not None
        sessions.append(server.daemon.process.pid)
    assert all(len(session_members(sid)) > 1 for sid in sessions)  # master and its children
    ports = [*postfix.tcp_ports, dovecot.lmtp_port]
    assert all(tcp_listening(port) for port in ports)
    assert unix_listening(dovecot.lmtp_socket)

    postfix.stop()
    dovecot.stop()

    assert [session_members(sid) for sid in sessions] == [[], []]
    assert not any(tcp_listening(port) for port in ports)
    assert_released(root, ports)  # nothing listens on a socket file; the files are removed


# The checks themselves, on a stand-in daemon (a shell), so they run without Postfix or Dovecot.


def test_stop_reports_and_kills_a_process_left_in_the_session(tmp_path: Path) -> None:
    # The shell exits on SIGTERM; the sleep it started in the background does not.
    daemon = Daemon("stand-in", ["sh", "-c", "sleep 600 & echo started; wait"], tmp_path / "log")
    daemon.start(lambda: b"started" in (tmp_path / "log").read_bytes())
    assert daemon.process is not None
    session = daemon.process.pid
    assert len(session_members(session)) == 2
    with pytest.raises(DaemonError, match=r"left processes \[\d+\] behind; killed"):
        daemon.stop(timeout=0.5)
    assert session_members(session) == []


def test_start_reports_a_daemon_that_exits_with_its_log(tmp_path: Path) -> None:
    daemon = Daemon("stand-in", ["sh", "-c", "echo cannot bind; exit 3"], tmp_path / "log")
    with pytest.raises(DaemonError, match=r"(?s)exited with status 3 while starting.*cannot bind"):
        daemon.start(lambda: False)
    assert daemon.process is None

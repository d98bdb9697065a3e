"""The instances' own life cycle: started from nothing, stopped leaving no process, no listening
port and no socket file (the session fixtures run the same check when the session ends)."""

from __future__ import annotations

from pathlib import Path

import trustme

from ._daemon import assert_released, session_members, tcp_listening, unix_listening
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

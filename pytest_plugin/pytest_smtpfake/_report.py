"""The "smtpfake transcript" report section: every session of a failed test's servers, as text."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._hosting import AnyServer


def transcripts(labelled: list[tuple[str, AnyServer]]) -> str:
    """The transcript of every session of each (fixture name, server), or "" if none spoke.

    This runs inside pytest's reporting, where an exception would be an INTERNALERROR that
    hides the test's own failure; a failure to read a server is written into the text instead.
    """
    parts: list[str] = []
    for label, server in labelled:
        try:
            parts.extend(_server_transcripts(label, server))
        except Exception:
            parts.append(f"{label}: cannot read its sessions\n{traceback.format_exc().rstrip()}")
    return "\n\n".join(parts)


def _server_transcripts(label: str, server: AnyServer) -> list[str]:
    sessions = server.sessions
    where = server.path if server.path is not None else f"{server.host}:{server.port}"
    parts: list[str] = []
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
    return parts

"""SASL for SMTP AUTH (RFC 4954), sans-I/O: mechanisms as functions, the exchange as a flow.

An *authobject* is smtplib's callable: called with no argument for the initial response (None
when the mechanism has none) and with the decoded challenge bytes after each 334 reply; it
returns the ASCII string to send (base64 encoding is done here). PLAIN, LOGIN and CRAM-MD5 are
smtplib's; XOAUTH2 (Google, Microsoft) is ours: ``user=..^Aauth=Bearer token^A^A`` as the
initial response or, in the two-step form, as the answer to the server's first (empty) challenge;
a challenge after the token is the server's error report (a JSON document, RFC 7628 style),
acknowledged with an empty line, after which the server sends its final refusal.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
from collections.abc import Callable
from typing import Any

from ._commands import command_line
from ._events import CLOSE, Flow
from ._exceptions import SMTPAuthenticationError, SMTPException

__all__ = [
    "MAX_CHALLENGES",
    "AuthObject",
    "auth_flow",
    "check_credentials",
    "cram_md5_response",
    "login_response",
    "plain_response",
    "xoauth2",
    "xoauth2_answer",
    "xoauth2_response",
]

MAX_CHALLENGES = 5
"""More 334 challenges than this in one exchange is a server looping (smtplib's limit)."""

AuthObject = Callable[..., "str | None"]


def check_credentials(user: str, password: str) -> None:
    """ValueError if the user name or the password (or token) holds NUL, CR or LF.

    In PLAIN, NUL separates the authorization identity, the user and the password: a user name
    holding one would let whoever chose it pick another identity; CR and LF would reach the
    server's authentication backend and logs. smtplib sends them; we refuse them, in every
    mechanism, before the credentials are sent. The message never shows the values.
    """
    for name, value in (("user name", user), ("password", password)):
        if "\0" in value or "\r" in value or "\n" in value:
            raise ValueError(f"the {name} contains a NUL, CR or LF character, which AUTH refuses")


def plain_response(user: str, password: str) -> str:
    """PLAIN (RFC 4616): empty authorization identity, user, password, NUL-separated."""
    check_credentials(user, password)
    return f"\0{user}\0{password}"


def login_response(user: str, password: str, challenge_count: int) -> str:
    """LOGIN: the user name first, the password for every later challenge."""
    check_credentials(user, password)
    return user if challenge_count < 2 else password


def cram_md5_response(user: str, password: str, challenge: bytes) -> str:
    """CRAM-MD5 (RFC 2195): the user and the HMAC-MD5 of the challenge keyed by the password."""
    check_credentials(user, password)
    return user + " " + hmac.new(password.encode("ascii"), challenge, "md5").hexdigest()


def xoauth2_response(user: str, token: str) -> str:
    """XOAUTH2's initial response for ``user`` with an OAuth 2.0 bearer ``token``."""
    check_credentials(user, token)
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def xoauth2_answer(user: str, token: str, challenge_count: int) -> str:
    """XOAUTH2's answer to challenge number ``challenge_count`` of the exchange (smtplib's count:
    1 after an initial response): the token first, then an empty line to the error report."""
    return xoauth2_response(user, token) if challenge_count < 2 else ""


def xoauth2(user: str, token: str) -> Callable[[bytes | None], str]:
    """An authobject for ``smtp.auth("XOAUTH2", xoauth2(user, token))``, with or without
    ``initial_response_ok``.

    It cannot see the exchange's challenge count, so it tells the two challenges apart by
    their content: the server's first challenge (two-step form) is empty and gets the token;
    its error report is a JSON document and gets an empty line. ``SMTP.auth_xoauth2`` counts
    challenges instead, and so also answers an empty error report correctly.
    ValueError at once if ``user`` or ``token`` holds NUL, CR or LF.
    """
    check_credentials(user, token)

    def authobject(challenge: bytes | None = None) -> str:
        if challenge is None or not challenge.strip():
            return xoauth2_response(user, token)
        return ""

    return authobject


def _decode_challenge(message: bytes) -> bytes:
    """The challenge of a 334 reply; SMTPAuthenticationError if it is not valid base64."""
    try:
        return base64.decodebytes(message)
    except binascii.Error as exc:
        raise SMTPAuthenticationError(
            334, b"Invalid base64 in the server's challenge: " + message[:80]
        ) from exc


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def auth_flow(
    state: Any, mechanism: str, authobject: AuthObject, initial_response_ok: bool
) -> Flow[tuple[int, bytes]]:
    """AUTH ``mechanism`` driven by ``authobject``; 235 or 503 returned, else raises.

    ``state._auth_challenge_count`` counts challenges as smtplib does (LOGIN reads it). When no
    answer to a challenge can be made (a bad challenge, an authobject error, a non-ASCII
    answer), the exchange is cancelled with ``*`` before the error is raised, so the session
    stays in step (a challenge that is not valid base64 is SMTPAuthenticationError); smtplib
    leaves the server waiting for an answer. A server that keeps challenging is hung up on
    (smtplib raises the same error but leaves the connection open).
    """
    mechanism = mechanism.upper()
    initial = authobject() if initial_response_ok else None
    if initial is not None:
        reply = yield command_line("AUTH", mechanism + " " + _b64(initial))
        state._auth_challenge_count = 1
    else:
        reply = yield command_line("AUTH", mechanism)
        state._auth_challenge_count = 0
    while reply.code == 334:
        state._auth_challenge_count += 1
        try:
            answer = authobject(_decode_challenge(reply.message))
            line = command_line(_b64(answer or ""))
        except Exception:
            # No answer (a bad challenge, an authobject error, a non-ASCII answer): cancel the
            # exchange with "*" (RFC 4954, 4) so the next command is not taken for an answer.
            with contextlib.suppress(SMTPException):
                yield command_line("*")
            raise
        reply = yield line
        if state._auth_challenge_count > MAX_CHALLENGES:
            yield CLOSE  # the server is looping, and still waits for an answer: give up on it
            raise SMTPException(
                "Server AUTH mechanism infinite loop. Last response: "
                + repr((reply.code, reply.message))
            )
    if reply.code in (235, 503):
        return (reply.code, reply.message)
    raise SMTPAuthenticationError(reply.code, reply.message)

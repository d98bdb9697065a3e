"""``login``: AUTH with the best mechanism both sides know (sans-I/O, through the hooks)."""

from __future__ import annotations

from ._auth import auth_flow, authobject, check_credentials
from ._events import Flow
from ._exceptions import SMTPAuthenticationError, SMTPException, SMTPNotSupportedError
from ._hooks import NO_HOOKS, Hooks
from ._session import Session
from ._steps import greet, has_extn

__all__ = ["login"]

_PREFERRED = ("CRAM-MD5", "PLAIN", "LOGIN")  # smtplib's order


def login(
    session: Session,
    user: str,
    password: str,
    initial_response_ok: bool = True,
    hooks: Hooks = NO_HOOKS,
) -> Flow[tuple[int, bytes]]:
    """AUTH with the best mechanism both sides know: CRAM-MD5, PLAIN, LOGIN (smtplib's order).

    Each is tried in turn while the server refuses the credentials; the last refusal is raised.
    XOAUTH2 (``password`` is then the OAuth 2.0 token) is used only when the server offers none
    of the three, where smtplib would give up. The authobjects and the AUTH exchange go through
    ``hooks.authobject`` and ``hooks.auth`` when the driver gives them. NUL, CR or LF in
    ``user`` or ``password`` is a ValueError before anything is sent.
    """
    check_credentials(user, password)
    yield from greet(session, hooks)
    if not has_extn(session, hooks, "auth"):
        raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    advertised = session.esmtp_features["auth"].split()
    mechanisms = [m for m in _PREFERRED if m in advertised]
    if not mechanisms and "XOAUTH2" in advertised:
        mechanisms = ["XOAUTH2"]
    if not mechanisms:
        raise SMTPException("No suitable authentication method found.")
    session.user, session.password = user, password
    last_error: SMTPAuthenticationError | None = None
    for mechanism in mechanisms:
        answer = hooks.authobject(mechanism) if hooks.authobject else authobject(session, mechanism)
        try:
            if hooks.auth:
                code, resp = yield from hooks.auth(mechanism, answer, initial_response_ok)
            else:
                code, resp = yield from auth_flow(session, mechanism, answer, initial_response_ok)
        except SMTPAuthenticationError as error:
            last_error = error
        else:
            if code in (235, 503):
                session.authenticated = True
                return (code, resp)
            last_error = SMTPAuthenticationError(code, resp)  # an override's odd reply
    assert last_error is not None
    raise last_error

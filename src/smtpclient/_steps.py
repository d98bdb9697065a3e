"""The flows of single commands (sans-I/O), and the steps compound flows take through hooks.

Each flow takes the :class:`~smtpclient.protocol.Session`, yields events (``_events``) and
returns smtplib's ``(code, message)``. The ``*_step`` helpers are how compound flows call a
step: the driver's replacement from :class:`~smtpclient.protocol.Hooks` if it gave one, else
the flow here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from ._commands import FROM, TO, Command, addr_only, check_argument, quoteaddr
from ._events import CLOSE, READ, Chunk, Debug, Flow, Send, StartTLS
from ._exceptions import (
    SMTPDataError,
    SMTPHeloError,
    SMTPNotSupportedError,
    SMTPReplyError,
    SMTPResponseException,
    SMTPServerDisconnected,
)
from ._extensions import parse_ehlo
from ._hooks import NO_HOOKS, Hooks
from ._message import data_pieces
from ._replies import Reply
from ._session import Session

__all__ = [
    "close_or_rset",
    "command",
    "data",
    "data_replies",
    "ehlo",
    "ehlo_or_helo_if_needed",
    "expn",
    "greet",
    "greeting",
    "has_extn",
    "helo",
    "mail",
    "mail_command",
    "mail_encoding",
    "mail_line",
    "quiet_rset",
    "quit",
    "rcpt",
    "rcpt_command",
    "rset",
    "starttls",
    "verify",
]

CodeText = tuple[int, bytes]
DATA: Command = Command("data")
RSET: Command = Command("rset")


def command(cmd: Command) -> Flow[CodeText]:
    """One command, its reply as ``(code, message)``."""
    yield Send((cmd,))
    reply: Reply = yield READ
    return (reply.code, reply.message)


def has_extn(session: Session, hooks: Hooks, name: str) -> bool:
    """Whether the server advertised ``name`` (lower case), asked through the driver's
    ``has_extn`` hook if it gave one."""
    return hooks.has_extn(name) if hooks.has_extn else name in session.esmtp_features


def greeting(session: Session) -> Flow[CodeText]:
    """Read the server's greeting."""
    reply: Reply = yield READ
    session.greeting = reply
    return (reply.code, reply.message)


def helo(session: Session, name: str = "") -> Flow[CodeText]:
    """HELO; the reply text is kept in ``session.helo_resp``."""
    code, message = yield from command(Command("helo", name or session.local_hostname))
    session.helo_resp = message
    return (code, message)


def ehlo(session: Session, name: str = "") -> Flow[CodeText]:
    """EHLO (LHLO for LMTP); on 250 the extensions go to ``session.esmtp_features``."""
    session.esmtp_features = {}
    code, message = yield from command(Command(session.ehlo_msg, name or session.local_hostname))
    session.ehlo_resp = message
    if code == 250:
        session.does_esmtp = True
        session.esmtp_features = parse_ehlo(message)
    return (code, message)


def ehlo_or_helo_if_needed(session: Session, hooks: Hooks = NO_HOOKS) -> Flow[None]:
    """EHLO, falling back to HELO, unless one of them already succeeded in this session."""
    if session.helo_resp is None and session.ehlo_resp is None:
        reply = yield from (hooks.ehlo() if hooks.ehlo else ehlo(session))
        if not 200 <= reply[0] <= 299:
            code, message = yield from (hooks.helo() if hooks.helo else helo(session))
            if not 200 <= code <= 299:
                raise SMTPHeloError(code, message)


def greet(session: Session, hooks: Hooks) -> Flow[None]:
    """The greeting step of compound flows: ``ehlo_or_helo_if_needed`` (or its replacement)."""
    if hooks.ehlo_or_helo_if_needed:
        yield from hooks.ehlo_or_helo_if_needed()
    elif session.helo_resp is None and session.ehlo_resp is None:
        yield from ehlo_or_helo_if_needed(session, hooks)


def rset(session: Session) -> Flow[CodeText]:
    """RSET: ends the transaction; commands go back to ASCII."""
    session.command_encoding = "ascii"
    session.accepted = []
    return (yield from command(RSET))


def quiet_rset(session: Session, hooks: Hooks) -> Flow[None]:
    """RSET after a failure; a hang-up (or a bad reply, which closes) is left for later.

    A disconnect surfaces on the caller's next command, not in place of the error that made
    the flow reset (smtplib's ``_rset``).
    """
    with contextlib.suppress(SMTPServerDisconnected, SMTPReplyError):
        yield from (hooks.rset() if hooks.rset else rset(session))


def close_or_rset(session: Session, hooks: Hooks, code: int) -> Flow[None]:
    """After a refusal: close if the server said 421 (it is closing), else reset."""
    if code == 421:
        yield CLOSE
    else:
        yield from quiet_rset(session, hooks)


def mail_encoding(session: Session, options: Sequence[str], hooks: Hooks = NO_HOOKS) -> str:
    """The command encoding once MAIL is sent with ``options``: UTF-8 for ``SMTPUTF8``.

    SMTPNotSupportedError if ``SMTPUTF8`` is asked for and the server lacks it.
    """
    if options and session.does_esmtp:
        for option in options:
            if option.lower() == "smtputf8":
                if not has_extn(session, hooks, "smtputf8"):
                    raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
                return "utf-8"
    return session.command_encoding


def mail_command(
    session: Session, sender: str, options: Sequence[str], hooks: Hooks = NO_HOOKS
) -> Command:
    """MAIL FROM's command; starts the transaction (``SMTPUTF8`` switches commands to UTF-8)."""
    check_argument(sender)
    session.command_encoding = mail_encoding(session, options, hooks)
    session.accepted = []
    return mail_line(session, sender, options)


def mail_line(session: Session, sender: str, options: Sequence[str]) -> Command:
    """MAIL FROM's command line, nothing else (options only for an ESMTP session).

    ``sender`` was checked by the caller (``check_argument``: an error that names it).
    """
    optionlist = " " + " ".join(options) if options and session.does_esmtp else ""
    return Command("mail", f"{FROM}{quoteaddr(sender)}{optionlist}")


def mail(
    session: Session, sender: str, options: Sequence[str] = (), hooks: Hooks = NO_HOOKS
) -> Flow[CodeText]:
    """MAIL FROM."""
    return (yield from command(mail_command(session, sender, options, hooks)))


def rcpt_command(session: Session, recip: str, options: Sequence[str]) -> Command:
    """RCPT TO's command; ``recip`` was checked by the caller (as for :func:`mail_line`)."""
    optionlist = " " + " ".join(options) if options and session.does_esmtp else ""
    return Command("rcpt", f"{TO}{quoteaddr(recip)}{optionlist}")


def rcpt(session: Session, recip: str, options: Sequence[str] = ()) -> Flow[CodeText]:
    """RCPT TO; an accepted recipient is remembered for LMTP's per-recipient replies."""
    code, message = yield from command(rcpt_command(session, check_argument(recip), options))
    if code in (250, 251):
        session.accepted.append(recip)
    return (code, message)


def verify(address: str) -> Flow[CodeText]:
    """VRFY with the bare address."""
    return (yield from command(Command("vrfy", addr_only(check_argument(address)))))


def expn(address: str) -> Flow[CodeText]:
    """EXPN with the bare address."""
    return (yield from command(Command("expn", addr_only(check_argument(address)))))


def data(session: Session, msg: str | bytes) -> Flow[CodeText]:
    """DATA, the message, and the reply to its end (one per accepted recipient for LMTP).

    SMTPDataError unless the server answers DATA with 354. The rest is :func:`data_replies`.
    """
    pieces = data_pieces(msg)  # a str that is not ASCII fails here, before DATA is sent
    yield Send((DATA,))
    reply: Reply = yield READ
    if session.debuglevel > 0:
        yield Debug("data:", (reply.code, reply.message))
    if reply.code != 354:
        raise SMTPDataError(reply.code, reply.message)
    yield Chunk(pieces, replies=_expected_replies(session))
    return (yield from data_replies(session))


def _expected_replies(session: Session) -> int:
    return max(len(session.accepted), 1) if session.lmtp else 1


def data_replies(session: Session) -> Flow[CodeText]:
    """The replies to the end of the data, once it is written; the transaction ends.

    They are kept in ``session.last_data_reply`` and ``session.last_data_replies``
    (``[(recipient, reply), ...]``). For LMTP the returned reply is the first refusal if any
    recipient was refused, else the first reply.
    """
    reply: Reply = yield READ
    if session.debuglevel > 0:
        yield Debug("data:", (reply.code, reply.message))
    accepted = session.accepted
    session.accepted = []
    if session.lmtp and len(accepted) > 1:
        replies = [(accepted[0], reply)]
        for recipient in accepted[1:]:
            replies.append((recipient, (yield READ)))
        reply = next((r for _, r in replies if r.code != 250), reply)
    else:
        replies = [(recipient, reply) for recipient in accepted]
    session.last_data_reply = reply
    session.last_data_replies = replies
    return (reply.code, reply.message)


def starttls(session: Session, context: object, hooks: Hooks = NO_HOOKS) -> Flow[CodeText]:
    """STARTTLS, then TLS with ``context``; the session (EHLO state) starts afresh."""
    yield from greet(session, hooks)
    if not has_extn(session, hooks, "starttls"):
        raise SMTPNotSupportedError("STARTTLS extension not supported by server.")
    code, message = yield from command(Command("STARTTLS"))
    if code != 220:
        raise SMTPResponseException(code, message)
    yield StartTLS(context)
    session.tls = True
    session.forget_greeting()
    return (code, message)


def quit(session: Session) -> Flow[CodeText]:
    """QUIT, forget the session, close."""
    result = yield from command(Command("quit"))
    session.forget_greeting()
    yield CLOSE
    return result

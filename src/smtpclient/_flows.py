"""Each SMTP transaction, written once, as a generator a driver runs over any transport.

A flow yields *events* (see ``_events``: a command line, message data, READ, CLOSE, StartTLS,
Debug, Call) and receives replies, the idea of httpx's auth flows. Where smtplib's compound
methods call its public ones (``sendmail`` calls ``self.mail``...), a flow runs the step itself
unless the client overrides that method (``state._overrides(name)``), and then yields a Call.

If the driver fails to perform an event (a hang-up, a timeout, a bad reply) it throws the
exception into the flow, so recovery (smtplib's "RSET, but ignore a disconnect") is written
here too. ``state`` is the client object: flows read and update the session attributes that
smtplib exposes (``esmtp_features``, ``does_esmtp``, ``helo_resp``, ``ehlo_resp``,
``command_encoding``...) and never touch a socket, so an asyncio driver can reuse them as is.
"""

from __future__ import annotations

import contextlib
import email.message
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._auth import auth_flow, check_credentials
from ._commands import FROM, TO, addr_only, check_argument, command_line, quoteaddr
from ._events import CLOSE, READ, Call, Debug, Flow, StartTLS
from ._exceptions import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupportedError,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from ._extensions import parse_ehlo
from ._message import (
    data_pieces,
    envelope_from_headers,
    fix_eols,
    flatten,
    needs_smtputf8,
)
from ._replies import Reply

__all__ = [
    "CLOSE",
    "READ",
    "Call",
    "Debug",
    "Flow",
    "StartTLS",
    "data",
    "ehlo",
    "ehlo_or_helo_if_needed",
    "expn",
    "greeting",
    "helo",
    "login",
    "mail",
    "quit",
    "rcpt",
    "rset",
    "send_message",
    "sendmail",
    "simple",
    "starttls",
    "verify",
]

T = TypeVar("T")


def _overridden(state: Any, name: str) -> bool:
    try:
        return bool(state._overrides(name))
    except AttributeError:  # a state without overrides (an asyncio driver, a test)
        return False


def _step(state: Any, name: str, flow: Callable[..., Flow[T]], *args: Any) -> Flow[T]:
    """``flow(state, *args)``, or a flow calling the client's override of method ``name``."""
    if _overridden(state, name):
        return _call(name, args)
    return flow(state, *args)


def _call(name: str, args: tuple[Any, ...]) -> Flow[Any]:
    return (yield Call(name, args))


def _forget_session(state: Any) -> None:
    state.helo_resp = None
    state.ehlo_resp = None
    state.esmtp_features = {}
    state.does_esmtp = False


def simple(line: str) -> Flow[tuple[int, bytes]]:
    """One command, its reply as ``(code, message)``."""
    reply: Reply = yield line
    return (reply.code, reply.message)


def greeting(state: Any) -> Flow[tuple[int, bytes]]:
    """Read the server's greeting."""
    reply: Reply = yield READ
    return (reply.code, reply.message)


def helo(state: Any, name: str = "") -> Flow[tuple[int, bytes]]:
    """HELO; the reply text is kept in ``state.helo_resp``."""
    reply: Reply = yield command_line("helo", name or state.local_hostname)
    state.helo_resp = reply.message
    return (reply.code, reply.message)


def ehlo(state: Any, name: str = "") -> Flow[tuple[int, bytes]]:
    """EHLO (LHLO for LMTP); on 250 the extensions go to ``state.esmtp_features``."""
    state.esmtp_features = {}
    reply: Reply = yield command_line(state.ehlo_msg, name or state.local_hostname)
    state.ehlo_resp = reply.message
    if reply.code == 250:
        state.does_esmtp = True
        state.esmtp_features = parse_ehlo(reply.message)
    return (reply.code, reply.message)


def ehlo_or_helo_if_needed(state: Any) -> Flow[None]:
    """EHLO, falling back to HELO, unless one of them already succeeded in this session."""
    if state.helo_resp is None and state.ehlo_resp is None:
        code, _ = yield from _step(state, "ehlo", ehlo)
        if not 200 <= code <= 299:
            code, message = yield from _step(state, "helo", helo)
            if not 200 <= code <= 299:
                raise SMTPHeloError(code, message)


def _ehlo_or_helo_if_needed(state: Any) -> Flow[None] | tuple[()]:
    """The step as compound flows take it (``yield from``): through the client's override."""
    if _overridden(state, "ehlo_or_helo_if_needed"):
        return _call("ehlo_or_helo_if_needed", ())
    if state.helo_resp is None and state.ehlo_resp is None:
        return ehlo_or_helo_if_needed(state)
    return ()  # greeted already: nothing to do


def rset(state: Any) -> Flow[tuple[int, bytes]]:
    """RSET: ends the transaction; commands go back to ASCII."""
    state.command_encoding = "ascii"
    state._accepted = []
    return (yield from simple(command_line("rset")))


def _quiet_rset(state: Any) -> Flow[None]:
    # A disconnect (or a reply error, which closes too) surfaces on the caller's next command,
    # not in place of the error that made the flow reset.
    with contextlib.suppress(SMTPServerDisconnected, SMTPReplyError):
        yield from _step(state, "rset", rset)


def mail(state: Any, sender: str, options: Sequence[str] = ()) -> Flow[tuple[int, bytes]]:
    """MAIL FROM; ``SMTPUTF8`` among the options switches commands to UTF-8."""
    optionlist = ""
    if options and state.does_esmtp:
        if any(option.lower() == "smtputf8" for option in options):
            if "smtputf8" not in state.esmtp_features:
                raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
            state.command_encoding = "utf-8"
        optionlist = " " + " ".join(options)
    state._accepted = []
    address = quoteaddr(check_argument(sender))
    reply: Reply = yield command_line("mail", f"{FROM}{address}{optionlist}")
    return (reply.code, reply.message)


def rcpt(state: Any, recip: str, options: Sequence[str] = ()) -> Flow[tuple[int, bytes]]:
    """RCPT TO; an accepted recipient is remembered for LMTP's per-recipient replies."""
    optionlist = " " + " ".join(options) if options and state.does_esmtp else ""
    address = quoteaddr(check_argument(recip))
    reply: Reply = yield command_line("rcpt", f"{TO}{address}{optionlist}")
    if reply.code in (250, 251):
        state._accepted.append(recip)
    return (reply.code, reply.message)


def verify(address: str) -> Flow[tuple[int, bytes]]:
    """VRFY with the bare address."""
    return (yield from simple(command_line("vrfy", addr_only(check_argument(address)))))


def expn(address: str) -> Flow[tuple[int, bytes]]:
    """EXPN with the bare address."""
    return (yield from simple(command_line("expn", addr_only(check_argument(address)))))


def data(state: Any, msg: str | bytes) -> Flow[tuple[int, bytes]]:
    """DATA, the message, and the reply to its end (one per accepted recipient for LMTP).

    The end-of-data reply is kept in ``state.last_data_reply`` and ``state.last_data_replies``
    (``[(recipient, reply), ...]``). For LMTP the returned reply is the first refusal if any
    recipient was refused, else the first reply.
    """
    pieces = data_pieces(msg)  # a str that is not ASCII fails here, before DATA is sent
    reply: Reply = yield command_line("data")
    if state.debuglevel > 0:
        yield Debug("data:", (reply.code, reply.message))
    if reply.code != 354:
        raise SMTPDataError(reply.code, reply.message)
    reply = yield pieces
    if state.debuglevel > 0:
        yield Debug("data:", (reply.code, reply.message))
    accepted: list[str] = state._accepted
    state._accepted = []
    if state._lmtp and len(accepted) > 1:
        replies = [(accepted[0], reply)]
        for recipient in accepted[1:]:
            replies.append((recipient, (yield READ)))
        reply = next((r for _, r in replies if r.code != 250), reply)
    else:
        replies = [(recipient, reply) for recipient in accepted]
    state.last_data_reply = reply
    state.last_data_replies = replies
    return (reply.code, reply.message)


def _check_size(state: Any, size: int, from_addr: str) -> None:
    limit = state.esmtp_features.get("size", "")
    if limit.isdigit() and 0 < int(limit) < size:
        raise SMTPSenderRefused(
            552,
            b"5.3.4 Message size exceeds fixed maximum message size "
            + f"(client-side check: {size} > {limit} bytes)".encode("ascii"),
            from_addr,
        )


def _close_or_rset(state: Any, code: int) -> Flow[None]:
    if code == 421:
        yield CLOSE
    else:
        yield from _quiet_rset(state)


def sendmail(
    state: Any,
    from_addr: str,
    to_addrs: str | Sequence[str],
    msg: str | bytes,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
) -> Flow[dict[str, tuple[int, bytes]]]:
    """A whole transaction; returns the refused recipients ``{addr: (code, message)}``.

    smtplib's rules: a refused sender raises SMTPSenderRefused, all recipients refused raises
    SMTPRecipientsRefused, a refused message raises SMTPDataError; each after RSET, or after
    closing the connection when the server said 421. Ours on top: a refused DATA command resets
    too (smtplib leaves the transaction open), every argument is checked for control characters
    before anything is sent, the message size is checked against the server's SIZE before MAIL,
    and for LMTP a recipient refused after the data is added to the refused dict (SMTPDataError
    only when every recipient was refused).
    """
    recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
    _check_arguments(from_addr, recipients, mail_options, rcpt_options)
    yield from _ehlo_or_helo_if_needed(state)
    if isinstance(msg, str):
        msg = fix_eols(msg).encode("ascii")
    esmtp_opts: list[str] = []
    if state.does_esmtp:
        if "size" in state.esmtp_features:
            _check_size(state, len(msg), from_addr)
            esmtp_opts.append(f"size={len(msg)}")
        esmtp_opts.extend(mail_options)
    code, resp = yield from _step(state, "mail", mail, from_addr, esmtp_opts)
    if code != 250:
        yield from _close_or_rset(state, code)
        raise SMTPSenderRefused(code, resp, from_addr)
    refused: dict[str, tuple[int, bytes]] = {}
    for each in recipients:
        code, resp = yield from _step(state, "rcpt", rcpt, each, rcpt_options)
        if code not in (250, 251):
            refused[each] = (code, resp)
        if code == 421:
            yield CLOSE
            raise SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        yield from _quiet_rset(state)
        raise SMTPRecipientsRefused(refused)
    try:
        code, resp = yield from _step(state, "data", data, msg)
    except SMTPDataError as refused_data:  # the DATA command itself was refused
        yield from _close_or_rset(state, refused_data.smtp_code)
        raise
    closing = code == 421
    if state._lmtp:
        failed = [(rcpt, reply) for rcpt, reply in state.last_data_replies if reply.code != 250]
        closing = closing or any(reply.code == 421 for _, reply in failed)
        if failed and len(failed) < len(state.last_data_replies):
            for recipient, reply in failed:
                refused[recipient] = (reply.code, reply.message)
            if closing:
                yield CLOSE
            return refused
    if code != 250:
        if closing:
            yield CLOSE
        else:
            yield from _quiet_rset(state)
        raise SMTPDataError(code, resp)
    return refused


def _check_arguments(
    from_addr: str,
    recipients: list[str],
    mail_options: Sequence[str],
    rcpt_options: Sequence[str],
) -> None:
    """ValueError for a control character anywhere in the envelope, before a byte is sent."""
    for text in (from_addr, *recipients, *mail_options, *rcpt_options):
        check_argument(text)


def send_message(
    state: Any,
    msg: email.message.Message,
    from_addr: str | None,
    to_addrs: str | Sequence[str] | None,
    mail_options: Sequence[str],
    rcpt_options: Sequence[str],
) -> Flow[dict[str, tuple[int, bytes]]]:
    """Flatten ``msg`` (without Bcc), take the envelope from its headers where not given, send.

    Non-ASCII envelope addresses need the server's SMTPUTF8 (SMTPNotSupportedError otherwise)
    and then send with ``SMTPUTF8`` and ``BODY=8BITMIME`` and UTF-8 headers, as smtplib does.
    """
    yield from _ehlo_or_helo_if_needed(state)
    from_addr, to_addrs = envelope_from_headers(msg, from_addr, to_addrs)
    international = needs_smtputf8(from_addr, to_addrs)
    if international:
        if "smtputf8" not in state.esmtp_features:
            raise SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email "
                "support, but the server does not advertise the required SMTPUTF8 capability"
            )
        mail_options = (*mail_options, "SMTPUTF8", "BODY=8BITMIME")
    flat = flatten(msg, international)
    args = (from_addr, to_addrs, flat, mail_options, rcpt_options)
    return (yield from _step(state, "sendmail", sendmail, *args))


def starttls(state: Any, context: object) -> Flow[tuple[int, bytes]]:
    """STARTTLS, then TLS with ``context``; the session (EHLO state) starts afresh."""
    yield from _ehlo_or_helo_if_needed(state)
    if "starttls" not in state.esmtp_features:
        raise SMTPNotSupportedError("STARTTLS extension not supported by server.")
    reply: Reply = yield command_line("STARTTLS")
    if reply.code != 220:
        raise SMTPResponseException(reply.code, reply.message)
    yield StartTLS(context)
    _forget_session(state)
    return (reply.code, reply.message)


def login(
    state: Any, user: str, password: str, initial_response_ok: bool
) -> Flow[tuple[int, bytes]]:
    """AUTH with the best mechanism both sides know: CRAM-MD5, PLAIN, LOGIN (smtplib's order).

    Each is tried in turn while the server refuses the credentials; the last refusal is raised.
    XOAUTH2 (``password`` is then the OAuth 2.0 token) is used only when the server offers none
    of the three, where smtplib would give up. NUL, CR or LF in ``user`` or ``password`` is a
    ValueError before anything is sent.
    """
    check_credentials(user, password)
    yield from _ehlo_or_helo_if_needed(state)
    if "auth" not in state.esmtp_features:
        raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    advertised = state.esmtp_features["auth"].split()
    mechanisms = [m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in advertised]
    if not mechanisms and "XOAUTH2" in advertised:
        mechanisms = ["XOAUTH2"]
    if not mechanisms:
        raise SMTPException("No suitable authentication method found.")
    state.user, state.password = user, password
    last_error: SMTPAuthenticationError | None = None
    for mechanism in mechanisms:
        authobject = getattr(state, "auth_" + mechanism.lower().replace("-", "_"))
        try:
            if _overridden(state, "auth"):
                kwargs = {"initial_response_ok": initial_response_ok}
                code, resp = yield Call("auth", (mechanism, authobject), kwargs)
            else:
                code, resp = yield from auth_flow(state, mechanism, authobject, initial_response_ok)
        except SMTPAuthenticationError as error:
            last_error = error
        else:
            if code in (235, 503):
                return (code, resp)
            last_error = SMTPAuthenticationError(code, resp)  # an override's odd reply
    assert last_error is not None
    raise last_error


def quit(state: Any) -> Flow[tuple[int, bytes]]:
    """QUIT, forget the session, close."""
    result = yield from simple(command_line("quit"))
    _forget_session(state)
    yield CLOSE
    return result

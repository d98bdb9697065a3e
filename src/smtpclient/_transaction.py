"""Mail transactions (sans-I/O): ``sendmail`` and ``send_message``, pipelined or in lockstep.

smtplib's rules, kept on both paths: a refused sender raises SMTPSenderRefused, all recipients
refused raises SMTPRecipientsRefused, a refused message raises SMTPDataError; each after RSET,
or after closing the connection when the server said 421. Ours on top: a refused DATA command
resets too (smtplib leaves the transaction open); every argument is checked for control
characters, and every command line for its encoding, before anything is sent; the message size
is checked against the server's SIZE before MAIL; for LMTP a recipient refused after the data is
added to the refused dict (SMTPDataError only when every recipient was refused).

**PIPELINING** (RFC 2920): when the server advertises it, the caller allows it and MAIL, RCPT
and DATA are the core's own (no hook replaces them), MAIL, every RCPT and DATA are written in
one go and their replies read in order; the message follows only on 354. At most
:data:`PIPELINE_WINDOW` characters of commands are written before their replies are read, so a
server that answers before it reads more never deadlocks with the client, however many
recipients there are. A batch ends at DATA: nothing is pipelined past a command whose reply
decides what comes next (EHLO, STARTTLS, AUTH are never batched). When no recipient was
accepted the message is never sent: a server that answers DATA with 354 anyway gets the bare
terminating dot, then RSET.
"""

from __future__ import annotations

import email.message
from collections.abc import Sequence
from typing import Final

from ._commands import Command, check_argument
from ._events import CLOSE, READ, Chunk, Debug, Flow, ReadUpTo, Send
from ._exceptions import (
    SMTPDataError,
    SMTPNotSupportedError,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from ._hooks import NO_HOOKS, Hooks
from ._message import data_pieces, envelope_from_headers, fix_eols, flatten, needs_smtputf8
from ._replies import Reply
from ._session import Session
from ._steps import (
    DATA,
    close_or_rset,
    data,
    data_replies,
    greet,
    has_extn,
    mail,
    mail_encoding,
    mail_line,
    quiet_rset,
    rcpt,
    rcpt_command,
)

__all__ = ["PIPELINE_WINDOW", "Envelope", "send_message", "sendmail"]

PIPELINE_WINDOW: Final = 4096
"""Most characters of commands written before their replies are read (RFC 2920, 5: the
client must not fill the server's buffers while it does not read; Postfix, likewise, keeps
unacknowledged commands within a socket buffer). 4 KiB of ASCII is below any TCP buffer."""

Refused = dict[str, tuple[int, bytes]]
_END_OF_EMPTY_DATA: Final = (b".\r\n",)


class Envelope:
    """One message ready to go: sender, recipients, bytes, MAIL options (SIZE included), and
    the MAIL and RCPT commands (built once, to check their encoding before anything is sent)."""

    __slots__ = (
        "body",
        "commands",
        "encoding",
        "from_addr",
        "mail_options",
        "rcpt_options",
        "recipients",
    )

    def __init__(
        self,
        from_addr: str,
        recipients: list[str],
        body: bytes,
        mail_options: list[str],
        rcpt_options: Sequence[str],
        commands: list[Command],
        encoding: str,
    ) -> None:
        self.from_addr = from_addr
        self.recipients = recipients
        self.body = body
        self.mail_options = mail_options
        self.rcpt_options = rcpt_options
        self.commands = commands
        self.encoding = encoding


def recipient_list(to_addrs: str | Sequence[str]) -> list[str]:
    """smtplib's rule: one address as a str, else a sequence of them."""
    return [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)


def check_arguments(
    from_addr: str, recipients: list[str], mail_options: Sequence[str], rcpt_options: Sequence[str]
) -> None:
    """ValueError for a control character anywhere in the envelope, before a byte is sent."""
    for text in (from_addr, *recipients, *mail_options, *rcpt_options):
        check_argument(text)


def prepare(
    session: Session,
    hooks: Hooks,
    from_addr: str,
    recipients: list[str],
    msg: str | bytes,
    mail_options: Sequence[str],
    rcpt_options: Sequence[str],
) -> Envelope:
    """The envelope of a greeted session, every check done that needs no reply.

    The message size against SIZE (SMTPSenderRefused 552, as a server would answer), and every
    command line against the encoding it will be sent in (UnicodeEncodeError, smtplib's error,
    but before MAIL instead of in the middle of the transaction).
    """
    body = fix_eols(msg).encode("ascii") if isinstance(msg, str) else msg
    options: list[str] = []
    if session.does_esmtp:
        if has_extn(session, hooks, "size"):
            _check_size(session, len(body), from_addr)
            options.append(f"size={len(body)}")
        options.extend(mail_options)
    encoding = mail_encoding(session, options, hooks)
    commands = [mail_line(session, from_addr, options)]
    commands += [rcpt_command(session, r, rcpt_options) for r in recipients]
    if encoding != "utf-8":
        for cmd in commands:
            if not cmd.line.isascii():
                cmd.line.encode(encoding)  # the error smtplib raises when it sends the line
    return Envelope(from_addr, recipients, body, options, rcpt_options, commands, encoding)


def _check_size(session: Session, size: int, from_addr: str) -> None:
    limit = session.esmtp_features.get("size", "")
    if limit.isdigit() and 0 < int(limit) < size:
        raise SMTPSenderRefused(
            552,
            b"5.3.4 Message size exceeds fixed maximum message size "
            + f"(client-side check: {size} > {limit} bytes)".encode("ascii"),
            from_addr,
        )


def may_pipeline(session: Session, hooks: Hooks, pipelining: bool) -> bool:
    """Whether a transaction may be pipelined (see the module's docstring)."""
    return pipelining and hooks.batchable and has_extn(session, hooks, "pipelining")


def sendmail(
    session: Session,
    from_addr: str,
    to_addrs: str | Sequence[str],
    msg: str | bytes,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
    *,
    hooks: Hooks = NO_HOOKS,
    pipelining: bool = True,
) -> Flow[Refused]:
    """A whole transaction; returns the refused recipients ``{addr: (code, message)}``."""
    recipients = recipient_list(to_addrs)
    check_arguments(from_addr, recipients, mail_options, rcpt_options)
    if hooks.ehlo_or_helo_if_needed or (session.helo_resp is None and session.ehlo_resp is None):
        yield from greet(session, hooks)
    envelope = prepare(session, hooks, from_addr, recipients, msg, mail_options, rcpt_options)
    if recipients and may_pipeline(session, hooks, pipelining):
        batches = windows(commands_of(session, envelope))
        yield Send(batches[0])
        pieces = data_pieces(envelope.body)  # made while the server answers
        refused = yield from open_transaction(session, hooks, envelope, batches, first_sent=True)
        yield message_chunk(session, pieces)
        return (yield from finish_transaction(session, hooks, refused, reset=True))
    return (yield from _lockstep(session, hooks, envelope))


def _lockstep(session: Session, hooks: Hooks, envelope: Envelope) -> Flow[Refused]:
    """One command at a time, each step through the hooks (smtplib's sendmail)."""
    from_addr, options = envelope.from_addr, envelope.mail_options
    code, resp = yield from (
        hooks.mail(from_addr, options) if hooks.mail else mail(session, from_addr, options, hooks)
    )
    if code != 250:
        yield from close_or_rset(session, hooks, code)
        raise SMTPSenderRefused(code, resp, from_addr)
    refused: Refused = {}
    for each in envelope.recipients:
        rcpt_options = envelope.rcpt_options
        code, resp = yield from (
            hooks.rcpt(each, rcpt_options) if hooks.rcpt else rcpt(session, each, rcpt_options)
        )
        if code not in (250, 251):
            refused[each] = (code, resp)
        if code == 421:
            yield CLOSE
            raise SMTPRecipientsRefused(refused)
    if len(refused) == len(envelope.recipients):
        yield from quiet_rset(session, hooks)
        raise SMTPRecipientsRefused(refused)
    try:
        code, resp = yield from (
            hooks.data(envelope.body) if hooks.data else data(session, envelope.body)
        )
    except SMTPDataError as refused_data:  # the DATA command itself was refused
        yield from close_or_rset(session, hooks, refused_data.smtp_code)
        raise
    return (yield from _conclude(session, hooks, refused, code, resp, reset=True))


def commands_of(session: Session, envelope: Envelope) -> list[Command]:
    """MAIL, every RCPT and DATA for ``envelope``, in the encoding they set for the session.

    The commands may be written before the previous transaction's last reply is read (in
    ``send_many``), so nothing else of the session changes here: :func:`open_transaction`
    starts the transaction when it reads their replies.
    """
    encoding = mail_encoding(session, envelope.mail_options)
    if encoding != envelope.encoding and encoding != "utf-8":  # reset since it was prepared
        for cmd in envelope.commands:
            cmd.line.encode(encoding)
    session.command_encoding = encoding
    return [*envelope.commands, DATA]


def windows(commands: Sequence[Command]) -> list[Sequence[Command]]:
    """``commands`` cut into batches of at most :data:`PIPELINE_WINDOW` characters (at least
    one command each)."""
    if len(commands) < 8 and len("".join([cmd.line for cmd in commands])) <= PIPELINE_WINDOW:
        return [commands]  # the usual case: a few recipients
    batches: list[Sequence[Command]] = []
    start = size = 0
    for end, cmd in enumerate(commands):
        if end > start and size + len(cmd.line) > PIPELINE_WINDOW:
            batches.append(commands[start:end])
            start, size = end, 0
        size += len(cmd.line)
    batches.append(commands[start:])
    return batches


def exchange(batches: list[Sequence[Command]], first_sent: bool = False) -> Flow[list[Reply]]:
    """Write each batch and read its replies; stop at a 421 (the server is closing).

    ``first_sent``: the first batch was written already (with the previous message's data).
    """
    replies: list[Reply] = []
    for number, batch in enumerate(batches):
        if number or not first_sent:
            yield Send(batch)
        wanted = len(batch)
        while wanted:
            got: list[Reply] = yield ReadUpTo(wanted)
            for reply in got:
                replies.append(reply)
                if reply.code == 421:
                    return replies
            wanted -= len(got)
    return replies


def open_transaction(
    session: Session,
    hooks: Hooks,
    envelope: Envelope,
    batches: list[Sequence[Command]],
    first_sent: bool = False,
) -> Flow[Refused]:
    """MAIL, RCPT..., DATA pipelined (``batches`` from :func:`windows`), up to the 354 that
    lets the message follow.

    Returns the refused recipients; raises as the lockstep path would, after RSET or a close.
    """
    session.accepted = []
    replies = yield from exchange(batches, first_sent)
    expected = len(envelope.recipients) + 2
    if _out_of_step(replies, expected):
        yield CLOSE
        codes = [reply.code for reply in replies]
        raise SMTPReplyError(-1, f"Replies out of step with the pipelined commands: {codes}")
    if replies[0].code != 250:
        yield from _abandon(session, hooks, replies, expected)
        raise SMTPSenderRefused(replies[0].code, replies[0].message, envelope.from_addr)
    refused: Refused = {}
    for recipient, reply in zip(envelope.recipients, replies[1:], strict=False):
        if reply.code in (250, 251):
            session.accepted.append(recipient)
            continue
        refused[recipient] = (reply.code, reply.message)
        if reply.code == 421:
            yield CLOSE
            raise SMTPRecipientsRefused(refused)
    if len(refused) == len(envelope.recipients):
        yield from _abandon(session, hooks, replies, expected)
        raise SMTPRecipientsRefused(refused)
    reply = replies[-1]
    if session.debuglevel > 0:
        yield Debug("data:", (reply.code, reply.message))
    if reply.code != 354:
        yield from close_or_rset(session, hooks, reply.code)
        raise SMTPDataError(reply.code, reply.message)
    return refused


def _out_of_step(replies: list[Reply], expected: int) -> bool:
    """Whether a reply cannot answer its command (354 before DATA, success to DATA): the
    server answered more or fewer times than asked, and the connection cannot be trusted (as
    when a reply arrives unasked in lockstep)."""
    last = len(replies) - 1
    for reply in replies[:last]:
        if reply.code == 354:
            return True
    return last + 1 == expected and 200 <= replies[last].code < 300


def _abandon(session: Session, hooks: Hooks, replies: list[Reply], expected: int) -> Flow[None]:
    """End a pipelined transaction that cannot deliver: close after a 421, else end any data
    the server accepted (with the bare dot, so no byte of the message is sent) and reset."""
    if len(replies) < expected or replies[-1].code == 421:
        yield CLOSE
        return
    if replies[-1].code == 354:
        try:
            yield Chunk(_END_OF_EMPTY_DATA)
            reply: Reply = yield READ
        except (SMTPServerDisconnected, SMTPReplyError):
            return  # as after a failed RSET: the next command finds out
        if reply.code == 421:
            yield CLOSE
            return
    yield from quiet_rset(session, hooks)


def message_chunk(session: Session, pieces: list[bytes | memoryview]) -> Chunk:
    """The message's bytes (``data_pieces``) after 354, with the replies due (one per
    accepted recipient for LMTP)."""
    replies = max(len(session.accepted), 1) if session.lmtp else 1
    return Chunk(pieces, replies=replies)


def finish_transaction(
    session: Session, hooks: Hooks, refused: Refused, *, reset: bool
) -> Flow[Refused]:
    """Read the replies to the data written, then :func:`_conclude`."""
    code, resp = yield from data_replies(session)
    if code == 250 and not session.lmtp:
        return refused  # delivered: the usual case needs nothing of _conclude
    return (yield from _conclude(session, hooks, refused, code, resp, reset=reset))


def _conclude(
    session: Session, hooks: Hooks, refused: Refused, code: int, resp: bytes, *, reset: bool
) -> Flow[Refused]:
    """The result of a transaction from the end-of-data reply(ies): the refused dict, or raise.

    ``reset``: RSET after a refused message (sendmail does, as smtplib); send_many does not,
    as the next transaction is already on its way (the end of data ends the transaction).
    """
    closing = code == 421
    if session.lmtp:
        failed = [(rcpt, reply) for rcpt, reply in session.last_data_replies if reply.code != 250]
        closing = closing or any(reply.code == 421 for _, reply in failed)
        if failed and len(failed) < len(session.last_data_replies):
            for recipient, reply in failed:
                refused[recipient] = (reply.code, reply.message)
            if closing:
                yield CLOSE
            return refused
    if code != 250:
        if closing:
            yield CLOSE
        elif reset:
            yield from quiet_rset(session, hooks)
        raise SMTPDataError(code, resp)
    return refused


def send_message(
    session: Session,
    msg: email.message.Message,
    from_addr: str | None = None,
    to_addrs: str | Sequence[str] | None = None,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
    *,
    hooks: Hooks = NO_HOOKS,
    pipelining: bool = True,
) -> Flow[Refused]:
    """Flatten ``msg`` (without Bcc), take the envelope from its headers where not given, send.

    Non-ASCII envelope addresses need the server's SMTPUTF8 (SMTPNotSupportedError otherwise)
    and then send with ``SMTPUTF8`` and ``BODY=8BITMIME`` and UTF-8 headers, as smtplib does.
    """
    yield from greet(session, hooks)
    sender, recipients, flat, options = message_envelope(
        session, hooks, msg, from_addr, to_addrs, mail_options
    )
    if hooks.sendmail:
        return (yield from hooks.sendmail(sender, recipients, flat, options, rcpt_options))
    return (
        yield from sendmail(
            session,
            sender,
            recipients,
            flat,
            options,
            rcpt_options,
            hooks=hooks,
            pipelining=pipelining,
        )
    )


def message_envelope(
    session: Session,
    hooks: Hooks,
    msg: email.message.Message,
    from_addr: str | None,
    to_addrs: str | Sequence[str] | None,
    mail_options: Sequence[str],
) -> tuple[str, str | Sequence[str], bytes, Sequence[str]]:
    """smtplib's ``send_message`` preparation: sender, recipients, bytes, MAIL options."""
    sender, recipients = envelope_from_headers(msg, from_addr, to_addrs)
    international = needs_smtputf8(sender, recipients)
    if international:
        if not has_extn(session, hooks, "smtputf8"):
            raise SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email "
                "support, but the server does not advertise the required SMTPUTF8 capability"
            )
        mail_options = (*mail_options, "SMTPUTF8", "BODY=8BITMIME")
    return sender, recipients, flatten(msg, international), mail_options

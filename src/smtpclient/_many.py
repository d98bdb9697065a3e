"""``send_many``: many messages on one connection, one round trip each when pipelined.

Per ``sendmail`` call, pipelining saves two of four round trips; the rest is the reply to the
end of the data, which the call must wait for. ``send_many`` writes each message's data together
with the next message's MAIL, RCPT and DATA (RFC 2920 allows it: the end of the data ends the
transaction whatever its reply), so a message costs one round trip. Each item gets its own
result, in order: the refused-recipient dict, or the exception ``sendmail`` would have raised for
it; one failed message never changes another's result. Once the connection is lost (a 421, a
hang-up, a broken reply) every message not yet confirmed is failed with SMTPServerDisconnected,
never reported as sent. Without PIPELINING, or when a hook replaces MAIL, RCPT, DATA or
``sendmail``, the messages go one ``sendmail`` (or ``send_message``) after another, through the
hooks, with the same results.
"""

from __future__ import annotations

import email.message
from collections.abc import Iterable, Iterator, Sequence

from ._commands import Command
from ._events import Flow, Send
from ._exceptions import (
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPResponseException,
    SMTPServerDisconnected,
)
from ._hooks import NO_HOOKS, Hooks
from ._message import data_pieces
from ._session import Session
from ._steps import greet
from ._transaction import (
    Envelope,
    check_arguments,
    commands_of,
    finish_transaction,
    may_pipeline,
    message_chunk,
    message_envelope,
    open_transaction,
    prepare,
    recipient_list,
    send_message,
    sendmail,
    windows,
)

__all__ = ["Item", "Result", "send_many"]

Item = email.message.Message | tuple[str, str | Sequence[str], str | bytes]
"""A message for ``send_many``: an ``email.message.Message`` (envelope from its headers, as
``send_message``), or ``(from_addr, to_addrs, msg)`` as ``sendmail`` takes them."""
Result = dict[str, tuple[int, bytes]] | Exception
"""What ``send_many`` gives for one item: the refused recipients, or the exception."""



def send_many(
    session: Session,
    items: Iterable[Item],
    *,
    hooks: Hooks = NO_HOOKS,
    pipelining: bool = True,
) -> Flow[list[Result]]:
    """Send every item; one result per item, in order (see the module's docstring)."""
    todo = list(items)
    results: list[Result | None] = [None] * len(todo)
    try:
        yield from greet(session, hooks)
    except Exception as exc:  # nothing can be sent: every item fails alike
        return [exc] * len(todo)
    if hooks.sendmail or not may_pipeline(session, hooks, pipelining):
        for index, item in enumerate(todo):
            try:
                results[index] = yield from _one(session, hooks, item)
            except Exception as exc:
                results[index] = exc
    else:
        yield from _pipelined(session, hooks, todo, results)
    return [_unconfirmed() if result is None else result for result in results]


def _unconfirmed() -> SMTPServerDisconnected:
    return SMTPServerDisconnected("Connection lost before this message was confirmed")


def _one(session: Session, hooks: Hooks, item: Item) -> Flow[dict[str, tuple[int, bytes]]]:
    if isinstance(item, email.message.Message):
        return (yield from send_message(session, item, hooks=hooks, pipelining=False))
    from_addr, to_addrs, msg = item
    if hooks.sendmail:  # a replaced sendmail sees every message, as send_message's do
        return (yield from hooks.sendmail(from_addr, to_addrs, msg, (), ()))
    return (yield from sendmail(session, from_addr, to_addrs, msg, hooks=hooks, pipelining=False))


def _prepared(
    session: Session, hooks: Hooks, todo: list[Item], results: list[Result | None]
) -> Iterator[tuple[int, Envelope]]:
    """Each item that can be sent, ready; the others get their error as their result."""
    for index, item in enumerate(todo):
        msg: str | bytes
        try:
            if isinstance(item, email.message.Message):
                sender, to_addrs, msg, options = message_envelope(
                    session, hooks, item, None, None, ()
                )
            else:
                sender, to_addrs, msg = item
                options = ()
            recipients = recipient_list(to_addrs)
            if not recipients:  # sendmail would send MAIL and RSET, and raise this
                raise SMTPRecipientsRefused({})
            check_arguments(sender, recipients, options, ())
            yield index, prepare(session, hooks, sender, recipients, msg, options, ())
        except Exception as exc:
            results[index] = exc


def _pipelined(
    session: Session, hooks: Hooks, todo: list[Item], results: list[Result | None]
) -> Flow[None]:
    """Each message's data written with the next message's first batch of commands; the
    messages after it are prepared while the server answers, not while the client waits."""
    ready = _prepared(session, hooks, todo, results)
    item = next(ready, None)
    batches: list[Sequence[Command]] | None = None  # item's, once its first batch is written
    pieces: list[bytes | memoryview] | None = None  # item's data, once made
    following: tuple[int, Envelope] | None = None
    ahead = False  # whether ``following`` was taken from ``ready`` already
    while item is not None:
        index, envelope = item
        try:
            if batches is None:
                batches = yield from _start(session, envelope)
            if pieces is None:
                pieces = data_pieces(envelope.body)
            if not ahead:
                following, ahead = next(ready, None), True
            refused = yield from open_transaction(session, hooks, envelope, batches, True)
        except Exception as exc:
            results[index] = exc
            if _lost(exc):
                return
            item = following if ahead else next(ready, None)
            batches = pieces = following = None
            ahead = False
            continue
        yield message_chunk(session, pieces)
        batches = pieces = None
        if following is not None:
            try:
                batches = yield from _start(session, following[1])
                pieces = data_pieces(following[1].body)  # while the server answers
            except Exception as exc:  # nothing of it was written
                results[following[0]] = exc
                following = next(ready, None)
        after = next(ready, None) if following is not None else None  # likewise
        try:
            results[index] = yield from finish_transaction(session, hooks, refused, reset=False)
        except Exception as exc:
            results[index] = exc
            if _lost(exc):
                return
        item, following = following, after


def _start(session: Session, envelope: Envelope) -> Flow[list[Sequence[Command]]]:
    """Write the first batch of ``envelope``'s commands; return all its batches."""
    batches = windows(commands_of(session, envelope))
    yield Send(batches[0])
    return batches


def _lost(exc: Exception) -> bool:
    """Whether the connection is gone after ``exc``: the flows close on 421, the drivers on a
    hang-up or a broken reply."""
    if isinstance(exc, (SMTPServerDisconnected, SMTPReplyError)):
        return True
    if isinstance(exc, SMTPResponseException):
        return bool(exc.smtp_code == 421)
    if isinstance(exc, SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    return False

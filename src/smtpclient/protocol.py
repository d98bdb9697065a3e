"""The sans-I/O core of smtpclient: SMTP and LMTP as flows, for any driver to run.

This module is the public, stable face of the core. It does no I/O: no socket, no TLS, no clock,
no event loop. ``smtpclient.SMTP`` (blocking) is one driver over it; an asyncio driver, a trio
driver or a test harness is written against this module alone.

How it fits together:

- A :class:`Session` holds what the protocol knows of one connection (greeting, EHLO/HELO
  results, extensions, encoding, TLS and auth state, the last data replies). The driver creates
  it, calls :meth:`Session.new_connection` when it connects, and otherwise only reads it.
- A *flow* (``sendmail(session, ...)``, ``ehlo(session)``...) is a generator. It yields events
  and receives their results; its return value is the operation's result, and its exceptions
  are smtplib's (``smtpclient.SMTPSenderRefused``...). The events:

  - :class:`Send` ``(commands)``: write each :class:`Command`'s ``line``, encoded with
    ``session.command_encoding``; send back None. One reply is due per command.
  - :class:`Read` (:data:`READ`): read the next reply (a :class:`ReplyParser` turns bytes into
    :class:`Reply` objects) and send it back.
  - :class:`ReadUpTo` ``(limit)``: send back a list of the replies already received (at most
    ``limit``), or of the next one if none is; ``[next reply]`` is always a correct answer.
  - :class:`Chunk` ``(data, command, replies)``: write ``command`` (if any) then the message
    bytes ``data`` (buffers, sent as their concatenation); send back None.
  - :class:`StartTLS` ``(context)``: start TLS on the connection, dropping unread plaintext.
  - :class:`Close` (:data:`CLOSE`): close the connection.
  - :class:`Debug` ``(*args)``: debug output, printed only if the driver shows it.

  A driver may hold what it writes until the next Read, and should (a pipelined batch then
  leaves in one write). If performing an event fails (a hang-up, a timeout, a malformed reply)
  the driver throws the exception into the flow (``flow.throw(exc)``) and carries on with the
  event the flow yields next: flows recover (RSET, close) and re-raise.
- :class:`Hooks`: smtplib's subclass hooks. Compound flows (``sendmail``, ``send_message``,
  ``login``...) take each step through ``hooks`` when the driver puts a replacement there (the
  blocking driver does when an application overrides ``SMTP.mail`` and the like); pass
  :data:`NO_HOOKS`, the default, to run the core's own steps.

A whole blocking driver over a connected socket fits in a few lines::

    def drive(sock, parser, session, flow):
        value = None
        while True:
            try:
                event = flow.send(value)
            except StopIteration as stop:
                return stop.value
            value = None
            if isinstance(event, protocol.Send):
                enc = session.command_encoding
                sock.sendall(b"".join(c.line.encode(enc) for c in event.commands))
            elif isinstance(event, protocol.Chunk):
                head = event.command.line.encode() if event.command else b""
                sock.sendall(head + b"".join(event.data))
            elif isinstance(event, (protocol.Read, protocol.ReadUpTo)):
                while (value := parser.next_reply()) is None:
                    parser.receive(sock.recv(65536))  # (EOF handling left out)
                if isinstance(event, protocol.ReadUpTo):
                    value = [value]
            elif isinstance(event, protocol.Close):
                sock.close()

PIPELINING (RFC 2920) is used by ``sendmail``, ``send_message`` and ``send_many`` when the
server advertises it and their ``pipelining`` argument is True (the default); the rules, and
the bound on unacknowledged commands (:data:`PIPELINE_WINDOW`), are documented in the flows.
"""

from __future__ import annotations

from ._auth import auth_flow as auth
from ._auth import authobject
from ._commands import Command
from ._events import (
    CLOSE,
    READ,
    Chunk,
    Close,
    Debug,
    Event,
    Flow,
    Read,
    ReadUpTo,
    Send,
    StartTLS,
)
from ._hooks import NO_HOOKS, AuthObject, Hooks
from ._login import login
from ._many import Item, Result, send_many
from ._replies import MAX_LINE, MAX_REPLY_LINES, MAX_REPLY_SIZE, Reply, ReplyParser
from ._session import Session
from ._steps import command as simple
from ._steps import (
    data,
    ehlo,
    ehlo_or_helo_if_needed,
    expn,
    greeting,
    helo,
    mail,
    quit,
    rcpt,
    rset,
    starttls,
    verify,
)
from ._transaction import PIPELINE_WINDOW, send_message, sendmail

__all__ = [
    "CLOSE",
    "MAX_LINE",
    "MAX_REPLY_LINES",
    "MAX_REPLY_SIZE",
    "NO_HOOKS",
    "PIPELINE_WINDOW",
    "READ",
    "AuthObject",
    "Chunk",
    "Close",
    "Command",
    "Debug",
    "Event",
    "Flow",
    "Hooks",
    "Item",
    "Read",
    "ReadUpTo",
    "Reply",
    "ReplyParser",
    "Result",
    "Send",
    "Session",
    "StartTLS",
    "auth",
    "authobject",
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
    "send_many",
    "send_message",
    "sendmail",
    "simple",
    "starttls",
    "verify",
]

"""The events a flow yields to its driver, and what the driver sends back for each.

A flow is a generator (the idea of httpx's auth flows, and of h11's events): it yields events,
the driver performs each and sends back its result, and when the driver fails to perform one
(a hang-up, a timeout, a bad reply) it throws the exception into the flow instead, so recovery
is written in the flow too.

=================  ==========================================================  =============
event              the driver                                                  sends back
=================  ==========================================================  =============
:class:`Send`      writes the command lines (encoded with the session's        None
                   ``command_encoding``); one reply is due for each
:class:`Read`      reads the next reply                                        a ``Reply``
:class:`ReadUpTo`  reads the replies already received, up to ``limit``, or      a list of
                   the next one if none is                                     ``Reply``
:class:`Chunk`     writes message bytes (after ``command``, if any); one       None
                   reply is due for it (LMTP: ``replies`` of them)
:class:`StartTLS`  wraps the connection in TLS, dropping buffered plaintext    None
:class:`Close`     closes the connection                                       None
:class:`Debug`     prints ``args`` if it shows debug output                    None
=================  ==========================================================  =============

Writing and reading are separate events, so a batch of commands is written and its replies are
read in order (PIPELINING); a driver may hold what it writes until the next Read, so a batch
goes out in one write. ``Chunk`` carries message bytes with a reply of their own, which is what
both DATA's content and BDAT (RFC 3030) need. No event names a socket, a clock or a loop.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Final, TypeVar

from ._commands import Command

__all__ = [
    "CLOSE",
    "READ",
    "Chunk",
    "Close",
    "Debug",
    "Event",
    "Flow",
    "Read",
    "ReadUpTo",
    "Send",
    "StartTLS",
]

T = TypeVar("T")


class Send:
    """Write ``commands`` (a batch: one write is fine); a reply is due for each."""

    __slots__ = ("commands",)

    def __init__(self, commands: Sequence[Command]) -> None:
        self.commands = commands

    def __repr__(self) -> str:
        return f"Send({list(self.commands)!r})"


class Read:
    """Read the next reply and send it back. Use the :data:`READ` instance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "READ"


class ReadUpTo:
    """Read up to ``limit`` replies: every one already received (none beyond ``limit``), or the
    next one if none is; send back their list (one to ``limit`` replies, in order).

    A pipelined batch's replies usually arrive together: this takes them in one event. A
    driver may always send back just the next reply, as for :class:`Read`.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __repr__(self) -> str:
        return f"ReadUpTo({self.limit})"


class Chunk:
    """Write message bytes: ``data`` is buffers sent as their concatenation.

    ``command`` (BDAT's, for example) is written just before them, if given. ``replies`` is how
    many replies are due for the chunk: one, or one per accepted recipient for LMTP's data.
    """

    __slots__ = ("command", "data", "replies")

    def __init__(
        self, data: Sequence[bytes | memoryview], command: Command | None = None, replies: int = 1
    ) -> None:
        self.data = data
        self.command = command
        self.replies = replies

    def __repr__(self) -> str:
        size = sum(len(piece) for piece in self.data)
        return f"Chunk({size} bytes, command={self.command!r}, replies={self.replies})"


class StartTLS:
    """Start TLS on the connection with ``context`` (what the driver's TLS layer takes)."""

    __slots__ = ("context",)

    def __init__(self, context: object) -> None:
        self.context = context


class Close:
    """Close the connection (after a 421, after QUIT). Use the :data:`CLOSE` instance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSE"


class Debug:
    """Debug output: ``print(*args)`` to stderr if the driver shows debug output."""

    __slots__ = ("args",)

    def __init__(self, *args: object) -> None:
        self.args = args


READ: Final = Read()
CLOSE: Final = Close()

Event = Send | Read | ReadUpTo | Chunk | StartTLS | Close | Debug
Flow = Generator[Event, Any, T]
"""A flow returning ``T``: yields events, receives their results (see the table above)."""

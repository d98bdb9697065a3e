"""The events a flow yields to its driver, and what the driver sends back for each.

A flow yields *events* and receives replies (the idea of httpx's auth flows):

- a ``str`` is a command line (CRLF included): the driver encodes it with
  ``state.command_encoding``, sends it and sends back the next :class:`Reply`;
- ``bytes`` are data: sent as they are, then the next reply is sent back; a ``list`` of
  bytes-like pieces is message data, sent as their concatenation (scatter/gather when possible);
- :data:`READ`: send back the next reply without sending anything (LMTP's per-recipient replies);
- :data:`CLOSE`: close the connection (after a 421);
- :class:`StartTLS`: wrap the connection in TLS with ``event.context``, dropping any buffered
  plaintext;
- :class:`Debug`: print ``event.args`` as debug output;
- :class:`Call`: call the client's public method ``event.name`` and send back its result.

smtplib's compound methods call its public ones (``sendmail`` calls ``self.mail``, ``self.rcpt``
and ``self.data``; ``send_message`` calls ``self.sendmail``; ``login`` calls ``self.auth``...),
and applications override those in subclasses. So a flow asks ``state._overrides(name)`` before
each such step, and when the client's class (or the object) replaces that method, the flow
yields a :class:`Call` to it instead of running the step itself. A state without
``_overrides`` (an asyncio driver, a test) runs every step itself.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final, TypeVar

__all__ = ["CLOSE", "READ", "Call", "Debug", "Event", "Flow", "StartTLS"]

T = TypeVar("T")


class _Marker:
    """A bare event: READ or CLOSE."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


READ: Final = _Marker("READ")
CLOSE: Final = _Marker("CLOSE")


class StartTLS:
    """Event: start TLS on the connection with ``context`` (an ``ssl.SSLContext``)."""

    __slots__ = ("context",)

    def __init__(self, context: object) -> None:
        self.context = context


class Debug:
    """Event: debug output (``print(*args)`` to stderr, as smtplib's ``_print_debug``)."""

    __slots__ = ("args",)

    def __init__(self, *args: object) -> None:
        self.args = args


class Call:
    """Event: call the client's public method ``name(*args, **kwargs)``; send back its result."""

    __slots__ = ("args", "kwargs", "name")

    def __init__(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
    ) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}


Event = str | bytes | list[bytes | memoryview] | _Marker | StartTLS | Debug | Call
Flow = Generator[Event, Any, T]

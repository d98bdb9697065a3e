"""ServerError: an exception raised inside the server's loop thread, carried to the test."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

__all__ = ["NotStored", "ServerError"]


class ServerError(Exception):
    """An error raised in the server thread (a bug in smtpfake or in a rule's callable).

    The server thread cannot raise into the test, so the error is stored and re-raised in the
    caller's thread by the next ``check()``, ``assert_*``, ``wait_for`` or ``stop()``.
    ``tracebacks`` holds the formatted traceback of every stored error, oldest first.
    """

    def __init__(self, tracebacks: list[str]) -> None:
        self.tracebacks = tuple(tracebacks)
        count = len(self.tracebacks)
        head = f"{count} error(s) in the fake server thread; the first:\n"
        super().__init__(head + (self.tracebacks[0] if self.tracebacks else ""))


class NotStored(Exception):
    """The server's ``store`` could not keep an accepted message; ``reply`` is the 451 to send."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def reply(self, recipient: str | None = None) -> str:
        """The transient failure the client gets instead of a 2xx (LMTP: for ``recipient``)."""
        who = f"<{recipient}> " if recipient is not None else ""
        return f"451 4.3.0 {who}Message not stored ({self.reason}), try again later"


class _ErrorStore:
    """Thread-safe holding area for server-thread errors until the caller checks."""

    def __init__(self, on_error: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._on_error = on_error

    def add(self, error: BaseException) -> None:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        with self._lock:
            self._pending.append(text)
        if self._on_error is not None:
            self._on_error()

    def pending(self) -> bool:
        return bool(self._pending)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def raise_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            raise ServerError(pending)

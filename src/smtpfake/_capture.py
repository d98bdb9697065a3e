"""Capture: accepted messages, sessions and their transcripts, as immutable records."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal, NamedTuple, overload

from ._misbehaviour import escape

__all__ = ["CapturedMessage", "Outbox", "Session", "TranscriptLine"]


class TranscriptLine(NamedTuple):
    """One line of a session: ``C`` the client's command, ``S`` our reply, ``!`` an event."""

    direction: Literal["C", "S", "!"]
    text: str

    def __str__(self) -> str:
        return f"{self.direction}: {self.text}"


@dataclass(frozen=True)
class Session:
    """A snapshot of one connection: who, how, and everything said."""

    peer: Any
    helo_name: str | None
    tls: bool
    auth_user: str | None
    transcript: tuple[TranscriptLine, ...]

    def format_transcript(self) -> str:
        """The transcript as text, one ``C:``/``S:``/``!:`` line each."""
        return "\n".join(str(line) for line in self.transcript)


class _SessionRecord:
    """The live, mutable side of a session; written by the loop thread, snapshotted on demand."""

    __slots__ = ("auth_user", "helo_name", "lines", "peer", "tls")

    def __init__(self, peer: Any, tls: bool) -> None:
        self.peer = peer
        self.tls = tls
        self.helo_name: str | None = None
        self.auth_user: str | None = None
        self.lines: list[TranscriptLine] = []

    def add(self, direction: Literal["C", "S", "!"], text: str) -> None:
        """Append a line, control characters escaped: in both directions, as aiosmtpd's
        ``500 ... not recognized`` echoes the client's bytes, and transcripts reach reports."""
        if not text.isprintable():  # one C call decides the common, clean line
            text = escape(text)
        self.lines.append(TranscriptLine(direction, text))

    def snapshot(self) -> Session:
        """The session as it is now."""
        return self.cut().session()

    def cut(self) -> _SessionCut:
        """The session as it is now, made into a Session only when asked (see ``_SessionCut``)."""
        return _SessionCut(self.peer, self.helo_name, self.tls, self.auth_user, self.lines,
                           len(self.lines))


class _SessionCut(NamedTuple):
    """A session's facts copied now, and its transcript up to now.

    Lines are only ever appended to a record, so the first ``upto`` of them never change: the
    transcript is copied when the ``Session`` is built, not when a message is accepted (a long
    connection would copy it for every message).
    """

    peer: Any
    helo_name: str | None
    tls: bool
    auth_user: str | None
    lines: list[TranscriptLine]
    upto: int

    def session(self) -> Session:
        return Session(self.peer, self.helo_name, self.tls, self.auth_user,
                       tuple(self.lines[: self.upto]))


@dataclass(frozen=True)
class CapturedMessage:
    """One accepted message: the envelope, the exact bytes, the parsed message and its session.

    ``raw`` is the data exactly as received, after dot-unstuffing. Everything is as it was when
    the message was accepted; ``message`` and ``session`` are built from that on first access
    (in the caller's thread), so capture stays cheap for big mail.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    rcpt_options: tuple[tuple[str, ...], ...]
    raw: bytes
    accepted_for: tuple[str, ...]
    received_at: float = field(default_factory=time.time, compare=False)
    _session: _SessionCut | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # raw may be megabytes: keep failure output readable
        return (f"<CapturedMessage from={self.mail_from!r} to={list(self.rcpt_tos)!r} "
                f"size={len(self.raw)}>")

    @property
    def message(self) -> EmailMessage:
        """The message parsed with ``email.policy.default``."""
        msg = self._cache.get("message")
        if msg is None:
            msg = email.message_from_bytes(self.raw, policy=email.policy.default)
            self._cache["message"] = msg
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def session(self) -> Session:
        """The session this message arrived on, as it was when the message was accepted."""
        sess = self._cache.get("session")
        if sess is None:
            if self._session is None:
                sess = Session(None, None, False, None, ())
            else:
                sess = self._session.session()
            self._cache["session"] = sess
        assert isinstance(sess, Session)
        return sess

    @property
    def subject(self) -> str | None:
        """The decoded Subject header, or None."""
        value = self.message["Subject"]
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        """The body as text (plain part preferred, then html), decoded, with ``\n`` line ends."""
        text = ""
        part = self.message.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else None
        if isinstance(content, str):
            text = content
        else:
            payload = self.message.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode("utf-8", errors="replace")
        return text.replace("\r\n", "\n")

    def summary(self) -> str:
        """One line: sender, recipients, subject, size (used by assertions and the CLI)."""
        return (
            f"from={self.mail_from!r} to={list(self.rcpt_tos)!r} "
            f"subject={self.subject!r} size={len(self.raw)}"
        )

    def matches(
        self,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        body_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether this message fits every given criterion (addresses case-insensitive)."""
        if to is not None and to.casefold() not in (r.casefold() for r in self.accepted_for):
            return False
        if sender is not None and sender.casefold() != self.mail_from.casefold():
            return False
        if subject is not None and self.subject != subject:
            return False
        if body_contains is not None and body_contains not in self.text:
            return False
        if headers:
            for name, value in headers.items():
                if str(self.message.get(name, "")) != value:
                    return False
        return True


class Outbox(Sequence[CapturedMessage]):
    """The captured messages in arrival order: thread-safe, list-like, waitable."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[CapturedMessage] = []

    def _append(self, message: CapturedMessage) -> None:
        with self._cond:
            self._items.append(message)
            self._cond.notify_all()

    def _clear(self) -> None:
        with self._cond:
            self._items.clear()

    def _take(self, timeout: float) -> list[CapturedMessage]:
        """Wait for mail, then remove and return everything captured (the CLI's consumer)."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._items), timeout)
            items, self._items = self._items, []
            return items

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _wait(self, count: int, timeout: float, give_up: Callable[[], bool]) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) >= count or give_up(), timeout)
            return len(self._items) >= count

    @overload
    def __getitem__(self, index: int) -> CapturedMessage: ...
    @overload
    def __getitem__(self, index: slice) -> list[CapturedMessage]: ...
    def __getitem__(self, index: int | slice) -> CapturedMessage | list[CapturedMessage]:
        with self._cond:
            return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[CapturedMessage]:
        with self._cond:
            return iter(list(self._items))

    def __repr__(self) -> str:
        return f"Outbox({len(self)} message(s))"

    @property
    def last(self) -> CapturedMessage:
        """The most recent message; IndexError when nothing was captured."""
        with self._cond:
            if not self._items:
                raise IndexError("the outbox is empty")
            return self._items[-1]

    def find(
        self,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        body_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[CapturedMessage]:
        """Every message matching all the given criteria, in arrival order."""
        return [
            m
            for m in self
            if m.matches(
                to=to, sender=sender, subject=subject, body_contains=body_contains, headers=headers
            )
        ]

    def describe(self, last: int | None = None) -> str:
        """What was captured, one line a message (for failure messages); with ``last``, the
        count and only the last ``last`` messages."""
        items = list(self)
        if not items:
            return "nothing was captured"
        lines = [f"{len(items)} message(s) captured:"]
        first = 0
        if last is not None and len(items) > last:
            first = len(items) - last
            lines = [f"{len(items)} message(s) captured; the last {last}:"]
        lines += [f"  [{i}] {m.summary()}" for i, m in enumerate(items[first:], first)]
        return "\n".join(lines)

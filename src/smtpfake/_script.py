"""Scripting: rules that match a protocol phase (and an argument) and say how to answer."""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:
    from ._server import _BaseServer

__all__ = ["Action", "Matcher", "Phase", "Rule", "RuleBuilder", "Script"]


class Phase(str, enum.Enum):
    """The points of an SMTP/LMTP session a rule can act on."""

    CONNECT = "CONNECT"
    EHLO = "EHLO"
    HELO = "HELO"
    LHLO = "LHLO"
    STARTTLS = "STARTTLS"
    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    BDAT = "BDAT"
    END_OF_DATA = "END_OF_DATA"
    RSET = "RSET"
    NOOP = "NOOP"
    VRFY = "VRFY"
    EXPN = "EXPN"
    HELP = "HELP"
    QUIT = "QUIT"

    def __str__(self) -> str:
        return self.value


Matcher = Union[str, "re.Pattern[str]", Callable[[str], bool]]
ActionKind = Literal["reply", "disconnect", "delay", "hang", "send_raw", "accept"]


@dataclass(frozen=True)
class Action:
    """What a rule does when it fires."""

    kind: ActionKind
    code: int = 0
    lines: tuple[str, ...] = ()
    after_data: bool = False
    seconds: float = 0.0
    raw: bytes = b""

    def reply_lines(self) -> list[str]:
        """The reply as wire lines (without CRLF), multi-line aware."""
        if not self.lines:
            return [str(self.code)]
        last = len(self.lines) - 1
        return [
            f"{self.code}{' ' if i == last else '-'}{line}" for i, line in enumerate(self.lines)
        ]


def _matches(matcher: Matcher | None, value: str | None) -> bool:
    if matcher is None:
        return True
    if value is None:
        return False
    if isinstance(matcher, str):
        return matcher.casefold() == value.casefold()
    if isinstance(matcher, re.Pattern):
        return matcher.search(value) is not None
    return bool(matcher(value))


@dataclass(eq=False)
class Rule:
    """A scripted rule: when ``phase`` (and its matchers) match, do ``action``.

    ``times=None`` fires always; ``times=n`` fires n times, then the rule is spent.
    ``fired`` counts how often it fired.
    """

    phase: Phase
    action: Action
    arg: Matcher | None = None
    to: Matcher | None = None
    sender: Matcher | None = None
    times: int | None = None
    fired: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def wait(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until the rule has fired ``count`` times; TimeoutError after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.fired >= count, timeout):
                raise TimeoutError(
                    f"rule for {self.phase} fired {self.fired} time(s), not {count}, "
                    f"within {timeout}s"
                )

    def _fire(self) -> None:
        with self._cond:
            self.fired += 1
            self._cond.notify_all()

    @property
    def spent(self) -> bool:
        """True once a ``times=n`` rule has fired n times."""
        return self.times is not None and self.fired >= self.times

    def matches(self, arg: str | None, recipients: Sequence[str], sender: str | None) -> bool:
        """Whether this rule applies to a command with this argument and envelope."""
        if not _matches(self.arg, arg) or not _matches(self.sender, sender):
            return False
        if self.to is None:
            return True
        return any(_matches(self.to, rcpt) for rcpt in recipients)


class Script:
    """The ordered, thread-safe list of rules; the first live matching rule fires."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a matcher callable may add rules
        self._rules: list[Rule] = []
        self._phases: frozenset[Phase] = frozenset()

    def __bool__(self) -> bool:
        return bool(self._rules)

    def has(self, phase: Phase) -> bool:
        """Whether any rule was added for ``phase`` (a lock-free fast path)."""
        return phase in self._phases

    @property
    def rules(self) -> list[Rule]:
        """A copy of the rules, in the order they were added."""
        with self._lock:
            return list(self._rules)

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
            self._phases = self._phases | {rule.phase}
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._phases = frozenset()

    def fire(
        self,
        phase: Phase,
        arg: str | None = None,
        recipients: Sequence[str] = (),
        sender: str | None = None,
    ) -> Action | None:
        """Find the first live rule matching, count it as fired and return its action.

        Matcher callables run under the lock, so rules fire in a deterministic order even
        when several connections race.
        """
        if phase not in self._phases:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.phase is phase and not rule.spent and rule.matches(arg, recipients, sender):
                    rule._fire()
                    return rule.action
        return None


def _lines(text: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(text, str):
        return tuple(text.splitlines()) if text else ()
    return tuple(text)


@dataclass
class RuleBuilder:
    """Returned by ``server.on(...)``; one action method registers the rule and returns it."""

    _server: _BaseServer
    phase: Phase
    arg: Matcher | None = None
    to: Matcher | None = None
    sender: Matcher | None = None
    times: int | None = None
    _done: bool = field(default=False, repr=False)

    def _register(self, action: Action) -> Rule:
        if self._done:
            raise RuntimeError("this rule builder already registered its rule")
        self._done = True
        rule = Rule(self.phase, action, self.arg, self.to, self.sender, self.times)
        return self._server._script.add(rule)

    def reply(self, code: int, text: str | Sequence[str] = "") -> Rule:
        """Answer with ``code`` and ``text`` (a list of lines gives a multi-line reply)."""
        if not 100 <= code <= 999:
            raise ValueError(f"reply code must have three digits, not {code!r}")
        lines = _lines(text)
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("reply lines must not contain CR or LF")
        return self._register(Action("reply", code=code, lines=lines))

    def disconnect(self, after_data: bool = False) -> Rule:
        """Hang up without replying; with ``after_data`` (DATA, END_OF_DATA) read the data first."""
        return self._register(Action("disconnect", after_data=after_data))

    def delay(self, seconds: float) -> Rule:
        """Wait ``seconds``, then carry on with the default behaviour."""
        if seconds < 0:
            raise ValueError("delay must not be negative")
        return self._register(Action("delay", seconds=float(seconds)))

    def hang(self) -> Rule:
        """Never reply (until the client goes away or the server stops)."""
        return self._register(Action("hang"))

    def send_raw(self, data: bytes) -> Rule:
        """Write ``data`` as is instead of a reply (for broken-server tests)."""
        if not isinstance(data, bytes):
            raise TypeError("send_raw() takes bytes")
        return self._register(Action("send_raw", raw=data))

    def accept(self) -> Rule:
        """The default behaviour, explicitly (useful to order ``times=`` rules)."""
        return self._register(Action("accept"))

"""aiosmtpd's per-connection method tables, learnt once per protocol class and bound on lookup.

aiosmtpd's ``SMTP.__init__`` builds two tables on every connection by scanning
``inspect.getmembers(self)`` and ``dir(self)``: the AUTH mechanisms (``auth_*`` methods) and the
commands (``smtp_*`` methods), as bound methods; about 20 us a connection, a fifth of what a whole
one-message conversation costs the server. The tables are the same for every instance of a class,
so the first instance lets aiosmtpd scan the names it looks for (``init_dir``), its tables are
remembered by method name (``install``), and every later instance gets them without a scan, each
entry bound to it when looked up: only the commands a client sends are ever bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

from aiosmtpd.smtp import SMTP

from ._internals import command_tables, set_command_tables

__all__ = ["Bound", "init_dir", "install"]

V = TypeVar("V")


class _Learnt(NamedTuple):
    commands: dict[str, str]  # command -> method name
    auth: dict[str, tuple[Any, str]]  # mechanism -> (aiosmtpd's entry, method name)


_LEARNT: dict[type, _Learnt] = {}


class Bound(Mapping[str, Any], Generic[V]):
    """A read-only table whose entries are made for one connection when looked up."""

    __slots__ = ("_bind", "_entries")

    def __init__(self, entries: Mapping[str, V], bind: Callable[[str, V], Any]) -> None:
        self._entries = entries
        self._bind = bind

    def __getitem__(self, key: str) -> Any:
        return self._bind(key, self._entries[key])

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def init_dir(cls: type, every_name: Callable[[], Iterable[str]]) -> list[str]:
    """What ``dir()`` shows aiosmtpd's ``__init__`` for a half-built instance of ``cls``.

    Until ``cls``'s tables are learnt: the ``auth_*`` and ``smtp_*`` names, all it looks for
    (reading every attribute would cost more than the scan). Afterwards: none, so it builds
    empty tables at once and ``install`` replaces them.
    """
    if cls in _LEARNT:
        return []
    return [name for name in every_name() if name.startswith(("auth_", "smtp_"))]


def install(
    protocol: SMTP, command: Callable[[str, Any], Any], excluded: frozenset[str]
) -> None:
    """Give ``protocol`` its command and AUTH tables, right after aiosmtpd's ``__init__``.

    ``command(name, bound_method)`` is what a command's lookup returns; AUTH mechanisms in
    ``excluded`` are left out (aiosmtpd's ``auth_exclude_mechanism``).
    """
    learnt = _LEARNT.get(type(protocol))
    if learnt is None:  # the first instance: aiosmtpd has just scanned it
        commands, mechanisms = command_tables(protocol)
        learnt = _LEARNT[type(protocol)] = _Learnt(
            {name: method.__name__ for name, method in commands.items()},
            {mech: (entry, entry.method.__name__) for mech, entry in mechanisms.items()},
        )

    def bind_command(name: str, attribute: str) -> Any:
        return command(name, getattr(protocol, attribute))

    def bind_mechanism(_: str, learnt_entry: tuple[Any, str]) -> Any:
        entry, attribute = learnt_entry
        return type(entry)(getattr(protocol, attribute), entry.is_builtin)

    auth = {m: e for m, e in learnt.auth.items() if m not in excluded}
    set_command_tables(protocol, Bound(learnt.commands, bind_command), Bound(auth, bind_mechanism))

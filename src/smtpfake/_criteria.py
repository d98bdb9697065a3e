"""What ``assert_sent``, ``outbox.find`` and ``outbox.count`` match on, and how a failed
assertion explains itself.

A criterion given as ``str`` means equality for addresses (case-insensitive), the subject,
header values and attachment names, and a substring for bodies; given as a compiled regular
expression (``re.compile(...)``) it is searched for instead. Each criterion a message misses is
described in words, which is how a failure shows the nearest misses first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict, Union

if TYPE_CHECKING:
    from ._capture import CapturedMessage

__all__ = ["Criteria", "Text", "explain", "fits", "misses", "validate"]

Text = Union[str, "re.Pattern[str]"]

_SHOWN = 5  # messages a failure lists, at most
_EXCERPT = 60  # characters of a body a failure quotes


class Criteria(TypedDict, total=False):
    """The keyword criteria; None (or leaving one out) means "any"."""

    to: Text | None
    sender: Text | None
    subject: Text | None
    body_contains: Text | None
    html_contains: Text | None
    has_attachment: bool | Text | None
    headers: Mapping[str, Text] | None


_NAMES = tuple(Criteria.__annotations__)


def validate(criteria: Mapping[str, object]) -> dict[str, object]:
    """The criteria that were given (not None); TypeError for an unknown name or a value of the
    wrong type, so a typo is not a criterion silently ignored."""
    given = {}
    for name, value in criteria.items():
        if name not in _NAMES:
            raise TypeError(f"unknown criterion {name!r}; the criteria are {', '.join(_NAMES)}")
        if value is None:
            continue
        if name == "headers":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and _is_text(v) for k, v in value.items()
            ):
                raise TypeError("headers= takes a mapping of header names to str or re.Pattern")
        elif not (_is_text(value) or (name == "has_attachment" and isinstance(value, bool))):
            raise TypeError(f"{name}= takes a str or a compiled re.Pattern, not {value!r}")
        given[name] = value
    return given


def _is_text(value: object) -> bool:
    return isinstance(value, (str, re.Pattern))


def _fits(value: str | None, want: Text, *, exact: bool) -> bool:
    if value is None:
        return False
    if isinstance(want, re.Pattern):
        return want.search(value) is not None
    return value == want if exact else want in value


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "...")


def _want(want: object) -> str:
    return f"/{want.pattern}/" if isinstance(want, re.Pattern) else repr(want)


def fits(message: CapturedMessage, criteria: Mapping[str, object]) -> bool:
    """Whether ``message`` fits every (validated) criterion; the envelope is checked first, so
    a message the envelope rules out is never parsed."""
    return all(_miss(message, name, want) is None for name, want in _cheap_first(criteria))


def misses(message: CapturedMessage, criteria: Mapping[str, object]) -> list[str]:
    """What ``message`` does not fit among the (validated) ``criteria``, one phrase each; an
    empty list when it fits them all."""
    found = (_miss(message, name, want) for name, want in criteria.items())
    return [phrase for phrase in found if phrase is not None]


def _cheap_first(criteria: Mapping[str, object]) -> list[tuple[str, object]]:
    return sorted(criteria.items(), key=lambda item: item[0] not in ("to", "sender"))


def _miss(message: CapturedMessage, name: str, want: object) -> str | None:
    """How ``message`` misses one criterion, or None when it fits it."""
    if name == "headers":
        assert isinstance(want, Mapping)
        for header, value in want.items():
            values = message.headers.get(header, ())
            if not any(_fits(v, value, exact=True) for v in values):
                return f"header {header} {_want(value)} but it is {list(values)!r}"
        return None
    if name == "has_attachment":
        names = [a.filename for a in message.attachments]
        if isinstance(want, bool):
            ok = bool(names) is want
        else:
            assert isinstance(want, (str, re.Pattern))
            ok = any(_fits(n, want, exact=True) for n in names)
        return None if ok else f"attachment {_want(want)} but the attachments are {names!r}"
    assert isinstance(want, (str, re.Pattern))
    if name == "to":
        if any(_address_fits(r, want) for r in message.accepted_for):
            return None
        return f"to {_want(want)} not among {list(message.accepted_for)!r}"
    if name == "sender":
        if _address_fits(message.mail_from, want):
            return None
        return f"sender {_want(want)} but it is {message.mail_from!r}"
    if name == "subject":
        if _fits(message.subject, want, exact=True):
            return None
        return f"subject {_want(want)} but it is {message.subject!r}"
    html = message.html
    if name == "body_contains":
        if _fits(message.text, want, exact=False) or _fits(html, want, exact=False):
            return None
        return f"body containing {_want(want)} but it reads {_short(message.text or html or '')}"
    assert name == "html_contains"
    if html is None:
        return f"HTML containing {_want(want)} but there is no HTML part"
    if _fits(html, want, exact=False):
        return None
    return f"HTML containing {_want(want)} but it reads {_short(html)}"


def _address_fits(address: str, want: Text) -> bool:
    if isinstance(want, re.Pattern):
        return want.search(address) is not None
    return address.casefold() == want.casefold()


def explain(
    criteria: Mapping[str, object],
    count: int | None,
    found: Sequence[CapturedMessage],
    captured: Sequence[CapturedMessage],
) -> str:
    """Why an ``assert_sent`` failed: what was wanted, how many matched, and at most a few
    captured messages: the matches when there were too many, else the nearest misses first
    (fewest criteria missed, then the latest), each with what it missed."""
    wanted = "at least 1" if count is None else str(count)
    which = ""
    if criteria:
        which = " matching " + ", ".join(f"{k}={_want(v) if k != 'headers' else _headers(v)}"
                                         for k, v in criteria.items())
    head = f"expected {wanted} message(s){which}, found {len(found)}"
    if not captured:
        return f"{head}; nothing was captured"
    shown: list[tuple[int, CapturedMessage, list[str]]]
    if found:
        position = {id(m): i for i, m in enumerate(captured)}
        shown = [(position.get(id(m), -1), m, []) for m in found[:_SHOWN]]
        title = "the matching ones" if len(found) <= _SHOWN else f"the first {_SHOWN} matching"
    else:
        ranked = sorted(
            ((i, m, misses(m, criteria)) for i, m in enumerate(captured)),
            key=lambda entry: (len(entry[2]), -entry[0]),
        )
        shown = ranked[:_SHOWN]
        title = "nearest first" if len(captured) <= _SHOWN else f"the {_SHOWN} nearest"
    lines = [f"{head}; {len(captured)} message(s) captured, {title}:"]
    for index, message, missed in shown:
        lines.append(f"  [{index}] {message.summary()}")
        lines += [f"      wanted {phrase}" for phrase in missed]
    return "\n".join(lines)


def _headers(value: object) -> str:
    assert isinstance(value, Mapping)
    return "{" + ", ".join(f"{k!r}: {_want(v)}" for k, v in value.items()) + "}"

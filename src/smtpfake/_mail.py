"""Views of a captured message for assertions: its text and HTML, addresses, attachments,
headers by name and links.

Every view decodes leniently: a part whose charset Python does not know (``unknown-8bit``,
``utf8mb4``) or whose bytes do not fit its charset is read as UTF-8 with replacement characters,
so asserting on one odd message never raises anything but ``AssertionError``.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

__all__ = ["Attachment", "Headers", "MailViews"]


@dataclass(frozen=True)
class Attachment:
    """One attached file: its name (None when the part names none), type and decoded bytes."""

    filename: str | None
    content_type: str
    content: bytes

    def __repr__(self) -> str:  # content may be megabytes
        return (f"Attachment(filename={self.filename!r}, content_type={self.content_type!r}, "
                f"size={len(self.content)})")


class Headers(Mapping[str, tuple[str, ...]]):
    """A message's headers by name, case-insensitive: every value of each, decoded, in order.

    ``headers["Received"]`` is a tuple of all Received values; a missing name is a KeyError
    (``headers.get(name, ())`` for none). Iterating gives each name once, as first spelt.
    """

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        for name, value in items:
            key = name.casefold()
            self._names.setdefault(key, name)
            self._values.setdefault(key, []).append(value)

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return tuple(self._values[name.casefold()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._values

    def __repr__(self) -> str:
        return f"Headers({ {name: self[name] for name in self} !r})"


def decode_part(part: Message) -> str:
    """A leaf part's payload as text: its charset if Python knows it, else UTF-8; bytes that do
    not decode become U+FFFD; line ends are ``\\n``."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return payload.decode(charset, errors="replace").replace("\r\n", "\n")


def _addresses(message: EmailMessage, *names: str) -> tuple[str, ...]:
    values = [str(v) for name in names for v in message.get_all(name) or ()]
    return tuple(addr for _, addr in getaddresses(values) if addr)


class _Links(HTMLParser):
    """Collects ``href`` values of ``<a>`` and ``<area>`` in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area"):
            for name, value in attrs:
                if name == "href" and value and value.strip():
                    self.found.append(value.strip())


_TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)


def _text_links(text: str) -> list[str]:
    # Sentence punctuation after a URL is not part of it; a closing parenthesis is, when the
    # URL opened one (https://en.wikipedia.org/wiki/Mail_(disambiguation)).
    links = []
    for match in _TEXT_URL.finditer(text):
        url = match.group().rstrip(".,;:!?")
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1].rstrip(".,;:!?")
        links.append(url)
    return links


class MailViews:
    """The read-only views a captured message offers on top of its parsed ``message``."""

    accepted_for: tuple[str, ...]
    _cache: dict[str, Any]

    @property
    def message(self) -> EmailMessage:  # pragma: no cover - defined by the record
        raise NotImplementedError

    def _cached(self, key: str, build: Callable[[], object]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return None if part is None else decode_part(part)

    @property
    def subject(self) -> str | None:
        """The decoded Subject header, or None."""
        value = self.message["Subject"]
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        """The text/plain body, decoded, with ``\\n`` line ends; ``""`` when there is none."""
        text: str | None = self._cached("text", lambda: self._body("plain"))
        return text or ""

    @property
    def html(self) -> str | None:
        """The text/html body, decoded; None when the message has no HTML part."""
        html: str | None = self._cached("html", lambda: self._body("html"))
        return html

    @property
    def to(self) -> tuple[str, ...]:
        """The addresses in the To header(s), as ``local@domain``."""
        return _addresses(self.message, "To")

    @property
    def cc(self) -> tuple[str, ...]:
        """The addresses in the Cc header(s), as ``local@domain``."""
        return _addresses(self.message, "Cc")

    @property
    def bcc(self) -> tuple[str, ...]:
        """The recipients the message was accepted for that are in neither To nor Cc (compared
        case-insensitively): the blind copies, which no header shows."""
        shown = {a.casefold() for a in (*self.to, *self.cc)}
        return tuple(r for r in self.accepted_for if r.casefold() not in shown)

    @property
    def headers(self) -> Headers:
        """Every header by name, case-insensitive, each with all its values, decoded."""
        headers: Headers = self._cached(
            "headers", lambda: Headers([(n, str(v)) for n, v in self.message.items()])
        )
        return headers

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """The attached files in order: parts marked ``attachment`` or carrying a file name,
        other than the text and HTML bodies; an attached message is one attachment."""
        found: tuple[Attachment, ...] = self._cached("attachments", self._find_attachments)
        return found

    def _find_attachments(self) -> tuple[Attachment, ...]:
        bodies = {id(self.message.get_body(preferencelist=(s,))) for s in ("plain", "html")}
        found = []
        for part in _leaves(self.message):
            if id(part) in bodies:
                continue
            filename = part.get_filename()
            if filename is None and part.get_content_disposition() != "attachment":
                continue
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload(0)
                content = inner.as_bytes() if isinstance(inner, Message) else b""
            else:
                payload = part.get_payload(decode=True)
                content = payload if isinstance(payload, bytes) else b""
            found.append(Attachment(filename, part.get_content_type(), content))
        return tuple(found)

    @property
    def links(self) -> tuple[str, ...]:
        """The URLs of the message in order, each once: ``http(s)://`` URLs in the text body,
        then the ``href`` of every link in the HTML body (entities decoded)."""
        found: tuple[str, ...] = self._cached("links", self._find_links)
        return found

    def _find_links(self) -> tuple[str, ...]:
        links = _text_links(self.text)
        if self.html is not None:
            parser = _Links()
            parser.feed(self.html)
            parser.close()
            links += parser.found
        return tuple(dict.fromkeys(links))

    def link(self, matching: str | re.Pattern[str] | None = None) -> str:
        """The one link containing ``matching`` (a substring, or a regular expression searched
        for); without ``matching``, the message's only link. AssertionError unless exactly one
        link fits, listing the links there are."""
        if matching is None:
            fits = list(self.links)
        elif isinstance(matching, re.Pattern):
            fits = [url for url in self.links if matching.search(url)]
        else:
            fits = [url for url in self.links if matching in url]
        if len(fits) == 1:
            return fits[0]
        which = "" if matching is None else f" matching {matching!r}"
        shown = "\n".join(f"  {url}" for url in self.links[:20])
        more = f"\n  ... and {len(self.links) - 20} more" if len(self.links) > 20 else ""
        raise AssertionError(
            f"expected one link{which}, found {len(fits)}; the message has "
            f"{len(self.links)} link(s)" + (f":\n{shown}{more}" if self.links else "")
        )


def _leaves(part: Message) -> Iterator[Message]:
    """The non-multipart parts in order; an attached message is a leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def parse(raw: bytes) -> EmailMessage:
    """``raw`` parsed with ``email.policy.default``."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg

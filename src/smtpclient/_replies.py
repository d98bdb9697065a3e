"""Server replies and the incremental reply parser (sans-I/O: bytes in, replies out).

A reply is one or more lines ``CODE-text`` ending with a line ``CODE text`` (RFC 5321, 4.2).
The parser keeps smtplib's view of a reply (the code, and each line's text stripped of
spaces, tabs and the line ending) and adds what smtplib lacks:

- limits: a line longer than :data:`MAX_LINE` (smtplib's 8192 bytes, line ending included),
  more than :data:`MAX_REPLY_LINES` lines or more than :data:`MAX_REPLY_SIZE` bytes in one
  reply is an error, so a hostile server cannot make the client buffer without end;
- strictness: a line that does not start with a three-digit code followed by a space, a hyphen
  or the end of the line, or a continuation whose code differs from the first line's, is an
  error (smtplib returns code -1 and carries on out of step with the server);
- enhanced status codes (RFC 3463, ``5.1.1``) read from the first line's text.

Errors are :class:`~smtpclient.SMTPReplyError`; after one, the connection cannot be trusted and
the drivers close it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MAX_LINE",
    "MAX_REPLY_LINES",
    "MAX_REPLY_SIZE",
    "Reply",
    "ReplyParser",
    "enhanced_status_of",
]

MAX_LINE: Final = 8192
"""Longest reply line accepted, in bytes, line ending included (smtplib's ``_MAXLINE``)."""
MAX_REPLY_LINES: Final = 1000
"""Most lines accepted in one reply (an EHLO reply has a dozen or two)."""
MAX_REPLY_SIZE: Final = 512 * 1024
"""Most bytes accepted in one reply, all lines together."""

_ENHANCED = re.compile(rb"([245])\.[0-9]{1,3}\.[0-9]{1,3}(?=[ \t]|\Z)")
_FINAL_SEPARATORS: Final = frozenset((b" ", b"\r", b"\n", b""))


def enhanced_status_of(code: object, text: object) -> str | None:
    """The RFC 3463 status code that starts ``text`` (``"5.1.1"``), or None.

    The status must have the reply code's class (a 550 reply carries ``5.x.y``), as RFC 2034
    requires; anything else is ordinary text.
    """
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    if not isinstance(text, bytes) or not isinstance(code, int):  # an exception built by hand
        return None
    match = _ENHANCED.match(text)
    if match is None or not 200 <= code <= 599 or str(code)[0] != chr(match.group(1)[0]):
        return None
    return match.group(0).decode("ascii")


class Reply:
    """One server reply: ``code``, ``lines`` (texts without code or line ending), ``message``.

    ``message`` is the lines joined with ``b"\\n"``: the bytes smtplib returns next to the code.
    """

    __slots__ = ("code", "lines", "message")

    code: int
    lines: tuple[bytes, ...]
    message: bytes

    def __init__(self, code: int, lines: tuple[bytes, ...]) -> None:
        self.code = code
        self.lines = lines
        self.message = lines[0] if len(lines) == 1 else b"\n".join(lines)

    @property
    def enhanced_status(self) -> str | None:
        """The RFC 3463 status at the start of the first line (``"2.0.0"``), or None."""
        return enhanced_status_of(self.code, self.lines[0]) if self.lines else None

    @property
    def is_success(self) -> bool:
        """True for a 2xx reply."""
        return 200 <= self.code <= 299

    def as_tuple(self) -> tuple[int, bytes]:
        """``(code, message)``: what smtplib's methods return."""
        return (self.code, self.message)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return self.code == other.code and self.lines == other.lines

    def __hash__(self) -> int:
        return hash((self.code, self.lines))

    def __repr__(self) -> str:
        return f"Reply({self.code}, {self.lines!r})"


class ReplyParser:
    """Turn reply lines (or arbitrary chunks of bytes) into :class:`Reply` objects.

    ``feed_line`` takes one line as a buffered reader returns it (``readline(MAX_LINE + 1)``);
    ``feed`` takes any chunk and frames the lines itself. Both raise
    :class:`~smtpclient.SMTPReplyError` for a malformed or over-limit reply, after which the
    parser is empty again. Memory held is bounded by the limits given here.
    """

    __slots__ = ("_buffer", "_code", "_lines", "_size", "max_line", "max_lines", "max_size")

    def __init__(
        self,
        max_line: int = MAX_LINE,
        max_lines: int = MAX_REPLY_LINES,
        max_size: int = MAX_REPLY_SIZE,
    ) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self.max_size = max_size
        self._buffer = b""
        self._code = b""
        self._lines: list[bytes] = []
        self._size = 0

    @property
    def in_progress(self) -> bool:
        """True while part of a reply (a line or a continuation) has been read."""
        return bool(self._lines or self._buffer)

    def reset(self) -> None:
        """Forget any partial reply."""
        self._buffer = b""
        self._code = b""
        self._lines = []
        self._size = 0

    def _fail(self, code: int, message: str) -> Exception:
        from ._exceptions import SMTPReplyError

        self.reset()
        return SMTPReplyError(code, message)

    def feed_line(self, line: bytes) -> Reply | None:
        """Take one line; return the reply it completes, or None if more lines follow."""
        size = len(line)
        if size > self.max_line:
            raise self._fail(500, "Line too long.")
        code = line[:3]
        separator = line[3:4]
        if not (code.isdigit() and len(code) == 3 and code[0] in b"12345"):
            raise self._fail(-1, f"Malformed reply: no three-digit reply code in {line[:64]!r}")
        if separator != b"-" and separator not in _FINAL_SEPARATORS:
            raise self._fail(-1, f"Malformed reply: bad separator after the code in {line[:64]!r}")
        text = line[4:].strip(b" \t\r\n")
        lines = self._lines
        if not lines and separator != b"-":
            return Reply(int(code), (text,))
        if lines and code != self._code:
            raise self._fail(
                -1, f"Malformed reply: code {code!r} continues a reply with code {self._code!r}"
            )
        self._code = code
        lines.append(text)
        self._size += size
        if len(lines) > self.max_lines:
            raise self._fail(500, f"Reply has more than {self.max_lines} lines.")
        if self._size > self.max_size:
            raise self._fail(500, f"Reply is larger than {self.max_size} bytes.")
        if separator == b"-":
            return None
        reply = Reply(int(code), tuple(lines))
        self._lines = []
        self._size = 0
        return reply

    def feed(self, data: bytes) -> list[Reply]:
        """Take any chunk of bytes; return the replies it completes (possibly none)."""
        buffer = self._buffer + data if self._buffer else data
        replies: list[Reply] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            reply = self.feed_line(buffer[start : end + 1])
            start = end + 1
            if reply is not None:
                replies.append(reply)
        rest = buffer[start:]
        if len(rest) > self.max_line:
            raise self._fail(500, "Line too long.")
        self._buffer = rest
        return replies

    def feed_eof(self) -> Reply | None:
        """The peer closed: a last line without its line ending still counts (as smtplib)."""
        rest, self._buffer = self._buffer, b""
        return self.feed_line(rest) if rest else None

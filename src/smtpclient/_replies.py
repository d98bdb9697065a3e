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

Like h11's connection object, the parser is fed bytes as they arrive (:meth:`ReplyParser.receive`)
and asked for the next reply (:meth:`ReplyParser.next_reply`): lines are framed here and nowhere
else, and a reply is parsed only when it is asked for, so bytes that follow it (a reply the
server sent unasked) stay unread for the caller to judge. Errors are
:class:`~smtpclient.SMTPReplyError`; after one, the connection cannot be trusted and the drivers
close it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ._exceptions import SMTPReplyError
from ._status import enhanced_status_of

__all__ = ["MAX_LINE", "MAX_REPLY_LINES", "MAX_REPLY_SIZE", "Reply", "ReplyParser"]

MAX_LINE: Final = 8192
"""Longest reply line accepted, in bytes, line ending included (smtplib's ``_MAXLINE``)."""
MAX_REPLY_LINES: Final = 1000
"""Most lines accepted in one reply (an EHLO reply has a dozen or two)."""
MAX_REPLY_SIZE: Final = 512 * 1024
"""Most bytes accepted in one reply, all lines together."""

_FINAL_SEPARATORS: Final = frozenset((b" ", b"\r", b"\n", b""))


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
    """Turn the bytes a server sends into :class:`Reply` objects.

    ``receive(data)`` buffers any chunk; ``next_reply()`` frames lines from the buffer and
    returns the next complete reply, or None until more bytes arrive; ``feed(data)`` does both
    and returns every reply completed; ``feed_eof()`` ends the stream. ``on_line``, if set, is
    called with each raw line as it is framed (drivers print debug output with it). Errors are
    :class:`~smtpclient.SMTPReplyError`, after which the parser is empty again. Memory held is
    bounded by the limits given here plus the chunk last received.
    """

    __slots__ = (
        "_buffer",
        "_code",
        "_lines",
        "_size",
        "_start",
        "max_line",
        "max_lines",
        "max_size",
        "on_line",
    )

    def __init__(
        self,
        max_line: int = MAX_LINE,
        max_lines: int = MAX_REPLY_LINES,
        max_size: int = MAX_REPLY_SIZE,
    ) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self.max_size = max_size
        self.on_line: Callable[[bytes], object] | None = None
        self._buffer = b""
        self._start = 0
        self._code = b""
        self._lines: list[bytes] = []
        self._size = 0

    @property
    def in_progress(self) -> bool:
        """True while part of a reply (a line or a continuation) has been read."""
        return bool(self._lines) or self._start < len(self._buffer)

    @property
    def unread(self) -> bytes:
        """Bytes received and not yet part of a returned reply (a partial line excluded)."""
        return self._buffer[self._start :]

    def reset(self) -> None:
        """Forget everything buffered and any partial reply."""
        self._buffer = b""
        self._start = 0
        self._code = b""
        self._lines = []
        self._size = 0

    def receive(self, data: bytes) -> None:
        """Buffer ``data`` (any chunk of the stream) for :meth:`next_reply`."""
        if self._start:
            self._buffer = self._buffer[self._start :] + data
            self._start = 0
        elif self._buffer:
            self._buffer += data
        else:
            self._buffer = data

    def next_reply(self) -> Reply | None:
        """The next complete reply from what was received, or None if it is not all there."""
        buffer = self._buffer
        start = self._start
        end = buffer.find(b"\n", start)
        if (  # the usual reply, one line "CODE text": parsed here, without framing a line
            start + 3 < end < start + self.max_line
            and buffer[start + 3] == 32  # a space after the code
            and not self._lines
            and self.on_line is None
        ):
            code = buffer[start : start + 3]
            if code.isdigit() and 50 <= code[0] <= 53:  # 2xx to 5xx
                if end + 1 == len(buffer):
                    self._buffer = b""
                    self._start = 0
                else:
                    self._start = end + 1
                return Reply(int(code), (buffer[start + 4 : end + 1].strip(b" \t\r\n"),))
        while end >= 0:
            self._start = end + 1
            reply = self._line(buffer[start : end + 1])
            start = end + 1
            if reply is not None:
                if start == len(buffer):
                    self._buffer = b""
                    self._start = 0
                return reply
            end = buffer.find(b"\n", start)
        self._buffer = buffer[start:] if start else buffer  # keep only the partial line
        self._start = 0
        if len(self._buffer) > self.max_line:
            raise self._fail(500, "Line too long.")
        return None

    def feed(self, data: bytes) -> list[Reply]:
        """Take any chunk of bytes; return the replies it completes (possibly none)."""
        self.receive(data)
        replies: list[Reply] = []
        while (reply := self.next_reply()) is not None:
            replies.append(reply)
        return replies

    def feed_eof(self) -> Reply | None:
        """The peer closed: a last line without its line ending still counts (as smtplib)."""
        rest = self._buffer[self._start :]
        self._buffer = b""
        self._start = 0
        return self._line(rest) if rest else None

    def _fail(self, code: int, message: str) -> SMTPReplyError:
        self.reset()
        return SMTPReplyError(code, message)

    def _line(self, line: bytes) -> Reply | None:
        """Take one framed line; return the reply it completes, or None if more lines follow."""
        if self.on_line is not None:
            self.on_line(line)
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

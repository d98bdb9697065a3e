"""What a client did wrong on a command line, in words for the transcript's ``!`` lines.

aiosmtpd strips line endings and answers broken lines (too long, undecodable, empty) before any
handler runs, so a transcript built from dispatched commands alone would hide exactly what a
misbehaving client sent. These pure functions look at the raw line instead.
"""

from __future__ import annotations

import re

__all__ = ["escape", "line_notes", "show_line"]

_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]")
_PLAIN = re.compile(rb"[\t\x20-\x7e]*\r\n")  # printable ASCII and CRLF: nothing to note
_ESCAPED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHOWN = 200  # characters of a refused line kept in the transcript


def line_notes(line: bytes) -> list[str]:
    """Notes on one command line as read from the socket (its line ending included)."""
    if _PLAIN.fullmatch(line):  # the common case, decided in one regex call
        return []
    return _notes(line)


def _notes(line: bytes) -> list[str]:
    if line.startswith(b"\x16\x03"):
        return ["a TLS handshake on a plaintext connection"]
    notes = []
    body = line[:-1] if line.endswith(b"\n") else line
    if line.endswith(b"\n") and not body.endswith(b"\r"):
        notes.append("bare LF line ending")
    body = body.rstrip(b"\r")
    if b"\r" in body:
        notes.append("bare CR inside a command line")
    if not body.split(b" ", 1)[0].isascii():
        notes.append("non-ASCII bytes in the command verb")
    if _CONTROL.search(body):
        notes.append("control characters in a command line")
    return notes


def show_line(line: bytes) -> str:
    """A command line aiosmtpd refused, made printable (controls escaped, cut short)."""
    body = line.rstrip(b"\r\n")
    text = escape(body[: _SHOWN * 4].decode("utf-8", "backslashreplace"))
    verb, _, rest = text.partition(" ")
    if verb.upper() == "AUTH" and " " in rest:  # never show credentials
        text = f"{verb} {rest.split(' ')[0]} <credentials>"
    if len(text) > _SHOWN:
        text = f"{text[:_SHOWN]}... ({len(body)} bytes)"
    return text


def escape(text: str) -> str:
    """``text`` with control characters written as escapes (``\\r``, ``\\x1b``), so a transcript
    line stays one line and cannot drive a terminal: C0, DEL, C1, and the line and paragraph
    separators ``str.splitlines()`` splits on."""
    return _ESCAPED.sub(lambda m: repr(m[0])[1:-1], text)

"""Command lines and addresses (sans-I/O): building, control-character refusal, quoting.

smtplib refuses only CR and LF in a command; we refuse every C0 control character and DEL,
before a byte is sent, so no argument can smuggle a second command or confuse a server's
parser. The error for CR/LF keeps smtplib's wording.
"""

from __future__ import annotations

import email.utils
import re
import sys
from typing import Final, NoReturn

__all__ = [
    "CRLF",
    "FROM",
    "TO",
    "addr_only",
    "bCRLF",
    "check_argument",
    "command_line",
    "quoteaddr",
]

CRLF: Final = "\r\n"
bCRLF: Final = b"\r\n"

# The keywords of MAIL and RCPT as the running Python's smtplib writes them: upper case up to
# 3.12, lower case from 3.13 on (gh-65495). Servers treat them alike; the bytes are observable.
FROM: Final = "from:" if sys.version_info >= (3, 13) else "FROM:"
TO: Final = "to:" if sys.version_info >= (3, 13) else "TO:"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Addresses that email.utils.parseaddr returns unchanged: dot-atoms on both sides of one "@".
# They are by far the common case, and parseaddr costs microseconds per call.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _refuse(text: str) -> NoReturn:
    """Raise the ValueError for ``text``, which holds a control character (C0 or DEL)."""
    if "\r" in text or "\n" in text:
        shown = text.replace("\n", "\\n").replace("\r", "\\r")
        raise ValueError(f"command and arguments contain prohibited newline characters: {shown}")
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    raise ValueError(f"command and arguments contain prohibited control characters: {shown}")


def check_argument(text: str) -> str:
    """``text`` unchanged; ValueError if it holds a control character (C0 or DEL).

    TypeError if it is not a str (smtplib fails later, with whatever error its quoting hits).

    For what is checked before it is transformed: an address that ``email.utils.parseaddr``
    would quietly clean (``"a@b\\r\\nRCPT TO:<c@d>"`` parses as ``a@b``) is refused as given.
    """
    if not isinstance(text, str):
        raise TypeError(f"an address or option must be a str, not {type(text).__name__}")
    if not text.isprintable() and _CONTROL.search(text):
        _refuse(text)
    return text


def command_line(cmd: str, args: str = "") -> str:
    """``"CMD args\\r\\n"``; ValueError if the line holds a control character (C0 or DEL)."""
    line = cmd if args == "" else f"{cmd} {args}"
    if not line.isprintable() and _CONTROL.search(line):
        _refuse(line)
    return line + CRLF


def quoteaddr(addrstring: str) -> str:
    """Quote an address for MAIL FROM / RCPT TO: ``"Name <a@b>"`` and ``"a@b"`` give ``"<a@b>"``.

    Anything ``email.utils.parseaddr`` cannot parse is wrapped in angle brackets unless it
    already starts with one, as smtplib does.
    """
    if _SIMPLE_ADDRESS.fullmatch(addrstring):
        return f"<{addrstring}>"
    name, addr = email.utils.parseaddr(addrstring)
    if (name, addr) == ("", ""):
        if addrstring.strip().startswith("<"):
            return addrstring
        return f"<{addrstring}>"
    return f"<{addr}>"


def addr_only(addrstring: str) -> str:
    """The bare address of ``addrstring`` (for VRFY/EXPN), or the string itself if unparsable."""
    if _SIMPLE_ADDRESS.fullmatch(addrstring):
        return addrstring
    name, addr = email.utils.parseaddr(addrstring)
    if (name, addr) == ("", ""):
        return addrstring
    return addr

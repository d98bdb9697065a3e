"""Enhanced status codes (RFC 3463): read from the start of a reply's text.

Its own module because replies and exceptions both need it, and neither needs the other for it.
"""

from __future__ import annotations

import re

__all__ = ["enhanced_status_of"]

_ENHANCED = re.compile(rb"([245])\.[0-9]{1,3}\.[0-9]{1,3}(?=[ \t]|\Z)")


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

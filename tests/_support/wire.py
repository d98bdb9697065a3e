"""The bytes the running Python's smtplib writes, where its versions differ.

Python 3.13's smtplib writes MAIL and RCPT with lower-case keywords (``mail from:``, ``rcpt to:``,
gh-65495); earlier versions write ``mail FROM:`` and ``rcpt TO:``. The client follows the Python
it runs on, so a test that spells out a MAIL or RCPT line passes it through :func:`wire`.
"""

from __future__ import annotations

import sys
from typing import TypeVar

__all__ = ["FROM", "LOWER_CASE_ENVELOPE", "TO", "wire"]

LOWER_CASE_ENVELOPE = sys.version_info >= (3, 13)
FROM = "from:" if LOWER_CASE_ENVELOPE else "FROM:"
"""The keyword after ``MAIL`` as smtplib writes it (a fake server's transcript keeps it)."""
TO = "to:" if LOWER_CASE_ENVELOPE else "TO:"
"""The keyword after ``RCPT`` as smtplib writes it."""
T = TypeVar("T", str, bytes)


def wire(line: T) -> T:
    """``line`` (written as 3.10-3.12 send it) as the running Python's smtplib sends it."""
    if not LOWER_CASE_ENVELOPE:
        return line
    if isinstance(line, bytes):
        return line.replace(b"mail FROM:", b"mail from:").replace(b"rcpt TO:", b"rcpt to:")
    return line.replace("mail FROM:", "mail from:").replace("rcpt TO:", "rcpt to:")

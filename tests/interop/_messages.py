"""Messages for the interop tests: raw bytes with CRLF line ends, built to exercise the data path
(dot-stuffing, long lines, 8-bit text)."""

from __future__ import annotations

#: The domain both servers deliver for.
DOMAIN = "interop.test"
SENDER = "sender@example.org"


def raw_message(to: str, subject: str, body: bytes = b"") -> bytes:
    """A complete message whose body has lines a careless client would get wrong."""
    return (
        f"From: Sender <{SENDER}>\r\n"
        f"To: <{to}>\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <interop-" + subject.replace(" ", "-") + "@example.org>\r\n"
        "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    ).encode() + (
        body
        or (
            b"First line.\r\n"
            b".A line that starts with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"(the line above is a single dot)\r\n"
            b"\xc3\xa9t\xc3\xa9 in 8-bit UTF-8\r\n" + b"x" * 990 + b"\r\n"
            b"Last line.\r\n"
        )
    )


def big_body(size: int) -> bytes:
    """About ``size`` bytes of 78-byte lines, every 100th starting with a dot."""
    lines = []
    total = 0
    number = 0
    while total < size:
        start = b"." if number % 100 == 0 else b""
        line = start + f"{number:08d} ".encode() + b"y" * (74 - len(start)) + b"\r\n"
        lines.append(line)
        total += len(line)
        number += 1
    return b"".join(lines)

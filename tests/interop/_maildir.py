"""Reading back what the servers delivered into a Maildir, and comparing it with what was sent.

Both servers store a message with LF line ends and prepend their own trace fields; what follows
them must be exactly the bytes the client sent (with CRLF read as LF, the data unstuffed).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

#: Header fields the servers add on delivery (Postfix and Dovecot LMTP).
ADDED_FIELDS = frozenset({b"return-path", b"received", b"delivered-to", b"x-original-to"})
#: Bound on waiting for Postfix's queue to deliver; only there to fail fast.
DELIVERY_TIMEOUT = 60.0
POLL_INTERVAL = 0.01


class Maildir:
    """One Maildir (``new/``), read as the servers deliver into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._delivered_to: dict[str, bytes | None] = {}

    def names(self) -> set[str]:
        """The message files now in ``new/``."""
        try:
            return {entry.name for entry in (self.path / "new").iterdir()}
        except FileNotFoundError:
            return set()

    def read(self, name: str) -> bytes:
        return (self.path / "new" / name).read_bytes()

    def delivered_to(self, name: str) -> bytes | None:
        """The Delivered-To address that the server added to message ``name``, if any."""
        if name not in self._delivered_to:
            fields, _ = split_added(self.read(name))
            found = [v for k, v in fields if k == b"delivered-to"]
            self._delivered_to[name] = found[0] if found else None
        return self._delivered_to[name]

    def wait_new(
        self,
        before: set[str],
        count: int,
        *,
        delivered_to: str | None = None,
        timeout: float = DELIVERY_TIMEOUT,
    ) -> list[str]:
        """Wait (bounded) until ``count`` messages not in ``before`` are there, counting only
        those delivered to ``delivered_to`` when it is given; their names, oldest first."""
        wanted = None if delivered_to is None else delivered_to.encode()
        deadline = time.monotonic() + timeout
        while True:
            fresh = sorted(
                name
                for name in self.names() - before
                if wanted is None or self.delivered_to(name) == wanted
            )
            if len(fresh) >= count:
                return fresh
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{len(fresh)} of {count} messages delivered to {self.path} after {timeout} s"
                )
            time.sleep(POLL_INTERVAL)


def split_added(delivered: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The trace fields a server prepended (lower-cased name, value) and the rest, as sent."""
    fields: list[tuple[bytes, bytes]] = []
    rest = delivered
    while True:
        name, colon, _ = rest.partition(b"\n")[0].partition(b":")
        if not colon or name.lower() not in ADDED_FIELDS:
            return fields, rest
        end = rest.index(b"\n")
        while rest[end + 1 : end + 2] in (b" ", b"\t"):
            end = rest.index(b"\n", end + 1)
        fields.append((name.lower(), rest[len(name) + 1 : end].strip()))
        rest = rest[end + 1 :]


def assert_same_message(delivered: bytes, sent: bytes) -> list[tuple[bytes, bytes]]:
    """Fail unless ``delivered`` is ``sent`` (CRLF stored as LF) behind the servers' trace
    fields; return those fields."""
    fields, rest = split_added(delivered)
    expected = sent.replace(b"\r\n", b"\n")
    if rest != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(rest, expected, strict=False)) if a != b),
            min(len(rest), len(expected)),
        )
        pytest.fail(
            f"delivered message differs from the one sent at byte {at} "
            f"(lengths {len(rest)} and {len(expected)}): "
            f"delivered {rest[max(0, at - 40) : at + 40]!r}, "
            f"sent {expected[max(0, at - 40) : at + 40]!r}; added fields {fields!r}"
        )
    return fields

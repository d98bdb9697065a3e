"""Checking credentials for AUTH: pure functions, no I/O (the protocol does the exchanges)."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping

__all__ = ["INVALID", "XOAUTH2_ERROR", "cram_md5_challenge", "cram_md5_user", "password_ok",
           "xoauth2_user"]

INVALID = "535 5.7.8 Authentication credentials invalid"
# What Gmail sends (base64-encoded, in a 334) before answering a failed XOAUTH2 with 535.
XOAUTH2_ERROR = json.dumps({"status": "401", "schemes": "bearer"}).encode("ascii")


def password_ok(users: Mapping[str, str], user: str, password: bytes) -> bool:
    """Whether ``password`` is ``user``'s (compared in constant time, as bytes)."""
    expected = users.get(user)
    return expected is not None and hmac.compare_digest(expected.encode("utf-8"), password)


def cram_md5_challenge(hostname: str) -> bytes:
    """A fresh RFC 2195 challenge: ``<random@hostname>``."""
    return f"<{secrets.token_hex(8)}@{hostname}>".encode("ascii")


def cram_md5_user(users: Mapping[str, str], challenge: bytes, answer: bytes) -> str | None:
    """The user whose ``"user hex-hmac-md5"`` answer to ``challenge`` is right, else None."""
    name, _, digest = answer.partition(b" ")
    user = name.decode("utf-8", "replace")
    password = users.get(user)
    if password is None:
        return None
    expected = hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest().encode("ascii")
    return user if hmac.compare_digest(expected, digest.strip().lower()) else None


def xoauth2_user(users: Mapping[str, str], blob: bytes) -> str | None:
    """The user of a valid ``user=...^Aauth=Bearer <token>^A^A`` blob (token = password)."""
    fields = dict(part.partition(b"=")[::2] for part in blob.split(b"\x01") if part)
    user = fields.get(b"user", b"").decode("utf-8", "replace")
    token = fields.get(b"auth", b"").removeprefix(b"Bearer ")
    return user if password_ok(users, user, token) else None

"""EHLO/LHLO reply -> service extensions (sans-I/O), with smtplib's exact rules.

Each line after the first names a keyword (a letter or digit, then letters, digits and hyphens)
and its parameters. Keywords are lower-cased. ``AUTH`` lines accumulate (servers may list
mechanisms over several lines), and the pre-standard ``AUTH=mech ...`` form is folded into
``auth`` too. Values keep smtplib's shape (``" PLAIN LOGIN"`` with a leading space for auth),
because applications read ``esmtp_features`` directly.
"""

from __future__ import annotations

import re

__all__ = ["parse_ehlo"]

_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def parse_ehlo(message: bytes) -> dict[str, str]:
    """Map each extension keyword (lower case) in an EHLO reply's text to its parameters."""
    features: dict[str, str] = {}
    for line in message.decode("latin-1").split("\n")[1:]:
        if line[:5].lower() == "auth=":
            features["auth"] = features.get("auth", "") + " " + line[5:]
            continue
        match = _KEYWORD.match(line)
        if match is None:
            continue
        keyword = match.group().lower()
        params = line[match.end() :].strip()
        if keyword == "auth":
            features["auth"] = features.get("auth", "") + " " + params
        else:
            features[keyword] = params
    return features

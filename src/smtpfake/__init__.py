"""smtpfake: a scriptable fake SMTP/LMTP server built on aiosmtpd, for tests.

>>> from smtpfake import FakeSMTPServer
>>> with FakeSMTPServer() as server:          # 127.0.0.1, an ephemeral port
...     server.on("RCPT", to="bob@example.com").reply(550, "5.1.1 No such user")
...     ...                                   # send mail to server.host, server.port
...     server.assert_sent(to="alice@example.com", subject="Hello")

See docs/smtpfake.md for the whole API.

The names are imported on first use (PEP 562), so the package itself imports without aiosmtpd:
the ``smtpfake`` command can then say what to install instead of failing with a traceback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._capture import CapturedMessage, Outbox, Session, TranscriptLine
    from ._errors import ServerError
    from ._script import Phase, Rule, RuleBuilder
    from ._server import FakeLMTPServer, FakeSMTPServer
    from ._tls import CertificateAuthority

__all__ = [
    "CapturedMessage",
    "CertificateAuthority",
    "FakeLMTPServer",
    "FakeSMTPServer",
    "Outbox",
    "Phase",
    "Rule",
    "RuleBuilder",
    "ServerError",
    "Session",
    "TranscriptLine",
]

_HOMES = {
    "CapturedMessage": "_capture", "Outbox": "_capture", "Session": "_capture",
    "TranscriptLine": "_capture", "ServerError": "_errors", "Phase": "_script",
    "Rule": "_script", "RuleBuilder": "_script", "FakeLMTPServer": "_server",
    "FakeSMTPServer": "_server", "CertificateAuthority": "_tls",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

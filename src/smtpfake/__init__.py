"""smtpfake: a scriptable fake SMTP/LMTP server built on aiosmtpd, for tests.

>>> from smtpfake import FakeSMTPServer
>>> with FakeSMTPServer() as server:          # 127.0.0.1, an ephemeral port
...     server.on("RCPT", to="bob@example.com").reply(550, "5.1.1 No such user")
...     ...                                   # send mail to server.host, server.port
...     server.assert_sent(to="alice@example.com", subject="Hello")

See docs/smtpfake.md for the whole API.
"""

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

"""smtpclient: an smtplib-compatible SMTP/LMTP client on a sans-I/O core.

``import smtpclient as smtplib`` keeps an application working: the same classes, functions,
constants and exceptions (each a subclass of its smtplib namesake), with TLS verified by
default and the other differences listed in ``smtpclient._sync``'s docstring and docs/client.md.

The sans-I/O core the client runs on is public in :mod:`smtpclient.protocol`, for other drivers.
"""

from . import protocol
from ._auth import xoauth2
from ._commands import CRLF, bCRLF, quoteaddr
from ._exceptions import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupportedError,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from ._lmtp import LMTP, LMTP_PORT
from ._message import quotedata
from ._replies import Reply, ReplyParser
from ._smtp_ssl import SMTP_SSL, SMTP_SSL_PORT
from ._sync import SMTP, SMTP_PORT
from ._tls import default_context

__all__ = [
    "CRLF",
    "LMTP",
    "LMTP_PORT",
    "SMTP",
    "SMTP_PORT",
    "SMTP_SSL",
    "SMTP_SSL_PORT",
    "Reply",
    "ReplyParser",
    "SMTPAuthenticationError",
    "SMTPConnectError",
    "SMTPDataError",
    "SMTPException",
    "SMTPHeloError",
    "SMTPNotSupportedError",
    "SMTPRecipientsRefused",
    "SMTPReplyError",
    "SMTPResponseException",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
    "bCRLF",
    "default_context",
    "protocol",
    "quoteaddr",
    "quotedata",
    "xoauth2",
]

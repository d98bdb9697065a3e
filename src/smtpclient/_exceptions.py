"""Exceptions: every smtplib exception name, each a subclass of its smtplib namesake.

Code written for smtplib keeps working: ``except smtplib.SMTPRecipientsRefused`` catches ours,
and the attributes (``smtp_code``, ``smtp_error``, ``sender``, ``recipients``) and pickling are
smtplib's, because the constructors are inherited unchanged. We add two things: a read-only
``enhanced_status`` on reply-carrying errors (RFC 3463, e.g. ``"5.1.1"``), and
:class:`SMTPReplyError` for replies that break the protocol or our size limits.

The tree (each class also inherits its ``smtplib`` namesake)::

    OSError
     └── SMTPException
          ├── SMTPNotSupportedError
          ├── SMTPServerDisconnected
          ├── SMTPRecipientsRefused          .recipients {addr: (code, msg)}
          └── SMTPResponseException          .smtp_code .smtp_error .enhanced_status
               ├── SMTPSenderRefused         .sender
               ├── SMTPDataError
               ├── SMTPConnectError
               ├── SMTPHeloError
               ├── SMTPAuthenticationError
               └── SMTPReplyError            a malformed or over-long reply (ours)
                    └── SMTPGreetingError    ... as the greeting: an SMTPConnectError too
"""

from __future__ import annotations

import smtplib

from ._replies import enhanced_status_of

__all__ = [
    "SMTPAuthenticationError",
    "SMTPConnectError",
    "SMTPDataError",
    "SMTPException",
    "SMTPGreetingError",
    "SMTPHeloError",
    "SMTPNotSupportedError",
    "SMTPRecipientsRefused",
    "SMTPReplyError",
    "SMTPResponseException",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
]


class SMTPException(smtplib.SMTPException):
    """Base class of every error this package raises for a protocol reason."""


class SMTPNotSupportedError(SMTPException, smtplib.SMTPNotSupportedError):
    """The server does not support the command or option asked for."""


class SMTPServerDisconnected(SMTPException, smtplib.SMTPServerDisconnected):
    """Not connected: never connected, closed, or the server hung up or timed out."""


class SMTPResponseException(SMTPException, smtplib.SMTPResponseException):
    """An error that carries the server's reply code and text."""

    @property
    def enhanced_status(self) -> str | None:
        """The RFC 3463 status (``"5.1.1"``) at the start of the reply text, if any."""
        return enhanced_status_of(self.smtp_code, self.smtp_error)


class SMTPSenderRefused(SMTPResponseException, smtplib.SMTPSenderRefused):
    """The server refused the sender address (``.sender``)."""


class SMTPRecipientsRefused(SMTPException, smtplib.SMTPRecipientsRefused):
    """Every recipient was refused; ``.recipients`` maps each to ``(code, msg)``."""


class SMTPDataError(SMTPResponseException, smtplib.SMTPDataError):
    """The server refused the DATA command or the message itself."""


class SMTPConnectError(SMTPResponseException, smtplib.SMTPConnectError):
    """The server's greeting was not 220."""


class SMTPHeloError(SMTPResponseException, smtplib.SMTPHeloError):
    """The server refused both EHLO and HELO."""


class SMTPAuthenticationError(SMTPResponseException, smtplib.SMTPAuthenticationError):
    """The server refused the credentials."""


class SMTPReplyError(SMTPResponseException):
    """A reply broke the protocol or a limit; the connection is closed after it.

    ``smtp_code`` is 500 for a reply over a size limit (smtplib's code for a line that is too
    long) and -1 when no valid reply code could be read; ``smtp_error`` says what was wrong.
    """


class SMTPGreetingError(SMTPReplyError, SMTPConnectError):
    """A malformed or over-long greeting; the connection is closed after it.

    Also an SMTPConnectError, so ``except smtplib.SMTPConnectError:`` (the "try the next MX"
    pattern) catches it, as it catches smtplib's error for a greeting it cannot parse.
    """

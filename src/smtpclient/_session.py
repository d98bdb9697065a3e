"""The session: everything the protocol has learnt about one connection, in one typed object.

The core owns it: flows read and update it, drivers create it and reset it when they connect,
and nothing else writes it. ``SMTP``'s smtplib attributes (``esmtp_features``, ``does_esmtp``,
``helo_resp``, ``ehlo_resp``, ``command_encoding``, ``local_hostname``, ``user``...) are views of
it, so the drop-in surface stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._replies import Reply

__all__ = ["Session"]


@dataclass(eq=False)
class Session:
    """One SMTP or LMTP session, as the flows of the core see it.

    Configuration (kept across connections): ``local_hostname`` (the name given to EHLO/HELO),
    ``ehlo_msg`` (``"ehlo"``, ``"lhlo"`` for LMTP), ``lmtp`` and ``debuglevel``. The rest
    describes the current connection and is cleared by :meth:`new_connection`.
    """

    local_hostname: str = "localhost"
    ehlo_msg: str = "ehlo"
    lmtp: bool = False
    debuglevel: int = 0
    """Above 0, the flows yield :class:`~smtpclient.protocol.Debug` events (smtplib's)."""

    greeting: Reply | None = None
    """The server's greeting."""
    helo_resp: bytes | None = None
    """The text of the reply to HELO, once sent."""
    ehlo_resp: bytes | None = None
    """The text of the reply to EHLO (LHLO), once sent."""
    does_esmtp: bool = False
    """True once EHLO succeeded."""
    esmtp_features: dict[str, str] = field(default_factory=dict)
    """The extensions from the EHLO reply: lower-case keyword -> parameters (smtplib's shape)."""
    command_encoding: str = "ascii"
    """How command lines are encoded: UTF-8 from a MAIL with SMTPUTF8 until RSET."""
    tls: bool = False
    """True once the connection is encrypted (STARTTLS done, or implicit TLS)."""
    user: str = ""
    """The user name given to ``login``."""
    password: str = ""
    """The password (or XOAUTH2 token) given to ``login``."""
    authenticated: bool = False
    """True once AUTH succeeded on this connection."""
    auth_challenge_count: int = 0
    """Challenges answered in the current AUTH exchange (smtplib's LOGIN reads it)."""
    accepted: list[str] = field(default_factory=list)
    """Recipients accepted in the open transaction (LMTP answers once for each after the data)."""
    last_data_reply: Reply | None = None
    """The reply to the end of the last message's data (for LMTP: the first refusal, if any)."""
    last_data_replies: list[tuple[str, Reply]] = field(default_factory=list)
    """``[(recipient, reply), ...]`` for the last message's data."""

    def has_extension(self, name: str) -> bool:
        """Whether the EHLO reply advertised ``name`` (any case)."""
        return name.lower() in self.esmtp_features

    def forget_greeting(self) -> None:
        """Forget EHLO/HELO: after STARTTLS, QUIT, or on a new connection."""
        self.helo_resp = None
        self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False

    def new_connection(self) -> None:
        """Start afresh for a new connection; the configuration stays."""
        self.forget_greeting()
        self.greeting = None
        self.command_encoding = "ascii"
        self.tls = False
        self.authenticated = False
        self.auth_challenge_count = 0
        self.accepted = []

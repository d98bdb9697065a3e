"""Hooks: how a driver replaces the steps that compound flows take (smtplib's subclass hooks).

smtplib's compound methods call its public ones: ``sendmail`` calls ``self.mail``, ``self.rcpt``
and ``self.data``; ``send_message`` calls ``self.sendmail``; ``login`` calls ``self.auth`` with
``self.auth_<mechanism>``; all of them ask ``self.has_extn``. Applications override those in
subclasses, and tests patch them. The core knows nothing of a client object: a compound flow
takes a :class:`Hooks` and, for each such step, runs the replacement the driver put there, or
its own step when there is none. The blocking driver fills the fields for the methods a
subclass (or a patch on the object) replaced; an asyncio driver or a test passes ``NO_HOOKS``.

A replacement takes the smtplib method's arguments and returns a flow; a blocking method that
does its own I/O is wrapped in a flow that yields nothing and returns the method's result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ._events import Flow

__all__ = ["NO_HOOKS", "AuthObject", "Hooks"]

AuthObject = Callable[..., "str | None"]
"""smtplib's authobject: called with no argument for the initial response (None if the
mechanism has none), then with each decoded challenge; returns the answer as an ASCII str."""

CodeText = tuple[int, bytes]


@dataclass(frozen=True)
class Hooks:
    """Replacements for the steps of compound flows; None means the core's own step."""

    has_extn: Callable[[str], bool] | None = None
    ehlo: Callable[[], Flow[CodeText]] | None = None
    helo: Callable[[], Flow[CodeText]] | None = None
    ehlo_or_helo_if_needed: Callable[[], Flow[None]] | None = None
    rset: Callable[[], Flow[CodeText]] | None = None
    mail: Callable[[str, Sequence[str]], Flow[CodeText]] | None = None
    rcpt: Callable[[str, Sequence[str]], Flow[CodeText]] | None = None
    data: Callable[[bytes], Flow[CodeText]] | None = None
    sendmail: (
        Callable[
            [str, str | Sequence[str], str | bytes, Sequence[str], Sequence[str]],
            Flow[dict[str, CodeText]],
        ]
        | None
    ) = None
    auth: Callable[[str, AuthObject, bool], Flow[CodeText]] | None = None
    authobject: Callable[[str], AuthObject] | None = None
    """The authobject for a mechanism (``"CRAM-MD5"``...): smtplib's ``self.auth_cram_md5``."""

    @property
    def batchable(self) -> bool:
        """Whether MAIL, RCPT and DATA are the core's, so a flow may pipeline them."""
        return self.mail is None and self.rcpt is None and self.data is None


NO_HOOKS: Final = Hooks()
"""Every step is the core's own."""

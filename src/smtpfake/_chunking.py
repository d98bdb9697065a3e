"""BDAT (RFC 3030 CHUNKING) and BODY=BINARYMIME: chunks read exactly by size, rules per chunk.

aiosmtpd has no BDAT. A chunk is ``BDAT <size> [LAST]`` followed by exactly ``size`` octets, with
no terminator and no dot-stuffing, so the server reads those octets whatever it answers: a refused
chunk (no transaction, a rule, over the size limit) is read and discarded, never taken as
commands (the command smuggling of go-smtp #315). The chunks of a transaction are kept on its
envelope; ``BDAT <size> LAST`` ends the message as the end of DATA does (the END_OF_DATA rules,
per recipient for LMTP). A refused chunk ends the transaction, so the chunks a client pipelined
after it are refused too. DATA is refused in a transaction that has sent a chunk, or that
declared ``BODY=BINARYMIME``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from ._connection import null_is_empty
from ._data import ClientGone
from ._delivery import DeliveryProtocol
from ._errors import NotStored
from ._internals import stream_buffer
from ._script import Action, Phase

__all__ = ["ChunkingProtocol", "read_chunk"]

_BDAT = re.compile(r"(\d{1,20})(?: +(LAST))?", re.IGNORECASE)  # aiosmtpd strips the argument
_PIECE = 1 << 20  # read (and hold) at most this much at a time while skipping a chunk
TOO_MUCH = "552 5.3.4 Message size exceeds fixed maximum message size"


async def read_chunk(reader: asyncio.StreamReader, size: int, into: bytearray | None) -> None:
    """Read exactly ``size`` octets from ``reader``: appended to ``into``, or dropped if None.

    Raises ``ClientGone`` when the connection ends first.
    """
    remaining = size
    while remaining:
        piece = await reader.read(min(remaining, _PIECE))
        if not piece:
            raise ClientGone(f"connection closed {size - remaining} octets into a {size}-octet "
                             "BDAT chunk")
        if into is not None:
            into += piece
        remaining -= len(piece)


def _accepts(action: Action | None) -> bool:
    """Whether a BDAT rule's action keeps the chunk (no rule, ``accept``, a 2xx reply)."""
    return action is None or action.kind == "accept" or (
        action.kind == "reply" and 200 <= action.code < 300)


class ChunkingProtocol(DeliveryProtocol):
    """BDAT next to DATA, and the DATA refusals RFC 3030 asks for."""

    def _offers(self, extension: str) -> bool:
        """Whether this session was offered ``extension`` (after EHLO/LHLO, when not hidden)."""
        return bool(self._sess.extended_smtp) and extension not in self._cfg.hide

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        result: dict[str, str | bool] | None = super()._getparams(params)
        if result is not None and result.get("BODY") == "BINARYMIME" and self._offers(
                "BINARYMIME"):
            # aiosmtpd knows only 7BIT and 8BITMIME; the MAIL options keep BODY=BINARYMIME.
            result["BODY"] = "8BITMIME"
        return result

    async def smtp_DATA(self, arg: str | None) -> None:
        env = self._env
        if env.chunks is not None:
            await self.push("503 5.5.1 Error: DATA after BDAT in one transaction")
        elif "BODY=BINARYMIME" in env.mail_options:
            await self.push("503 5.5.1 Error: BODY=BINARYMIME needs BDAT, not DATA")
        else:
            await super().smtp_DATA(arg)

    async def smtp_BDAT(self, arg: str | None) -> None:
        if not self._offers("CHUNKING"):  # as a server without CHUNKING answers
            await self.push('500 Error: command "BDAT" not recognized')
            return
        syntax = _BDAT.fullmatch(arg or "")
        if syntax is None:
            await self.push("501 5.5.4 Syntax: BDAT <size> [LAST]")
            await self._hang_up("BDAT without a size: its chunk cannot be told from commands")
            return  # pragma: no cover - _hang_up never returns
        size, last = int(syntax[1]), syntax[2] is not None
        env = self._env
        action = self._core.script.fire(
            Phase.BDAT, f"{size} LAST" if last else str(size), env.rcpt_tos,
            null_is_empty(env.mail_from),
        )
        if action is not None and (action.kind in ("delay", "hang") or (
                action.kind == "disconnect" and not action.after_data)):
            await self._act(action, Phase.BDAT)  # before the chunk: only a delay returns
            action = None
        refusal = self._refusal(size)
        keep = refusal is None and _accepts(action)
        if keep and env.chunks is None:
            env.chunks = bytearray()
        await self._read_chunk(size, env.chunks if keep else None)
        if action is not None and action.kind == "disconnect":
            await self._hang_up("disconnect after the BDAT chunk")
        if not keep:
            self._rec.add("!", f"BDAT chunk of {size} octets read and discarded")
            self._new_envelope()  # the transaction failed (the client sends RSET)
            if action is None or action.kind == "accept":
                await self.push(refusal or "")
            else:
                await self._act(action, Phase.BDAT)
        elif not last:
            if action is not None and action.kind == "reply":
                await self._push_lines(action.reply_lines())
            else:
                await self.push(f"250 2.0.0 OK: {size} octets received")
        elif action is not None and action.kind == "reply":
            await self._scripted_end(bytes(env.chunks or b""), action)
        else:
            await self._end_of_data(bytes(env.chunks or b""))

    def _refusal(self, size: int) -> str | None:
        """Why the server refuses this chunk whatever the rules say, or None."""
        env = self._env
        if self._cfg.tls_required and not self._tls_now():
            return "530 5.7.0 Must issue a STARTTLS command first"
        if self._auth_required and not self._sess.authenticated:
            return "530 5.7.0 Authentication required"
        if env.mail_from is None:
            return "503 5.5.1 Error: need MAIL command"
        if not env.rcpt_tos:
            return "503 5.5.1 Error: need RCPT command"
        if len(env.chunks or b"") + size > self._cfg.data_size_limit:
            return TOO_MUCH
        return None

    async def _read_chunk(self, size: int, into: bytearray | None) -> None:
        if len(stream_buffer(self._reader)) < size:
            # About to wait for the client, who may wait for the replies held for its pipelined
            # MAIL/RCPT: they go out first (RFC 2920 3.2: never block with replies held).
            self._write()
        self._in_data = True
        try:
            await read_chunk(self._reader, size, into)
        except ClientGone:
            self._note_departure(None)
            await self._hang_up("")
        finally:
            self._in_data = False

    async def _scripted_end(self, content: bytes, action: Action) -> None:
        """A BDAT rule's 2xx reply to ``BDAT LAST``: the message is accepted for every
        recipient, and the reply stands for the end-of-data reply (LMTP: one per recipient)."""
        rcpt_tos = tuple(self._env.rcpt_tos)
        try:
            self._capture(content, rcpt_tos)
            lines = action.reply_lines() * (len(rcpt_tos) if self.lmtp else 1)
        except NotStored as failure:  # no recipient may be told it was delivered
            lines = [failure.reply(r) for r in rcpt_tos] if self.lmtp else [failure.reply()]
        finally:
            self._new_envelope()
        await self._push_lines(lines)

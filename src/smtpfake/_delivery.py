"""DATA and the end of data: the message read fast, captured, and answered (LMTP per recipient).

aiosmtpd reads DATA line by line; ``_data.read_data`` reads it in large chunks with the same
limits. The reply after the data can be scripted (``END_OF_DATA``), for LMTP per recipient
(RFC 2033: one reply for each accepted recipient).
"""

from __future__ import annotations

from ._capture import CapturedMessage
from ._connection import ConnectionProtocol, null_is_empty
from ._data import ClientGone, read_data
from ._errors import NotStored
from ._script import Action, Phase

__all__ = ["DeliveryProtocol"]


class DeliveryProtocol(ConnectionProtocol):
    """Receiving the message: DATA, its end-of-data reply(ies), and the capture."""

    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        if not self._env.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._receive_data()

    async def _receive_data(self) -> None:
        content, problem = await self._read_data()
        if problem is not None:
            self._new_envelope()
            await self.push(problem)
            return
        await self._end_of_data(content)

    async def _read_data(self) -> tuple[bytes, str | None]:
        self._in_data = True
        try:
            return await read_data(self._reader, self._cfg.data_size_limit, self.data_line_limit)
        except ClientGone:
            self._note_departure(None)
            await self._hang_up("")
            raise  # pragma: no cover - _hang_up never returns
        finally:
            self._in_data = False

    async def _end_of_data(self, content: bytes) -> None:
        """Answer (and capture) the message; the transaction ends here whatever happens, a
        failure included (a server error must not leave its recipients to the next message)."""
        try:
            if self.lmtp:
                await self._lmtp_end_of_data(content)
            else:
                await self._smtp_end_of_data(content)
        finally:
            self._new_envelope()

    async def _smtp_end_of_data(self, content: bytes) -> None:
        env = self._env
        action = self._core.script.fire(
            Phase.END_OF_DATA, None, env.rcpt_tos, null_is_empty(env.mail_from)
        )
        if action is not None and action.kind == "reply":
            lines = action.reply_lines()
            if 200 <= action.code < 300:
                try:
                    self._capture(content, tuple(env.rcpt_tos))
                except NotStored as failure:
                    lines = [failure.reply()]
            await self._push_lines(lines)
            return
        if action is not None and action.kind == "delay":
            await self._act(action, Phase.END_OF_DATA)
        elif action is not None and action.kind != "accept":
            await self._act(action, Phase.END_OF_DATA)  # raw bytes, a hang-up or a hang
            return
        try:
            reply = f"250 2.0.0 OK: queued as {self._capture(content, tuple(env.rcpt_tos))}"
        except NotStored as failure:
            reply = failure.reply()
        await self.push(reply)

    async def _lmtp_end_of_data(self, content: bytes) -> None:
        env = self._env
        replies: list[tuple[str, list[str]]] = []  # (recipient, its reply lines)
        accepted: list[str] = []
        final: Action | None = None
        for rcpt in env.rcpt_tos:
            action = self._core.script.fire(
                Phase.END_OF_DATA, rcpt, (rcpt,), null_is_empty(env.mail_from)
            )
            if action is None or action.kind == "accept":
                accepted.append(rcpt)
                replies.append((rcpt, [f"250 2.1.5 <{rcpt}> OK"]))
            elif action.kind == "delay":
                await self._act(action, Phase.END_OF_DATA)
                accepted.append(rcpt)
                replies.append((rcpt, [f"250 2.1.5 <{rcpt}> OK"]))
            elif action.kind == "reply":
                if 200 <= action.code < 300:
                    accepted.append(rcpt)
                replies.append((rcpt, action.reply_lines()))
            else:
                final = action
                break
        if accepted:
            try:
                self._capture(content, tuple(accepted))
            except NotStored as failure:  # no recipient may be told it was delivered
                replies = [(r, [failure.reply(r)] if r in accepted else lines)
                           for r, lines in replies]
        if replies:
            await self._push_lines([line for _, lines in replies for line in lines])
        if final is not None:
            await self._act(final, Phase.END_OF_DATA)

    def _capture(self, content: bytes, accepted_for: tuple[str, ...]) -> str:
        env = self._env
        message = CapturedMessage(
            mail_from=null_is_empty(env.mail_from) or "",
            rcpt_tos=tuple(env.rcpt_tos),
            mail_options=tuple(env.mail_options),
            rcpt_options=tuple(env.per_rcpt_options),
            raw=content,
            accepted_for=accepted_for,
            _session=self._sync_record().cut(),
        )
        return self._core.captured(message)

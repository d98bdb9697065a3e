"""Reading DATA fast: whole chunks from the stream instead of aiosmtpd's line-by-line loop.

aiosmtpd awaits ``readuntil(b"\\r\\n")`` once per line and keeps a 2 KB stream buffer, which caps
a message near 50 MB/s. Here the message is read in chunks as large as the socket delivers and
the terminator is found with one ``bytes.find`` per chunk, with aiosmtpd's rules kept:

* only CRLF.CRLF ends the data; a bare LF or CR (``\\n.\\n``, ``\\r.\\r``) is content, so a
  message cannot smuggle a second one past the server;
* more than ``size_limit`` octets is refused (552) after the data, holding no more than the
  limit in memory;
* a line longer than ``line_limit`` octets (CRLF and transparency dot included) is refused
  (500) after the data;
* a leading dot is removed from every line (RFC 5321 4.5.2), nothing else is touched.
"""

from __future__ import annotations

import asyncio

from ._internals import stream_buffer

__all__ = ["ClientGone", "read_data"]

_READ_ALL = 1 << 30  # StreamReader.read(n) with n this large drains the whole buffer
TOO_MUCH = "552 5.3.4 Error: too much mail data"
TOO_LONG = "500 5.5.2 Line too long (see RFC 5321 4.5.3.1.6)"


class ClientGone(ConnectionResetError):
    """The client closed the connection in the middle of the data."""


async def read_data(
    reader: asyncio.StreamReader, size_limit: int, line_limit: int
) -> tuple[bytes, str | None]:
    """Read up to CRLF.CRLF; return (the unstuffed message, None) or (b"", the error reply).

    Bytes after the terminator (pipelined commands) are put back at the front of ``reader``.
    """
    buf = bytearray(b"\r\n")  # a virtual CRLF, so a "." on the first line ends the data too
    start = 0
    too_much = False
    while True:
        end = buf.find(b"\r\n.\r\n", start)
        if end >= 0:
            break
        if not too_much and len(buf) - 7 > size_limit:
            too_much = True
        if too_much:
            del buf[:-4]  # keep only what may begin the terminator
        start = max(0, len(buf) - 4)
        chunk = await reader.read(_READ_ALL)
        if not chunk:
            raise ClientGone("connection closed during DATA")
        buf += chunk
    leftover = buf[end + 5 :]
    if leftover:
        # read() drained the reader, so what followed the data belongs at its front.
        stream_buffer(reader)[:0] = leftover
    if too_much or end > size_limit:
        return b"", TOO_MUCH
    stuffed = buf[: end + 2]
    del buf
    if max(map(len, stuffed.split(b"\r\n"))) + 2 > line_limit:
        return b"", TOO_LONG
    if b"\r\n." in stuffed:
        stuffed = stuffed.replace(b"\r\n.", b"\r\n")
    return bytes(memoryview(stuffed)[2:]), None

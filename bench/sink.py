"""A minimal, fast asyncio SMTP sink for benchmarks: it answers at once and counts what it got.

It frames command lines and finds the end of DATA (``CRLF.CRLF``) in whole chunks, without
per-line work, so a client on loopback is measured rather than the server (aiosmtpd reads DATA
line by line and tops out near 50 MB/s). It answers 250 to every sensible command, advertises
PIPELINING, 8BITMIME, SIZE and (with a certificate) STARTTLS, and counts messages and bytes per
connection and in total:

- ``XSTATS`` answers ``250 conn-msgs conn-bytes total-msgs total-bytes`` (bytes as received
  between DATA and the terminator, dot-stuffing and terminator included);
- ``XRESET`` zeroes the totals.

Run ``python bench/sink.py [--port N] [--certfile F --keyfile F]``; it prints
``READY <host> <port>`` once listening, then serves until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys

TERMINATOR = b"\r\n.\r\n"
SIZE_LIMIT = 64 * 1024 * 1024
READ_SIZE = 1024 * 1024


class _Totals:
    messages = 0
    octets = 0


class SinkProtocol(asyncio.BufferedProtocol):
    """One SMTP session, reading into one reused buffer (no allocation per read)."""

    def __init__(self, totals: _Totals, tls: ssl.SSLContext | None) -> None:
        self.totals = totals
        self.tls = tls
        self.in_tls = False
        self.transport: asyncio.Transport | None = None
        self.rbuf = bytearray(READ_SIZE)
        self.view = memoryview(self.rbuf)
        self.pending = b""  # an incomplete command line
        self.in_data = False
        self.tail = b""  # the last (up to 4) DATA bytes, for a terminator split across reads
        self.data_octets = 0
        self.messages = 0
        self.octets = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(b"220 sink.test ESMTP benchmark sink\r\n")  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        out: list[bytes] = []
        rest = b""
        if self.in_data:
            end = self._find_end(self.rbuf, nbytes)
            if end < 0:
                self.data_octets += nbytes
                self.tail = (self.tail + bytes(self.rbuf[max(0, nbytes - 4) : nbytes]))[-4:]
                return
            self._message_done(end, out)
            rest = bytes(self.rbuf[end:nbytes])
        else:
            rest = bytes(self.rbuf[:nbytes])
        self._commands(rest, out)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        """The same work for a transport that hands over bytes (asyncio's TLS transport)."""
        out: list[bytes] = []
        self._commands(data, out)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _find_end(self, buf: bytes | bytearray, n: int) -> int:
        """Index just past the DATA terminator in ``buf[:n]``, or -1."""
        edge = self.tail + bytes(buf[:4])
        found = edge.find(TERMINATOR)
        if found >= 0:
            return found + 5 - len(self.tail)
        found = buf.find(TERMINATOR, 0, n)
        return found + 5 if found >= 0 else -1

    def _message_done(self, end: int, out: list[bytes]) -> None:
        self.data_octets += end
        self.in_data = False
        self.messages += 1
        self.octets += self.data_octets
        self.totals.messages += 1
        self.totals.octets += self.data_octets
        out.append(b"250 2.0.0 accepted\r\n")

    def _commands(self, data: bytes, out: list[bytes]) -> None:
        """Answer the command lines in ``data``; DATA bytes after a DATA command go on."""
        while data:
            if self.in_data:
                end = self._find_end(data, len(data))
                if end < 0:
                    self.data_octets += len(data)
                    self.tail = (self.tail + data[-4:])[-4:]
                    return
                self._message_done(end, out)
                data = data[end:]
                continue
            buffer = self.pending + data if self.pending else data
            end = buffer.find(b"\r\n")
            if end < 0:
                self.pending = buffer
                return
            line, data, self.pending = buffer[:end], buffer[end + 2 :], b""
            if not self._command(line, out):
                return

    def _command(self, line: bytes, out: list[bytes]) -> bool:
        """Answer one command line; False when the connection is being closed or upgraded."""
        verb = line[:4].upper()
        if verb == b"EHLO" or verb == b"LHLO":
            features = [b"250-sink.test", b"250-PIPELINING", b"250-8BITMIME"]
            if self.tls is not None and not self.in_tls:
                features.append(b"250-STARTTLS")
            features.append(b"250 SIZE %d" % SIZE_LIMIT)
            out.append(b"\r\n".join(features) + b"\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.tail = b"\r\n"  # the DATA line's own CRLF: a first line of "." ends it
            self.data_octets = 0
            out.append(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            out.append(b"221 2.0.0 bye\r\n")
            assert self.transport is not None
            self.transport.write(b"".join(out))
            out.clear()
            self.transport.close()
            return False
        elif verb == b"STAR" and self.tls is not None and not self.in_tls:
            out.append(b"220 2.0.0 ready for TLS\r\n")
            assert self.transport is not None
            self.transport.write(b"".join(out))
            out.clear()
            self.transport.pause_reading()
            asyncio.get_running_loop().create_task(self._upgrade())
            return False
        elif verb == b"XSTA":
            stats = (self.messages, self.octets, self.totals.messages, self.totals.octets)
            out.append(b"250 %d %d %d %d\r\n" % stats)
        elif verb == b"XRES":
            self.totals.messages = self.totals.octets = 0
            out.append(b"250 2.0.0 reset\r\n")
        elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP", b"VRFY"):
            out.append(b"250 2.0.0 ok\r\n")
        else:
            out.append(b"500 5.5.2 unknown command\r\n")
        return True

    async def _upgrade(self) -> None:
        assert self.transport is not None
        assert self.tls is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(self.transport, self, self.tls, server_side=True)
        self.transport = transport
        self.in_tls = True
        self.pending = b""


async def serve(host: str, port: int, tls: ssl.SSLContext | None) -> None:
    loop = asyncio.get_running_loop()
    totals = _Totals()
    server = await loop.create_server(lambda: SinkProtocol(totals, tls), host, port)
    bound = server.sockets[0].getsockname()
    print(f"READY {bound[0]} {bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certfile", help="PEM certificate chain; enables STARTTLS")
    parser.add_argument("--keyfile", help="PEM private key (if not in --certfile)")
    args = parser.parse_args(argv)
    tls = None
    if args.certfile:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.certfile, args.keyfile)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, tls))
    return 0


if __name__ == "__main__":
    sys.exit(main())

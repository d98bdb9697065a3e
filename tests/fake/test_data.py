"""The chunked DATA reader against a line-by-line reference, at every chunk boundary."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpfake._data import TOO_LONG, TOO_MUCH, ClientGone, read_data

LINE_LIMIT = 1001


def reference(wire: bytes) -> tuple[bytes, str | None, bytes]:
    """aiosmtpd's algorithm: CRLF-terminated lines until a line that is exactly ".\\r\\n"."""
    lines, pos, too_long = [], 0, False
    while True:
        i = wire.index(b"\r\n", pos)
        line, pos = wire[pos : i + 2], i + 2
        if line == b".\r\n":
            break
        too_long = too_long or len(line) > LINE_LIMIT
        lines.append(line[1:] if line.startswith(b".") else line)
    if too_long:
        return b"", TOO_LONG, wire[pos:]
    return b"".join(lines), None, wire[pos:]


async def feed_in_pieces(
    wire: bytes, cuts: list[int], size_limit: int = 1 << 20
) -> tuple[bytes, str | None, bytes]:
    reader = asyncio.StreamReader(limit=1 << 20)
    task = asyncio.ensure_future(read_data(reader, size_limit, LINE_LIMIT))
    previous = 0
    for cut in [*sorted(cuts), len(wire)]:
        reader.feed_data(wire[previous:cut])
        previous = cut
        await asyncio.sleep(0)  # let the reader consume this piece alone
    if not task.done():  # everything was fed: the terminator must have been found by now
        task.cancel()
        raise AssertionError("read_data is still waiting after the terminator")
    content, problem = task.result()
    rest = await reader.read(1 << 20) if reader._buffer else b""  # type: ignore[attr-defined]
    return content, problem, rest


tricky_bytes = st.lists(
    st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b"..", b"\r\n.", b".\r\n", b"\r\n.\r"]),
    max_size=60,
).map(b"".join)


SMUGGLING = [
    b"",
    b".",
    b"..",
    b"a\n.\r\nb",  # LF.CRLF is not the end
    b"a\r.\r\nb",  # CR.CRLF is not the end
    b"a\n.\nb",
    b"a\r\n.\rb",
    b"\n.\r\n",
    b"a\r\n..\r\n.a\r\n",
    b"\r\r\n.\r",
]


@pytest.mark.parametrize("body", SMUGGLING)
def test_every_pair_of_chunk_boundaries(body: bytes) -> None:
    wire = body + b"\r\n.\r\nQUIT\r\n"
    expected = reference(wire)
    for first in range(len(wire) + 1):
        for second in range(first, len(wire) + 1):
            assert asyncio.run(feed_in_pieces(wire, [first, second])) == expected, (first, second)


@given(body=tricky_bytes, after=st.sampled_from([b"", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n"]),
       data=st.data())
def test_same_result_as_line_by_line_for_any_chunking(body: bytes, after: bytes, data) -> None:
    wire = body + b"\r\n.\r\n" + after
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    assert asyncio.run(feed_in_pieces(wire, cuts)) == reference(wire)


@given(st.integers(0, 3000), st.integers(1, 50))
def test_size_limit_is_exact(size: int, piece: int) -> None:
    body = (b"x" * 98 + b"\r\n") * (size // 100) + b"y" * (size % 100)
    wire = body + b"\r\n.\r\n"
    limit = 1500
    cuts = list(range(0, len(wire), piece * 37))
    content, problem, _ = asyncio.run(feed_in_pieces(wire, cuts, size_limit=limit))
    stuffed_size = len(body) + 2
    if stuffed_size > limit:
        assert (content, problem) == (b"", TOO_MUCH)
    else:
        assert (content, problem) == (body + b"\r\n", None)


def test_client_leaving_mid_data_is_reported() -> None:
    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"Subject: half\r\n")
        reader.feed_eof()
        await read_data(reader, 1000, LINE_LIMIT)

    with pytest.raises(ClientGone, match="during DATA"):
        asyncio.run(run())

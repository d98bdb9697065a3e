"""BDAT (RFC 3030 CHUNKING) and BODY=BINARYMIME in the fake server, over real sockets."""

from __future__ import annotations

import asyncio
import errno
import re
import smtplib

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpfake import FakeLMTPServer, FakeSMTPServer
from smtpfake._chunking import read_chunk
from smtpfake._data import ClientGone

from ._bdat_client import BdatClient, bdat, split
from .test_misbehaviour import _session_when


def _transcript(server: FakeSMTPServer, index: int = -1) -> list[str]:
    return [str(line) for line in server.sessions[index].transcript]


# ---- advertising --------------------------------------------------------------------------


def test_chunking_and_binarymime_are_advertised_by_default() -> None:
    with FakeSMTPServer() as smtp, BdatClient(smtp.address) as client:
        assert {"CHUNKING", "BINARYMIME"} <= set(client.features)
    with FakeLMTPServer() as lmtp, BdatClient(lmtp.address, hello="LHLO") as client:
        assert {"CHUNKING", "BINARYMIME"} <= set(client.features)


def test_hiding_chunking_hides_binarymime_and_refuses_bdat() -> None:
    with FakeSMTPServer(hide=("chunking",)) as server, BdatClient(server.address) as client:
        assert not {"CHUNKING", "BINARYMIME"} & set(client.features)
        assert client.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME")[0] == 501
        assert client.cmd("MAIL FROM:<a@example.com>")[0] == 250
        assert client.cmd("RCPT TO:<b@example.com>")[0] == 250
        code, [text] = client.cmd("BDAT 0 LAST")
        assert (code, text) == (500, 'Error: command "BDAT" not recognized')


def test_binarymime_can_be_hidden_alone() -> None:
    with FakeSMTPServer(hide=("BINARYMIME",)) as server, BdatClient(server.address) as client:
        assert "CHUNKING" in client.features
        assert "BINARYMIME" not in client.features
        assert client.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME")[0] == 501
        assert client.send_chunked([b"x\r\n"]) == [250, 250, 250]
    assert server.outbox[0].raw == b"x\r\n"


def test_bdat_is_refused_in_a_helo_session() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address, hello="HELO") as client:
        assert client.features == []
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        assert client.cmd("BDAT 0 LAST")[0] == 500


# ---- chunks are read exactly and captured as sent -------------------------------------------


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "lockstep"])
def test_chunks_are_captured_concatenated_byte_for_byte(pipelined: bool) -> None:
    # No dot-stuffing, no line endings: a lone dot line, bare CR and LF, NUL and what looks
    # like commands are all content.
    data = b"Subject: x\r\n\r\n.\r\nQUIT\r\n\x00\r.\n" + bytes(range(256)) + b"\r\n.\r\n"
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        assert client.send_chunked(split(data, [5, 6, 40, 41]), pipelined=pipelined) == [250] * 7
        assert client.cmd("NOOP")[0] == 250
    captured = server.wait_for(1)[0]
    assert captured.raw == data
    assert captured.rcpt_tos == ("b@example.com",)


def test_bdat_replies_say_the_size_and_the_queue_id() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        client.send(bdat(b"abc"))
        assert client.reply() == (250, ["2.0.0 OK: 3 octets received"])
        client.send(bdat(b"", last=True))
        code, [text] = client.reply()
    assert code == 250
    assert re.fullmatch(r"2\.0\.0 OK: queued as \S+", text)
    assert server.outbox[0].raw == b"abc"


def test_bdat_0_last_alone_is_an_empty_message() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        assert client.send_chunked([]) == [250, 250, 250]
    assert server.wait_for(1)[0].raw == b""


def test_replies_held_for_a_pipelined_envelope_are_sent_before_waiting_for_a_chunk() -> None:
    # A client may bound what it sends unacknowledged: it sends MAIL, RCPT, the BDAT line and
    # part of the chunk, then waits for the first replies before sending the rest.
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                    b"BDAT 10 LAST\r\n01234")
        assert client.replies(2) == [250, 250]
        client.send(b"56789")
        assert client.reply()[0] == 250
    assert server.outbox[0].raw == b"0123456789"


def test_a_chunk_split_across_many_writes_is_waited_for() -> None:
    data = b"y" * 100_000
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 100000 LAST\r\n")
        for start in range(0, len(data), 7_001):
            client.send(data[start:start + 7_001])
        assert client.replies(3) == [250, 250, 250]
    assert server.outbox[0].raw == data


def test_a_second_transaction_follows_on_the_same_connection() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        assert client.send_chunked([b"one"]) == [250, 250, 250]
        assert client.send_chunked([b"tw", b"o"]) == [250, 250, 250, 250]
    assert [m.raw for m in server.wait_for(2)] == [b"one", b"two"]


def test_the_transcript_shows_each_bdat_with_its_size_not_its_bytes() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.send_chunked([b"secret-one", b"secret-two"], pipelined=False)
        client.cmd("QUIT")
    lines = _transcript(server)
    at = lines.index("C: BDAT 10")
    assert lines[at:at + 3] == ["C: BDAT 10", "S: 250 2.0.0 OK: 10 octets received",
                                "C: BDAT 10 LAST"]
    assert lines[at + 3].startswith("S: 250 2.0.0 OK: queued as ")
    assert not any("secret" in line for line in lines)


# ---- RFC 3030's rules ---------------------------------------------------------------------


_SMUGGLED = (b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
             + bdat(b"smuggled " * 20, last=True))
_ENVELOPE = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (b"", [503]),  # no MAIL
        (b"MAIL FROM:<a@example.com>\r\nRCPT TO:<refused@example.com>\r\n",
         [250, 550, 503]),  # no accepted recipient
        (_ENVELOPE, [250, 250, 552]),  # over the size limit
        (_ENVELOPE + bdat(b"refused by a rule"), [250, 250, 554, 503]),  # after a refused chunk
    ],
    ids=["no-mail", "no-rcpt", "over-size", "after-refusal"],
)
def test_a_refused_chunk_is_skipped_by_size_never_read_as_commands(
    before: bytes, expected: list[int]
) -> None:
    # Command smuggling through a refused chunk (go-smtp #315): the chunk holds a whole
    # pipelined transaction; the server must skip it by its size, not read it as commands.
    with FakeSMTPServer(size_limit=len(_SMUGGLED) - 1) as server:
        server.refuse_recipient("refused@example.com")
        server.on("BDAT", "17").reply(554, "5.6.0 no")
        with BdatClient(server.address) as client:
            client.send(before + bdat(_SMUGGLED, last=True) + b"NOOP\r\n")
            assert client.replies(len(expected)) == expected
            assert client.reply()[0] == 250  # the NOOP: the very next reply
            client.cmd("QUIT")
    assert list(server.outbox) == []
    lines = _transcript(server)
    assert f"!: BDAT chunk of {len(_SMUGGLED)} octets read and discarded" in lines
    assert not any("evil" in line or "victim" in line for line in lines)


def test_bdat_without_an_accepted_recipient_is_refused_and_skipped() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.refuse_recipient("b@example.com")
        codes = client.send_chunked([b"RSET\r\nMAIL FROM:<x@example.com>\r\n"])
        assert codes == [250, 550, 503]
        assert client.cmd("NOOP")[0] == 250
    assert list(server.outbox) == []


def test_chunks_pipelined_after_a_refused_chunk_are_refused_too() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.on("BDAT", times=1).reply(554, "5.6.0 no thanks")
        assert client.send_chunked([b"a", b"b", b"c"]) == [250, 250, 554, 503, 503]
        assert client.cmd("RSET")[0] == 250
        assert client.send_chunked([b"again"]) == [250, 250, 250]
    assert [m.raw for m in server.outbox] == [b"again"]


def test_bdat_after_last_needs_a_new_transaction() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.send_chunked([b"one"])
        client.send(bdat(b"more"))
        assert client.reply()[0] == 503
    assert [m.raw for m in server.outbox] == [b"one"]


def test_data_after_bdat_in_one_transaction_is_refused() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        client.send(bdat(b"part"))
        assert client.reply()[0] == 250
        assert client.cmd("DATA") == (503, ["5.5.1 Error: DATA after BDAT in one transaction"])
        client.send(bdat(b" two", last=True))
        assert client.reply()[0] == 250
    assert server.outbox[0].raw == b"part two"


def test_bdat_with_a_bad_size_is_refused_and_the_connection_closed() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        assert client.cmd("BDAT ten LAST")[0] == 501
        assert client.closed_by_peer()
    assert list(server.outbox) == []


def test_the_size_limit_applies_to_the_sum_of_the_chunks() -> None:
    with FakeSMTPServer(size_limit=100) as server, BdatClient(server.address) as client:
        codes = client.send_chunked([b"x" * 60, b"y" * 41, b"z" * 10])
        assert codes == [250, 250, 250, 552, 503]
        assert client.send_chunked([b"x" * 60, b"y" * 40]) == [250, 250, 250, 250]
    assert [len(m.raw) for m in server.outbox] == [100]


@pytest.mark.parametrize("options", [{"users": {"u": "p"}, "auth_required": True},
                                     {"tls": "starttls", "tls_required": True}],
                         ids=["auth", "tls"])
def test_tls_and_auth_requirements_refuse_chunks_and_skip_them(options: dict) -> None:
    with FakeSMTPServer(**options) as server, BdatClient(server.address) as client:
        client.send(bdat(b"NOOP\r\n", last=True) + b"NOOP\r\n")
        assert client.replies(2) == [530, 250]


def test_binarymime_is_accepted_with_bdat_and_refuses_data() -> None:
    binary = bytes(range(256)) * 4
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        client.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME")
        client.cmd("RCPT TO:<b@example.com>")
        assert client.cmd("DATA") == (503, ["5.5.1 Error: BODY=BINARYMIME needs BDAT, not DATA"])
        client.send(bdat(binary, last=True))
        assert client.reply()[0] == 250
    captured = server.wait_for(1)[0]
    assert captured.raw == binary
    assert captured.mail_options == ("BODY=BINARYMIME",)


# ---- rules --------------------------------------------------------------------------------


def test_refusing_the_second_chunk() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.on("BDAT", times=1).accept()
        rule = server.on("BDAT", times=1).reply(452, "4.3.1 out of room")
        assert client.send_chunked([b"a", b"b", b"c"], pipelined=False) == [250, 250, 250, 452, 503]
        assert rule.fired == 1
        assert client.send_chunked([b"a", b"b"]) == [250, 250, 250, 250]
    assert [m.raw for m in server.outbox] == [b"ab"]


def test_refusing_bdat_last_matches_its_argument() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.on("BDAT", re.compile(r"LAST$")).reply(554, "5.7.1 rejected")
        assert client.send_chunked([b"a", b"b"]) == [250, 250, 250, 554]
    assert list(server.outbox) == []


def test_a_scripted_2xx_reply_to_bdat_last_accepts_the_message() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.on("BDAT", "2 LAST").reply(250, "2.0.0 fine")
        client.cmd("MAIL FROM:<a@example.com>")
        client.cmd("RCPT TO:<b@example.com>")
        client.send(bdat(b"ab", last=True))
        assert client.reply() == (250, ["2.0.0 fine"])
    assert server.outbox[0].raw == b"ab"


@pytest.mark.parametrize("scripted", [False, True], ids=["default", "scripted-2xx"])
@pytest.mark.parametrize("server_class", [FakeSMTPServer, FakeLMTPServer], ids=["smtp", "lmtp"])
def test_a_store_failure_at_bdat_last_is_a_451_for_every_recipient(
    server_class: type[FakeSMTPServer], scripted: bool
) -> None:
    def disk_full(message: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    lmtp = server_class is FakeLMTPServer
    with server_class(store=disk_full) as server, BdatClient(
            server.address, hello="LHLO" if lmtp else "EHLO") as client:
        if scripted:
            server.on("BDAT", re.compile("LAST$")).reply(250, "2.0.0 scripted")
        codes = client.send_chunked([b"a", b"b"], rcpts=("b@example.com", "c@example.com"),
                                    lmtp=lmtp)
        assert codes == [250, 250, 250, 250] + [451] * (2 if lmtp else 1)
        assert client.cmd("MAIL FROM:<a@example.com>")[0] == 250  # the transaction ended
    server.assert_nothing_sent()


def test_disconnect_at_bdat_hangs_up_in_the_middle_of_the_chunk() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.disconnect_at("BDAT")
        client.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                    b"BDAT 5000000 LAST\r\n")
        assert client.replies(2) == [250, 250]
        assert client.closed_by_peer()
    assert list(server.outbox) == []
    assert "!: disconnect at BDAT" in _transcript(server)


def test_disconnect_after_the_chunk_reads_it_first() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.disconnect_at("BDAT", after_data=True)
        client.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                    + bdat(b"NOOP\r\n", last=True))
        assert client.replies(2) == [250, 250]
        assert client.closed_by_peer()
    assert list(server.outbox) == []
    assert _transcript(server)[-1] == "!: disconnect after the BDAT chunk"


def test_a_delay_at_bdat_then_the_chunk_is_taken() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.on("BDAT").delay(0.01)
        assert client.send_chunked([b"late"]) == [250, 250, 250]
    assert server.wait_for(1)[0].raw == b"late"
    assert "!: delay 0.01s at BDAT" in _transcript(server)


def test_end_of_data_rules_apply_to_bdat_last() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:
        server.tempfail("END_OF_DATA")
        assert client.send_chunked([b"a", b"b"]) == [250, 250, 250, 451]
        assert client.send_chunked([b"a", b"b"]) == [250, 250, 250, 250]
    assert [m.raw for m in server.outbox] == [b"ab"]


def test_client_leaving_mid_chunk_is_noted_and_nothing_captured() -> None:
    with FakeSMTPServer() as server:
        with BdatClient(server.address) as client:
            client.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                        b"BDAT 100 LAST\r\nonly part")
            assert client.replies(2) == [250, 250]
        session = _session_when(server, lambda s: s.transcript[-1].direction == "!")
    assert str(session.transcript[-1]) == "!: client disconnected during BDAT without QUIT"
    assert list(server.outbox) == []


def test_read_chunk_reads_exactly_its_size() -> None:
    async def run() -> tuple[bytearray, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"0123456789NOOP\r\n")
        into = bytearray(b">")
        await read_chunk(reader, 10, into)
        return into, await reader.readline()

    assert asyncio.run(run()) == (bytearray(b">0123456789"), b"NOOP\r\n")


def test_read_chunk_skips_without_keeping_and_reports_a_short_chunk() -> None:
    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"x" * 3_000_000)
        await read_chunk(reader, 2_999_990, None)
        assert await reader.read(100) == b"x" * 10
        reader.feed_data(b"half")
        reader.feed_eof()
        await read_chunk(reader, 8, None)

    with pytest.raises(ClientGone, match="4 octets into a 8-octet BDAT chunk"):
        asyncio.run(run())


# ---- LMTP ---------------------------------------------------------------------------------


def test_lmtp_answers_bdat_last_once_per_recipient() -> None:
    with FakeLMTPServer() as server, BdatClient(server.address, hello="LHLO") as client:
        server.on("END_OF_DATA", to="c@example.com").reply(452, "4.2.2 mailbox full")
        codes = client.send_chunked([b"hello ", b"there"], rcpts=("b@example.com", "c@example.com"),
                                    lmtp=True)
        assert codes == [250, 250, 250, 250, 250, 452]
    captured = server.wait_for(1)[0]
    assert captured.raw == b"hello there"
    assert captured.accepted_for == ("b@example.com",)


# ---- clients that do not know CHUNKING ------------------------------------------------------


def test_smtplib_and_aiosmtplib_still_send_with_data() -> None:
    async def with_aiosmtplib(port: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as client:
            await client.sendmail("a@example.com", ["b@example.com"], b"Subject: two\r\n\r\n.\r\n")

    with FakeSMTPServer() as server:
        with smtplib.SMTP(*server.address) as client:
            client.ehlo()
            assert client.has_extn("chunking")
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: one\r\n\r\n.\r\n")
        asyncio.run(with_aiosmtplib(server.port))
        messages = server.wait_for(2)
    assert [m.raw for m in messages] == [b"Subject: one\r\n\r\n.\r\n",
                                         b"Subject: two\r\n\r\n.\r\n"]
    assert all("C: DATA" in m.session.format_transcript() for m in messages)


# ---- property -----------------------------------------------------------------------------


def test_any_bytes_in_any_chunking_are_captured_identical() -> None:
    with FakeSMTPServer() as server, BdatClient(server.address) as client:

        @settings(max_examples=150)
        @given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=6),
               st.booleans())
        def captured_identical(data: bytes, cuts: list[int], pipelined: bool) -> None:
            server.reset()
            chunks = split(data, cuts)
            codes = client.send_chunked(chunks, pipelined=pipelined)
            assert codes == [250] * (2 + len(chunks))
            assert server.wait_for(1)[0].raw == data

        captured_identical()

"""The reply parser: smtplib's view of replies, plus limits, strictness and enhanced status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpclient import Reply, ReplyParser, SMTPReplyError, SMTPResponseException


def test_single_line_reply() -> None:
    assert ReplyParser().feed(b"250 OK\r\n") == [Reply(250, (b"OK",))]


def test_multi_line_reply_joins_texts_with_lf() -> None:
    [reply] = ReplyParser().feed(b"250-mail.example\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
    assert reply.code == 250
    assert reply.lines == (b"mail.example", b"SIZE 100", b"8BITMIME")
    assert reply.message == b"mail.example\nSIZE 100\n8BITMIME"
    assert reply.as_tuple() == (250, b"mail.example\nSIZE 100\n8BITMIME")


def test_chunks_split_anywhere() -> None:
    parser = ReplyParser()
    data = b"220 hello\r\n250-a\r\n250 b\r\n"
    replies = [reply for byte in data for reply in parser.feed(bytes([byte]))]
    assert replies == [Reply(220, (b"hello",)), Reply(250, (b"a", b"b"))]
    assert not parser.in_progress


def test_code_without_text_and_last_line_without_ending() -> None:
    parser = ReplyParser()
    assert parser.feed(b"250\r\n") == [Reply(250, (b"",))]
    assert parser.feed(b"221 bye") == []
    assert parser.feed_eof() == Reply(221, (b"bye",))


@pytest.mark.parametrize(
    ("code", "text", "status"),
    [
        (550, b"5.1.1 No such user", "5.1.1"),
        (250, b"2.0.0 Ok: queued as ABC", "2.0.0"),
        (451, b"4.7.1 Try later", "4.7.1"),
        (550, b"2.0.0 wrong class", None),
        (250, b"OK", None),
        (250, b"2.0.0", "2.0.0"),
        (550, b"5.1.1000 too long", None),
    ],
)
def test_enhanced_status(code: int, text: bytes, status: str | None) -> None:
    assert Reply(code, (text,)).enhanced_status == status


def test_enhanced_status_on_exceptions() -> None:
    assert SMTPResponseException(550, b"5.7.1 Relaying denied").enhanced_status == "5.7.1"
    assert SMTPResponseException(550, "5.7.1 as str").enhanced_status == "5.7.1"
    assert SMTPResponseException(500, "Line too long.").enhanced_status is None


@pytest.mark.parametrize(
    "args", [("550", b"5.1.1 x"), (None, b"5.1.1 x"), (550, None), (550, 42), (550.0, "5.1.1")]
)
def test_enhanced_status_of_a_hand_built_exception_is_none_not_a_crash(args: tuple) -> None:
    # Applications build these exceptions themselves (in tests, in retry wrappers).
    assert SMTPResponseException(*args).enhanced_status is None


@pytest.mark.parametrize(
    "line",
    [b"hello\r\n", b"25 short\r\n", b"2500 OK\r\n", b"abc OK\r\n", b"250OK\r\n", b"650 x\r\n"],
)
def test_malformed_line_is_a_typed_error(line: bytes) -> None:
    with pytest.raises(SMTPReplyError) as caught:
        ReplyParser().feed(line)
    assert caught.value.smtp_code == -1
    assert "Malformed reply" in str(caught.value.smtp_error)


def test_continuation_with_another_code_is_malformed() -> None:
    with pytest.raises(SMTPReplyError, match="continues a reply"):
        ReplyParser().feed(b"250-first\r\n550 second\r\n")


def test_line_too_long_matches_smtplib_error() -> None:
    parser = ReplyParser()
    with pytest.raises(SMTPReplyError) as caught:
        parser.feed(b"250 " + b"x" * 8200)  # no line ending yet: still refused, not buffered
    assert caught.value.args == (500, "Line too long.")
    assert not parser.in_progress


def test_line_limit_counts_the_line_ending() -> None:
    ok = b"250 " + b"x" * (8192 - 6) + b"\r\n"
    assert len(ok) == 8192
    assert ReplyParser().feed(ok)[0].code == 250
    with pytest.raises(SMTPReplyError, match="Line too long"):
        ReplyParser().feed(b"250 " + b"x" * (8192 - 5) + b"\r\n")


def test_too_many_lines_and_too_large() -> None:
    with pytest.raises(SMTPReplyError, match="more than 3 lines"):
        ReplyParser(max_lines=3).feed(b"250-a\r\n" * 4 + b"250 z\r\n")
    with pytest.raises(SMTPReplyError, match="larger than 100 bytes"):
        ReplyParser(max_size=100).feed(
            b"250-" + b"x" * 60 + b"\r\n" + b"250-" + b"y" * 60 + b"\r\n"
        )


def test_reply_error_is_an_smtplib_response_exception() -> None:
    import smtplib

    with pytest.raises(smtplib.SMTPResponseException):
        ReplyParser().feed(b"garbage\r\n")


reply_lines = st.builds(
    lambda code, sep, text: code + sep + text + b"\r\n",
    st.sampled_from([b"250", b"220", b"550", b"354", b"abc", b"25", b""]),
    st.sampled_from([b" ", b"-", b"", b"x"]),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
)


@given(st.lists(st.binary(max_size=300) | reply_lines, max_size=30))
def test_arbitrary_bytes_give_replies_or_one_typed_error(chunks: list[bytes]) -> None:
    parser = ReplyParser(max_line=200, max_lines=5, max_size=500)
    try:
        for chunk in chunks:
            for reply in parser.feed(chunk):
                assert 100 <= reply.code <= 599
                assert 1 <= len(reply.lines) <= 5
                assert all(b"\n" not in line for line in reply.lines)
            # Memory stays bounded whatever arrives.
            assert len(parser._buffer) <= 200
            assert parser._size <= 500
            assert len(parser._lines) <= 5
    except SMTPReplyError as error:
        failure: SMTPReplyError | None = error
    else:
        failure = None
    if failure is not None:
        assert failure.smtp_code in (-1, 500)
        assert not parser.in_progress


@given(
    st.lists(
        st.tuples(
            st.integers(200, 599),
            st.lists(
                st.binary(max_size=30).filter(lambda b: b"\n" not in b), min_size=1, max_size=4
            ),
        ),
        max_size=5,
    )
)
def test_well_formed_replies_round_trip(replies: list[tuple[int, list[bytes]]]) -> None:
    wire = b""
    for code, texts in replies:
        for i, text in enumerate(texts):
            wire += b"%d%s%s\r\n" % (code, b" " if i == len(texts) - 1 else b"-", text)
    parsed = ReplyParser().feed(wire)
    assert [r.code for r in parsed] == [code for code, _ in replies]
    assert [r.lines for r in parsed] == [
        tuple(t.strip(b" \t\r\n") for t in texts) for _, texts in replies
    ]

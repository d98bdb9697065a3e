"""Command encoding and address quoting: smtplib's results, control characters refused."""

from __future__ import annotations

import smtplib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smtpclient._commands import addr_only, check_argument, quoteaddr
from smtpclient.protocol import Command

CONTROL = [chr(c) for c in range(32)] + ["\x7f"]


def test_command_line() -> None:
    assert Command("noop").line == "noop\r\n"
    mail = Command("mail", "FROM:<a@b>")
    assert (mail.verb, mail.args, mail.line) == ("mail", "FROM:<a@b>", "mail FROM:<a@b>\r\n")


def test_newline_error_keeps_smtplib_wording() -> None:
    expected = "command and arguments contain prohibited newline characters: NOOP a\\r\\nb"
    with pytest.raises(ValueError, match="newline") as ours:
        Command("NOOP", "a\r\nb")
    assert str(ours.value) == expected


@given(st.text(max_size=20), st.sampled_from(CONTROL), st.text(max_size=20))
def test_no_command_with_a_control_character_is_encoded(
    before: str, control: str, after: str
) -> None:
    with pytest.raises(ValueError, match="prohibited"):
        Command("RCPT", f"TO:<{before}{control}{after}>")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc",)), max_size=40))
def test_text_without_controls_is_encoded_unchanged(args: str) -> None:
    line = Command("VRFY", args).line
    assert line.endswith("\r\n")
    assert not any(c in line[:-2] for c in CONTROL)


addresses = st.one_of(
    st.emails(),
    st.text(max_size=30),
    st.builds(lambda n, a: f"{n} <{a}>", st.text(max_size=10), st.emails()),
    st.text(alphabet="abc@.<>\"() ,;:\\[]'!#-", max_size=20),
)


@given(addresses)
@example("")
@example("<>")
@example("a@b")
@example("a..b@c")
@example("Name <a@b.c>")
def test_quoteaddr_agrees_with_smtplib(address: str) -> None:
    assert quoteaddr(address) == smtplib.quoteaddr(address)
    assert addr_only(address) == smtplib._addr_only(address)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [None, b"a@b", 5])
def test_an_argument_that_is_not_text_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        check_argument(value)  # type: ignore[arg-type]


def test_check_argument_returns_clean_text_unchanged() -> None:
    assert check_argument("Ünïcode <a@b>") == "Ünïcode <a@b>"
    with pytest.raises(ValueError, match=r"control characters: a\\x00b"):
        check_argument("a\x00b")

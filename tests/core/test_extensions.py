"""EHLO features: smtplib's parsing, including AUTH accumulation and the old auth= form."""

from __future__ import annotations

import smtplib

from hypothesis import given
from hypothesis import strategies as st

from smtpclient._extensions import parse_ehlo


def test_features() -> None:
    reply = b"mail.example\nSIZE 35882577\n8BITMIME\nAUTH LOGIN PLAIN\nAUTH=CRAM-MD5\nSTARTTLS"
    assert parse_ehlo(reply) == {
        "size": "35882577",
        "8bitmime": "",
        "auth": " LOGIN PLAIN CRAM-MD5",
        "starttls": "",
    }


def smtplib_features(message: bytes) -> dict[str, str]:
    """smtplib as the oracle: its ehlo() parses the reply text into esmtp_features."""
    smtp = smtplib.SMTP(local_hostname="x")
    smtp.putcmd = lambda *args: None  # type: ignore[method-assign]
    smtp.getreply = lambda: (250, message)  # type: ignore[method-assign]
    smtp.ehlo()
    return smtp.esmtp_features


lines = st.one_of(
    st.sampled_from(["AUTH PLAIN", "AUTH=LOGIN", "auth=x y", "SIZE", "SIZE 10", "8BITMIME", ""]),
    st.text(alphabet="aAuthUTH=- 9é\t\r", max_size=12),
    st.text(max_size=12).filter(lambda s: "\n" not in s),
)


@given(st.lists(lines, max_size=8))
def test_agrees_with_smtplib(feature_lines: list[str]) -> None:
    message = "\n".join(["greeting", *feature_lines]).encode("latin-1", "replace")
    assert parse_ehlo(message) == smtplib_features(message)

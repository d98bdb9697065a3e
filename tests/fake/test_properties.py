"""Hypothesis: any message the email package can build arrives byte-identical in the capture."""

from __future__ import annotations

import email.policy
import smtplib
from email.message import EmailMessage

from hypothesis import given
from hypothesis import strategies as st

from smtpfake import FakeSMTPServer

_SMTP_POLICY = email.policy.default.clone(linesep="\r\n")

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(".\n\r \t"),
    max_size=400,
)
_header_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=60
)


@st.composite
def messages(draw: st.DrawFn) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["To"] = "bob@example.com"
    msg["Subject"] = draw(_header_text)
    msg.set_content(draw(_text), cte=draw(st.sampled_from([None, "quoted-printable", "base64"])))
    for _ in range(draw(st.integers(0, 2))):
        msg.add_attachment(
            draw(st.binary(max_size=3000)), maintype="application", subtype="octet-stream",
            filename=draw(st.from_regex(r"[a-z]{1,8}\.bin", fullmatch=True)),
        )
    return msg


def test_any_buildable_message_arrives_byte_identical() -> None:
    with FakeSMTPServer() as server, smtplib.SMTP(*server.address) as client:

        @given(messages())
        def delivered_exactly(msg: EmailMessage) -> None:
            data = msg.as_bytes(policy=_SMTP_POLICY)
            server.reset()
            client.sendmail("alice@example.com", ["bob@example.com"], data)
            captured = server.wait_for(1)[0]
            assert captured.raw == data
            assert captured.message["Subject"] == msg["Subject"]

        delivered_exactly()


@given(st.binary(max_size=5000))
def test_arbitrary_line_soup_is_unstuffed_exactly(body: bytes) -> None:
    # Any bytes, dot-stuffed the way RFC 5321 says, come back as they were (plus the final CRLF).
    lines = body.split(b"\r\n")
    if any(len(line) > 998 for line in lines):
        lines = [line[:998] for line in lines]
    body = b"\r\n".join(lines)
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    with FakeSMTPServer() as server, smtplib.SMTP(*server.address) as client:
        client.ehlo()
        client.mail("a@example.com")
        client.rcpt("b@example.com")
        client.putcmd("DATA")
        assert client.getreply()[0] == 354
        client.send(stuffed + b"\r\n.\r\n")
        assert client.getreply()[0] == 250
        assert server.outbox.last.raw == body + b"\r\n"

"""sendmail: options, line endings, refusals, RSET after failure, 421 closes."""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.wire import wire

from ._harness import Conversation, compare
from ._peer import HANGUP

SIZE_EHLO = "250-peer.test\n250-SIZE 1000000\n250-8BITMIME\n250 DSN"
MESSAGE = "From: a@example.org\nTo: b@example.org\nSubject: hi\n\n.hidden dot\nbody\n"


def send(c: Conversation, to: Any = ("b@example.org",), msg: Any = MESSAGE, **kw: Any) -> Any:
    s = c.smtp()
    return s.sendmail("a@example.org", list(to) if isinstance(to, tuple) else to, msg, **kw)


def test_sendmail_with_size_and_options(make_peer: Any) -> None:
    peer = make_peer({"EHLO": SIZE_EHLO})

    def conv(c: Conversation) -> Any:
        return send(c, mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=SUCCESS"])

    out = compare(peer, conv)
    assert out.value == {}
    assert out.sent[0][1] == wire(b"mail FROM:<a@example.org> size=74 BODY=8BITMIME\r\n")
    assert out.sent[0][2] == wire(b"rcpt TO:<b@example.org> NOTIFY=SUCCESS\r\n")


@pytest.mark.parametrize(
    "msg",
    [
        MESSAGE,
        MESSAGE.replace("\n", "\r\n"),
        MESSAGE.replace("\n", "\r"),
        MESSAGE.encode(),
        MESSAGE.replace("\n", "\r\n").encode(),
        "..\n.\n. \n",
    ],
)
def test_sendmail_line_endings_and_dots(make_peer: Any, msg: str | bytes) -> None:
    out = compare(make_peer({"EHLO": SIZE_EHLO}), lambda c: send(c, msg=msg))
    assert out.value == {}


def test_sendmail_to_a_bare_string(make_peer: Any) -> None:
    out = compare(make_peer(), lambda c: send(c, to="one@example.org"))
    assert out.sent[0][2] == wire(b"rcpt TO:<one@example.org>\r\n")


def test_sendmail_without_esmtp_sends_no_options(make_peer: Any) -> None:
    peer = make_peer({"EHLO": "500 5.5.1 what"})
    out = compare(peer, lambda c: send(c, mail_options=["BODY=8BITMIME"]))
    assert out.sent[0][2] == wire(b"mail FROM:<a@example.org>\r\n")


def test_sendmail_non_ascii_str_is_refused_before_mail(make_peer: Any) -> None:
    out = compare(make_peer(), lambda c: send(c, msg="Subject: caf\u00e9\n\nx\n"))
    assert out.error is not None
    assert out.error.type == "UnicodeEncodeError"
    assert [u for u in out.sent[0] if u.startswith(b"mail")] == []


def test_partial_refusal_returns_the_refused_dict(make_peer: Any) -> None:
    peer = make_peer({"RCPT": ["550 5.1.1 no such user", "250 ok", "251 2.1.5 will forward"]})
    to = ("gone@example.org", "here@example.org", "moved@example.org")
    out = compare(peer, lambda c: send(c, to=to))
    assert out.value == {"gone@example.org": (550, b"5.1.1 no such user")}


def test_all_recipients_refused(make_peer: Any) -> None:
    peer = make_peer({"RCPT": ["550 5.1.1 no", "452 4.2.2 full"]})
    out = compare(peer, lambda c: send(c, to=("x@example.org", "y@example.org")))
    assert out.error is not None
    assert out.error.type == "SMTPRecipientsRefused"
    assert out.error.attrs == {
        "recipients": {
            "x@example.org": (550, b"5.1.1 no"),
            "y@example.org": (452, b"4.2.2 full"),
        }
    }
    assert b"rset\r\n" in out.sent[0]


def test_sender_refused_then_rset(make_peer: Any) -> None:
    peer = make_peer({"MAIL": "553 5.1.8 bad sender"})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPSenderRefused"
    assert out.error.attrs == {
        "smtp_code": 553,
        "smtp_error": b"5.1.8 bad sender",
        "sender": "a@example.org",
    }
    assert out.sent[0][-1] == b"rset\r\n" or out.sent[0][-2] == b"rset\r\n"


def test_sender_refused_and_hang_up_at_rset(make_peer: Any) -> None:
    peer = make_peer({"MAIL": "451 4.3.0 later", "RSET": HANGUP})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPSenderRefused"
    assert out.clients[0]["sock is None"] is True


def test_421_at_mail_closes_without_rset(make_peer: Any) -> None:
    peer = make_peer({"MAIL": "421 4.3.2 shutting down"})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPSenderRefused"
    assert b"rset\r\n" not in out.sent[0]
    assert out.clients[0]["sock is None"] is True


def test_421_at_rcpt_closes_and_reports_so_far(make_peer: Any) -> None:
    peer = make_peer({"RCPT": ["250 ok", "421 4.3.2 bye"]})
    to = ("a1@example.org", "a2@example.org", "a3@example.org")
    out = compare(peer, lambda c: send(c, to=to))
    assert out.error is not None
    assert out.error.attrs == {"recipients": {"a2@example.org": (421, b"4.3.2 bye")}}
    assert out.clients[0]["sock is None"] is True


def test_refused_message_raises_after_rset(make_peer: Any) -> None:
    """A message refused after its data raises SMTPDataError, the transaction reset first."""
    peer = make_peer({"EOD": "554 5.6.0 no thanks"})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPDataError"
    assert out.error.attrs == {"smtp_code": 554, "smtp_error": b"5.6.0 no thanks"}
    assert b"rset\r\n" in out.sent[0]


def test_421_at_end_of_data_closes(make_peer: Any) -> None:
    peer = make_peer({"EOD": "421 4.3.0 bye"})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPDataError"
    assert out.clients[0]["sock is None"] is True


def test_hang_up_during_data(make_peer: Any) -> None:
    peer = make_peer({"EOD": HANGUP})
    out = compare(peer, send)
    assert out.error is not None
    assert out.error.type == "SMTPServerDisconnected"


def test_two_messages_on_one_connection(make_peer: Any) -> None:
    def conv(c: Conversation) -> Any:
        s = c.smtp()
        first = s.sendmail("a@example.org", ["b@example.org"], "one\n")
        second = s.sendmail("a@example.org", ["c@example.org"], b"two\r\n")
        return first, second, s.quit()

    out = compare(make_peer(), conv)
    assert sum(1 for u in out.sent[0] if u.startswith(b"ehlo")) == 1


def test_empty_recipient_list(make_peer: Any) -> None:
    """No recipients counts as all refused: RSET, then SMTPRecipientsRefused({})."""
    out = compare(make_peer(), lambda c: send(c, to=[]))
    assert out.error is not None
    assert (out.error.type, out.error.attrs) == ("SMTPRecipientsRefused", {"recipients": {}})
    assert b"data\r\n" not in out.sent[0]

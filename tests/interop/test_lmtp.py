"""smtpclient.LMTP against a real Dovecot, over TCP and its unix socket: one reply per accepted
recipient after the data (RFC 2033), each refusal in the refused dict."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import smtpclient

from ._dovecot import Dovecot
from ._maildir import Maildir, assert_same_message, split_added
from ._messages import DOMAIN, SENDER, raw_message

ALICE, BOB, FULL = (f"{name}@{DOMAIN}" for name in ("alice", "bob", "full"))


@pytest.fixture(params=["tcp", "unix"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[True, False], ids=["pipelined", "lockstep"])
def lmtp(
    request: pytest.FixtureRequest, dovecot: Dovecot, transport: str
) -> Iterator[smtpclient.LMTP]:
    """An LMTP client connected to Dovecot over TCP or the unix socket, with PIPELINING (which
    Dovecot offers) or without."""
    if transport == "tcp":
        client = smtpclient.LMTP("127.0.0.1", dovecot.lmtp_port)
    else:
        client = smtpclient.LMTP(str(dovecot.lmtp_socket))
    client.pipelining = bool(request.param)
    with client:
        yield client


def test_one_accepted_one_over_quota_one_unknown(lmtp: smtpclient.LMTP, dovecot: Dovecot) -> None:
    unknown = f"nobody@{DOMAIN}"
    message = raw_message(ALICE, "lmtp per recipient")
    box = Maildir(dovecot.maildir(ALICE))
    before = box.names()
    refused = lmtp.sendmail(SENDER, [ALICE, FULL, unknown], message)
    assert sorted(refused) == sorted([FULL, unknown])
    assert refused[unknown][0] == 550  # at RCPT: no such user
    assert refused[unknown][1].startswith(b"5.1.1 ")
    assert refused[FULL][0] == 552  # after the data: mailbox over quota
    assert refused[FULL][1].startswith(b"5.2.2 ")
    replies = lmtp.last_data_replies
    assert [(rcpt, reply.code) for rcpt, reply in replies] == [(ALICE, 250), (FULL, 552)]
    assert replies[1][1].enhanced_status == "5.2.2"
    # LMTP delivers before it answers: the message is there already.
    [name] = box.wait_new(before, 1, timeout=0)
    fields = assert_same_message(box.read(name), message)
    assert (b"return-path", f"<{SENDER}>".encode()) in fields
    assert Maildir(dovecot.maildir(FULL)).names() == set()


def test_two_accepted_each_gets_the_message(lmtp: smtpclient.LMTP, dovecot: Dovecot) -> None:
    message = raw_message(BOB, "lmtp two recipients")
    boxes = [Maildir(dovecot.maildir(address)) for address in (ALICE, BOB)]
    before = [box.names() for box in boxes]
    assert lmtp.sendmail(SENDER, [ALICE, BOB], message) == {}
    assert [reply.code for _, reply in lmtp.last_data_replies] == [250, 250]
    for box, names in zip(boxes, before, strict=True):
        [name] = box.wait_new(names, 1, timeout=0)
        assert_same_message(box.read(name), message)


def test_every_recipient_refused_after_the_data(lmtp: smtpclient.LMTP) -> None:
    # As documented: SMTPDataError when no recipient took the message after the data.
    with pytest.raises(smtpclient.SMTPDataError) as refused:
        lmtp.sendmail(SENDER, [FULL], raw_message(FULL, "lmtp all over quota"))
    assert refused.value.smtp_code == 552
    assert refused.value.enhanced_status == "5.2.2"
    assert lmtp.noop()[0] == 250  # the session is still in step


def test_every_recipient_refused_at_rcpt(lmtp: smtpclient.LMTP) -> None:
    unknown = [f"nobody{n}@{DOMAIN}" for n in range(2)]
    with pytest.raises(smtpclient.SMTPRecipientsRefused) as refused:
        lmtp.sendmail(SENDER, unknown, raw_message(unknown[0], "lmtp nobody"))
    assert sorted(refused.value.recipients) == unknown
    assert {code for code, _ in refused.value.recipients.values()} == {550}
    assert lmtp.noop()[0] == 250


def test_send_many_per_recipient_results(lmtp: smtpclient.LMTP, dovecot: Dovecot) -> None:
    messages = [raw_message(ALICE, f"lmtp many {n}") for n in range(3)]
    box = Maildir(dovecot.maildir(ALICE))
    before = box.names()
    results = lmtp.send_many(
        [
            (SENDER, [ALICE, FULL], messages[0]),  # one over quota: in the refused dict
            (SENDER, [FULL], messages[1]),  # every recipient refused after the data
            (SENDER, [ALICE], messages[2]),
        ]
    )
    first, second, third = results
    assert isinstance(first, dict)
    assert list(first) == [FULL]
    assert first[FULL][0] == 552
    assert isinstance(second, smtpclient.SMTPDataError)
    assert second.smtp_code == 552
    assert third == {}
    names = box.wait_new(before, 2, timeout=0)
    delivered = sorted(split_added(box.read(name))[1] for name in names)
    assert delivered == sorted(m.replace(b"\r\n", b"\n") for m in (messages[0], messages[2]))

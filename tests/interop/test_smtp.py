"""smtpclient against a real Postfix: plain SMTP, each delivered message read back from the
Maildir and compared byte for byte with what was sent."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

import smtpclient

from ._maildir import Maildir, assert_same_message
from ._messages import DOMAIN, SENDER, big_body, raw_message
from ._postfix import MESSAGE_SIZE_LIMIT, RECIPIENT_LIMIT, Postfix


@pytest.fixture(params=[True, False], ids=["pipelined", "lockstep"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Every sending test runs with PIPELINING (the default; Postfix offers it) and without."""
    return bool(request.param)


def connect(postfix: Postfix, pipelining: bool) -> smtpclient.SMTP:
    smtp = smtpclient.SMTP("127.0.0.1", postfix.ports.smtp)
    smtp.pipelining = pipelining
    return smtp


def inbox(postfix: Postfix) -> Maildir:
    return Maildir(postfix.maildir("inbox"))


def test_ehlo_advertises_what_the_tests_rely_on(postfix: Postfix) -> None:
    with smtpclient.SMTP("127.0.0.1", postfix.ports.smtp) as smtp:
        smtp.ehlo()
        for extension in ("pipelining", "chunking", "starttls", "smtputf8", "8bitmime"):
            assert smtp.has_extn(extension), extension
        assert int(smtp.esmtp_features["size"]) == MESSAGE_SIZE_LIMIT


def test_sendmail_delivers_the_bytes_sent(postfix: Postfix, pipelining: bool, tag: str) -> None:
    to = f"inbox+{tag}@{DOMAIN}"
    message = raw_message(to, f"plain {tag}")
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        assert smtp.sendmail(SENDER, [to], message) == {}
        assert smtp.last_data_reply.code == 250
        assert b"queued as" in smtp.last_data_reply.message
    [name] = box.wait_new(before, 1, delivered_to=to)
    fields = assert_same_message(box.read(name), message)
    assert (b"return-path", f"<{SENDER}>".encode()) in fields
    assert (b"x-original-to", to.encode()) in fields


def test_send_message_with_smtputf8(postfix: Postfix, pipelining: bool, tag: str) -> None:
    sender = "jos\u00e9@example.org"
    to = f"inbox+z\u00f6e-{tag}@{DOMAIN}"
    msg = EmailMessage()
    msg["From"] = f"Jos\u00e9 <{sender}>"
    msg["To"] = f"Zo\u00eb <{to}>"
    msg["Subject"] = f"\u00c9t\u00e9 {tag} \u2014 caf\u00e9"
    msg["Message-ID"] = f"<utf8-{tag}@example.org>"
    msg.set_content("Ol\u00e1, \u4e16\u754c!\n.dotted line\n")
    sent = msg.as_bytes(policy=msg.policy.clone(utf8=True, linesep="\r\n"))
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        assert smtp.send_message(msg) == {}
    [name] = box.wait_new(before, 1, delivered_to=to)
    fields = assert_same_message(box.read(name), sent)
    # The envelope went through as UTF-8 (SMTPUTF8), not downgraded.
    assert (b"return-path", f"<{sender}>".encode()) in fields


def test_refused_recipient_is_reported_and_the_others_get_the_mail(
    postfix: Postfix, pipelining: bool, tag: str
) -> None:
    to = f"inbox+{tag}@{DOMAIN}"
    unknown = f"nobody-{tag}@{DOMAIN}"
    message = raw_message(to, f"refused {tag}")
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        refused = smtp.sendmail(SENDER, [unknown, to], message)
    assert list(refused) == [unknown]
    code, text = refused[unknown]
    assert code == 550
    assert text.startswith(b"5.1.1 ")
    [name] = box.wait_new(before, 1, delivered_to=to)
    assert_same_message(box.read(name), message)


def test_every_recipient_refused_raises_and_the_session_goes_on(
    postfix: Postfix, pipelining: bool, tag: str
) -> None:
    unknown = [f"nobody-{tag}-{n}@{DOMAIN}" for n in range(2)]
    to = f"inbox+{tag}@{DOMAIN}"
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        with pytest.raises(smtpclient.SMTPRecipientsRefused) as refused:
            smtp.sendmail(SENDER, unknown, raw_message(unknown[0], f"nobody {tag}"))
        assert sorted(refused.value.recipients) == unknown
        assert {code for code, _ in refused.value.recipients.values()} == {550}
        message = raw_message(to, f"after refusal {tag}")
        assert smtp.sendmail(SENDER, [to], message) == {}
    [name] = box.wait_new(before, 1, delivered_to=to)
    assert_same_message(box.read(name), message)


def test_ten_thousand_recipients_in_one_message(
    postfix: Postfix, pipelining: bool, tag: str
) -> None:
    assert RECIPIENT_LIMIT >= 10_000
    recipients = [f"many-{n:05d}@{DOMAIN}" for n in range(10_000)]
    message = raw_message(recipients[0], f"many {tag}")
    box = Maildir(postfix.maildir("many"))
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        assert smtp.sendmail(SENDER, recipients, message) == {}
    names = box.wait_new(before, len(recipients))
    assert len(names) == len(recipients)
    delivered_to: set[bytes] = set()
    for name in names:
        fields = assert_same_message(box.read(name), message)
        delivered_to.update(value for key, value in fields if key == b"delivered-to")
    assert delivered_to == {r.encode() for r in recipients}


def test_a_20_mib_message(postfix: Postfix, pipelining: bool, tag: str) -> None:
    to = f"inbox+{tag}@{DOMAIN}"
    message = raw_message(to, f"big {tag}", big_body(20 * 1024 * 1024))
    assert 20 * 1024 * 1024 < len(message) < MESSAGE_SIZE_LIMIT
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        assert smtp.sendmail(SENDER, [to], message) == {}
    [name] = box.wait_new(before, 1, delivered_to=to)
    assert_same_message(box.read(name), message)


def test_send_many_one_result_per_message(postfix: Postfix, pipelining: bool, tag: str) -> None:
    to = [f"inbox+{tag}-{n}@{DOMAIN}" for n in range(4)]
    unknown = f"nobody-{tag}@{DOMAIN}"
    raw = [raw_message(address, f"many {tag} {n}") for n, address in enumerate(to)]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, to[3], f"many {tag} message"
    msg["Message-ID"] = f"<many-{tag}@example.org>"
    msg.set_content(".leading dot\nend\n")
    items: list[EmailMessage | tuple[str, list[str], bytes]] = [
        (SENDER, [to[0]], raw[0]),
        (SENDER, [unknown], raw[1]),  # every recipient refused: that item's exception
        (SENDER, [to[1], unknown], raw[1]),  # one refused: the refused dict
        (SENDER, [to[2]], raw[2]),
        msg,
    ]
    box = inbox(postfix)
    before = box.names()
    with connect(postfix, pipelining) as smtp:
        results = smtp.send_many(items)
    assert len(results) == len(items)
    assert results[0] == {}
    assert isinstance(results[1], smtpclient.SMTPRecipientsRefused)
    assert list(results[1].recipients) == [unknown]
    assert isinstance(results[2], dict)
    assert list(results[2]) == [unknown]
    assert results[2][unknown][0] == 550
    assert results[3:] == [{}, {}]
    sent = {
        to[0]: raw[0],
        to[1]: raw[1],
        to[2]: raw[2],
        to[3]: msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")),
    }
    for address, message in sent.items():
        [name] = box.wait_new(before, 1, delivered_to=address)
        assert_same_message(box.read(name), message)

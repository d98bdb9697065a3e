"""Hypothesis strategies for mail: addresses and messages that are valid, international included.

For test authors who want their mail code exercised with more than ``alice@example.com``::

    import smtplib
    from hypothesis import HealthCheck, given, settings
    from smtpfake.strategies import email_messages

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(msg=email_messages())
    def test_any_message_is_delivered(smtp_server, msg):
        smtp_server.reset()                # one server for the test, clean for each example
        with smtplib.SMTP(*smtp_server.address) as client:
            client.send_message(msg)
        smtp_server.assert_sent(1)

Every value drawn is valid by the standards a mail client must meet:

* ``addresses()`` gives ``local@domain`` strings: a dot-atom local part of at most 64 octets
  (RFC 5321) built from RFC 5322 ``atext``, plus, with ``international=True``, non-ASCII letters
  (RFC 6531 SMTPUTF8) and internationalised domain labels that survive IDNA encoding.
* ``email_messages()`` gives ``email.message.EmailMessage`` objects (``email.policy.default``)
  with From/To/Cc, Subject, Date, Message-ID and a text body whose lines may start with ``.``
  (dot-stuffing) or ``From``. The Subject and body may be non-ASCII in every message.
  ``international=True`` (the default) gives messages that need SMTPUTF8: the sender's address
  is non-ASCII, other addresses and display names may be. ``international=False`` gives
  messages any server takes: ASCII addresses and display names, non-ASCII text only in the
  Subject (RFC 2047) and body (MIME). Non-ASCII display names stay out of those because the
  email package of the Pythons we support can fold a long encoded address header wrongly
  (a recipient lost behind an encoded comma, spaces moved: CPython gh-144156).
  ``html=True`` adds an HTML alternative with links, ``max_attachments=`` attachments: whole
  messages as applications send them, to check with ``CapturedMessage.html``, ``.links`` and
  ``.attachments``.
* ``attachments()``, ``filenames()`` and ``urls()`` are the parts those messages are made of.

The module needs hypothesis, which ``smtpfake`` itself does not: import it only from tests.
"""

from __future__ import annotations

import html
import string
import unicodedata
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from hypothesis import strategies as st

from ._mail import Attachment

__all__ = [
    "addresses",
    "attachments",
    "display_names",
    "domains",
    "email_messages",
    "filenames",
    "header_texts",
    "local_parts",
    "urls",
]

# RFC 5322 atext: what a dot-atom may contain besides the dots between atoms.
_ASCII_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"

# Lowercase letters whose IDNA2003 (stdlib codec) and IDNA2008 treatment agree: no case
# mapping, no sharp s or final sigma, no right-to-left scripts (those carry Bidi rules).
_IDN_LETTERS = (
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"  # Latin-1
    "āăąćčďđēęěğīıłńňőœřśşšťūůűźżž"  # Latin Extended-A
    "αβγδεζηθικλμνξοπρστυφχψω"  # Greek (no final sigma)
    "абвгдежзийклмнопрстуфхцчшщъыьэюя"  # Cyrillic
    "あいうえおかきくけこさしすせそなにぬねのまみむめも"  # Hiragana
    "日本語中文漢字電子郵件信箱東京北京"  # CJK ideographs
)


def _nfc(text: str) -> bool:
    return unicodedata.normalize("NFC", text) == text


def _non_ascii_letters() -> st.SearchStrategy[str]:
    return st.characters(min_codepoint=0xA0, max_codepoint=0xFFFF, categories=("Lu", "Ll", "Lo"))


def local_parts(*, international: bool = True) -> st.SearchStrategy[str]:
    """Dot-atom local parts (``first.last+tag``) of at most 64 UTF-8 octets.

    With ``international=True`` atoms may hold non-ASCII letters (NFC-normalised, as RFC 6532
    asks), which only an SMTPUTF8 server accepts.
    """
    alphabet: st.SearchStrategy[str] = st.sampled_from(_ASCII_ATEXT)
    if international:
        alphabet = st.one_of(alphabet, _non_ascii_letters())
    atom = st.text(alphabet, min_size=1, max_size=12)
    return (
        st.lists(atom, min_size=1, max_size=4)
        .map(".".join)
        .filter(lambda local: len(local.encode()) <= 64 and _nfc(local))
    )


def _ascii_labels() -> st.SearchStrategy[str]:
    # Letters and digits at both ends, hyphens allowed inside.
    return st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)


def _idn_labels() -> st.SearchStrategy[str]:
    def survives_idna(label: str) -> bool:
        try:
            a_label = label.encode("idna")
        except UnicodeError:
            return False
        return len(a_label) <= 63 and a_label.decode("idna") == label

    return st.text(st.sampled_from(_IDN_LETTERS), min_size=1, max_size=10).filter(survives_idna)


def domains(*, international: bool = True) -> st.SearchStrategy[str]:
    """Host names of one to three labels under an alphabetic top-level domain.

    Labels are letters, digits and inner hyphens (RFC 1035 / 5321); with ``international=True``
    some are U-labels (``bücher``, ``пример``) that encode to valid IDNA A-labels.
    """
    label = _ascii_labels()
    if international:
        label = st.one_of(label, _idn_labels())
    tld = st.text(st.sampled_from(string.ascii_lowercase), min_size=2, max_size=6)
    return st.builds(
        lambda labels, top: ".".join([*labels, top]),
        st.lists(label, min_size=1, max_size=3),
        tld,
    )


def addresses(*, international: bool = True) -> st.SearchStrategy[str]:
    """Addresses (``addr-spec``: ``local@domain``) valid for the SMTP envelope and headers.

    ``international=False`` keeps them ASCII, deliverable by any server; ``True`` (the default)
    also draws non-ASCII local parts and domains, which need SMTPUTF8 end to end.
    """
    return st.builds(
        lambda local, domain: f"{local}@{domain}",
        local_parts(international=international),
        domains(international=international),
    ).filter(lambda address: len(address.encode()) <= 254)


def _words(alphabet: st.SearchStrategy[str], max_words: int) -> st.SearchStrategy[str]:
    word = st.text(alphabet, min_size=1, max_size=12)
    return st.lists(word, min_size=1, max_size=max_words).map(" ".join).filter(_nfc)


def display_names(*, international: bool = True) -> st.SearchStrategy[str]:
    """Display names (``Zoë O'Brien``): words of letters, digits and ``.-'``.

    ``international=True`` (the default) draws non-ASCII letters too.
    """
    alphabet: st.SearchStrategy[str] = st.sampled_from(string.ascii_letters + string.digits + ".-'")
    if international:
        alphabet = st.one_of(alphabet, _non_ascii_letters())
    return _words(alphabet, max_words=4)


def header_texts(*, max_words: int = 8) -> st.SearchStrategy[str]:
    """Unstructured header values (a Subject): printable words, non-ASCII and emoji included;
    with more than about six words a value is often longer than a line, so it is folded.

    ``=`` and ``?`` are left out so that no word looks like an RFC 2047 encoded word, which a
    reader would decode into something else.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, not {max_words}")
    printable = "".join(c for c in string.printable.strip() if c not in "=?")
    alphabet = st.one_of(
        st.sampled_from(printable),
        _non_ascii_letters(),
        st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),  # emoticons
    )
    return _words(alphabet, max_words=max_words)


def _body_lines() -> st.SearchStrategy[str]:
    alphabet = st.one_of(st.sampled_from(string.printable.strip() + " "), _non_ascii_letters())
    plain = st.text(alphabet, max_size=60).map(str.rstrip)
    tricky = st.sampled_from([".", "..", ".hidden", "From the start", ""])
    return st.one_of(plain, tricky).filter(_nfc)


def _mailboxes(international: bool) -> st.SearchStrategy[Address]:
    # Address(addr_spec=...) refuses a non-ASCII local part as a defect; the parts do not.
    def mailbox(name: str | None, local: str, domain: str) -> Address:
        return Address(display_name=name or "", username=local, domain=domain)

    return st.builds(
        mailbox,
        st.none() | display_names(international=international),
        local_parts(international=international),
        domains(international=international),
    )


_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)

_ATTACHMENT_TYPES = (
    "application/pdf", "application/octet-stream", "application/zip", "image/png", "text/csv",
    "text/calendar",
)


def filenames(*, international: bool = True) -> st.SearchStrategy[str]:
    """Attachment file names (``Rechnung März.pdf``): words of letters, digits, ``-_`` and
    spaces, then an extension. ``international=True`` draws non-ASCII letters, which travel
    RFC 2231-encoded in the Content-Disposition parameter."""
    alphabet: st.SearchStrategy[str] = st.sampled_from(string.ascii_letters + string.digits + "-_")
    if international:
        alphabet = st.one_of(alphabet, _non_ascii_letters())
    extension = st.text(st.sampled_from(string.ascii_lowercase), min_size=2, max_size=4)
    return st.builds(lambda stem, ext: f"{stem}.{ext}", _words(alphabet, max_words=3), extension)


def attachments(*, international: bool = True) -> st.SearchStrategy[Attachment]:
    """Attachments as ``smtpfake.Attachment`` (file name, content type, bytes): the bytes are
    anything, up to 2 KiB (they travel base64-encoded, so they arrive exactly), the types a
    few common ones (text types included: base64 keeps their line ends too)."""
    return st.builds(
        Attachment,
        filenames(international=international),
        st.sampled_from(_ATTACHMENT_TYPES),
        st.binary(max_size=2048),
    )


def urls() -> st.SearchStrategy[str]:
    """``https://`` URLs on an ASCII host with a path and sometimes a query (a reset link)."""
    # A segment ends with a letter or digit: a URL ending in "." or "-" in running text is
    # ambiguous with the sentence around it.
    segment = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?", fullmatch=True)
    query = st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=1, max_size=16)
    return st.builds(
        lambda host, path, q: f"https://{host}/{'/'.join(path)}" + (f"?token={q}" if q else ""),
        domains(international=False),
        st.lists(segment, min_size=1, max_size=3),
        st.none() | query,
    )


def _html(lines: list[str], links: list[str]) -> str:
    paragraphs = [f"<p>{html.escape(line)}</p>" for line in lines]
    paragraphs += [f'<p><a href="{html.escape(url)}">link {i}</a></p>'
                   for i, url in enumerate(links, 1)]
    return "<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>\n"


@st.composite
def _messages(
    draw: st.DrawFn, international: bool, max_recipients: int, html: bool, max_attachments: int
) -> EmailMessage:
    mailbox = _mailboxes(international)
    msg = EmailMessage()
    if international:  # the message needs SMTPUTF8 whatever the recipients are
        msg["From"] = draw(mailbox.filter(lambda box: not box.addr_spec.isascii()))
    else:
        msg["From"] = draw(mailbox)
    msg["To"] = draw(st.lists(mailbox, min_size=1, max_size=max_recipients))
    cc = draw(st.lists(mailbox, max_size=max(0, max_recipients - 1)))
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = draw(header_texts(max_words=16))
    seconds = draw(st.integers(min_value=0, max_value=40 * 365 * 86400))
    msg["Date"] = format_datetime(_EPOCH + timedelta(seconds=seconds))
    token = draw(
        st.text(st.sampled_from(string.ascii_lowercase + string.digits), min_size=8, max_size=24)
    )
    msg["Message-ID"] = f"<{token}@smtpfake.test>"
    lines = draw(st.lists(_body_lines(), min_size=1, max_size=12))
    links = draw(st.lists(urls(), max_size=3)) if html else []
    msg.set_content("\n".join([*lines, *links]) + "\n")
    if html:
        msg.add_alternative(_html(lines, links), subtype="html")
    # Non-ASCII file names travel RFC 2231-encoded, which needs nothing of the server.
    for attachment in draw(st.lists(attachments(), max_size=max_attachments)):
        maintype, subtype = attachment.content_type.split("/")
        msg.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                           filename=attachment.filename)
    return msg


def email_messages(
    *,
    international: bool = True,
    max_recipients: int = 3,
    html: bool = False,
    max_attachments: int = 0,
) -> st.SearchStrategy[EmailMessage]:
    """Complete messages ready for ``smtplib.SMTP.send_message``.

    From, To (1 to ``max_recipients``), sometimes Cc, a Subject of up to 16 words (often long
    enough to be folded), Date, Message-ID, and a text body. With ``international=True`` the
    message needs SMTPUTF8 (its sender is non-ASCII); with ``False`` only the Subject, body and
    attachment names may be non-ASCII (see the module docstring).

    ``html=True`` adds an HTML alternative (``multipart/alternative``) with the same lines and
    up to three links (``urls()``), which the text body lists too. ``max_attachments`` adds up
    to that many ``attachments()`` (``multipart/mixed``).
    """
    if max_recipients < 1:
        raise ValueError(f"max_recipients must be at least 1, not {max_recipients}")
    if max_attachments < 0:
        raise ValueError(f"max_attachments must be 0 or more, not {max_attachments}")
    return _messages(international, max_recipients, html, max_attachments)

"""The public surface: smtplib's names, signatures and exception tree; sorted __all__."""

from __future__ import annotations

import inspect
import pickle
import smtplib

import pytest

import smtpclient

SMTPLIB_NAMES = [
    *smtplib.__all__,
    "LMTP",
    "SMTP_PORT",
    "SMTP_SSL_PORT",
    "LMTP_PORT",
    "CRLF",
    "bCRLF",
]
OURS = ["Reply", "ReplyParser", "SMTPReplyError", "default_context", "protocol", "xoauth2"]


def isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then the rest (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_smtplib_names_plus_ours_sorted() -> None:
    assert smtpclient.__all__ == sorted(smtpclient.__all__, key=isort_style)
    assert set(smtpclient.__all__) == set(SMTPLIB_NAMES) | set(OURS)


PROTOCOL = [
    "CLOSE", "MAX_LINE", "MAX_REPLY_LINES", "MAX_REPLY_SIZE", "NO_HOOKS", "PIPELINE_WINDOW",
    "READ", "AuthObject", "Chunk", "Close", "Command", "Debug", "Event", "Flow", "Hooks", "Item",
    "Read", "ReadUpTo", "Reply", "ReplyParser", "Result", "Send", "Session", "StartTLS", "auth",
    "authobject", "data", "ehlo", "ehlo_or_helo_if_needed", "expn", "greeting", "helo", "login",
    "mail", "quit", "rcpt", "rset", "send_many", "send_message", "sendmail", "simple", "starttls",
    "verify",
]  # fmt: skip


def test_the_public_core_is_pinned() -> None:
    # smtpclient.protocol is the stable face of the core: a third driver imports only this.
    assert smtpclient.protocol.__all__ == PROTOCOL
    assert all(hasattr(smtpclient.protocol, name) for name in PROTOCOL)
    assert smtpclient.protocol.Reply is smtpclient.Reply


@pytest.mark.parametrize("name", ["SMTP_PORT", "SMTP_SSL_PORT", "LMTP_PORT", "CRLF", "bCRLF"])
def test_constants(name: str) -> None:
    assert getattr(smtpclient, name) == getattr(smtplib, name)


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name in ("__init__", "__enter__", "__exit__", "_get_socket")
    }


@pytest.mark.parametrize("name", ["SMTP", "SMTP_SSL", "LMTP"])
def test_methods_and_signatures_match_smtplib(name: str) -> None:
    theirs = public_methods(getattr(smtplib, name))
    ours = public_methods(getattr(smtpclient, name))
    assert set(theirs) <= set(ours)
    for method, signature in theirs.items():
        assert [(p.name, p.kind, p.default) for p in ours[method].parameters.values()] == [
            (p.name, p.kind, p.default) for p in signature.parameters.values()
        ], method


@pytest.mark.parametrize("name", ["quoteaddr", "quotedata"])
def test_function_signatures(name: str) -> None:
    assert list(inspect.signature(getattr(smtpclient, name)).parameters) == list(
        inspect.signature(getattr(smtplib, name)).parameters
    )


def test_class_attributes() -> None:
    for attr in ("debuglevel", "sock", "file", "helo_resp", "ehlo_msg", "ehlo_resp", "does_esmtp"):
        assert getattr(smtpclient.SMTP, attr) == getattr(smtplib.SMTP, attr)
    assert smtpclient.LMTP.ehlo_msg == "lhlo"
    assert smtpclient.SMTP_SSL.default_port == 465


EXCEPTIONS = [
    name
    for name in smtplib.__all__
    if name.startswith("SMTP") and name.endswith(("Error", "Exception", "Refused", "Disconnected"))
]

EXAMPLES: dict[str, tuple[object, ...]] = {
    "SMTPException": ("boom",),
    "SMTPNotSupportedError": ("no",),
    "SMTPServerDisconnected": ("gone",),
    "SMTPResponseException": (421, b"4.3.2 bye"),
    "SMTPSenderRefused": (550, b"5.1.8 bad sender", "a@x"),
    "SMTPRecipientsRefused": ({"b@x": (550, b"5.1.1 no")},),
    "SMTPDataError": (554, b"5.6.0 no"),
    "SMTPConnectError": (554, b"go away"),
    "SMTPHeloError": (501, b"bad helo"),
    "SMTPAuthenticationError": (535, b"5.7.8 bad credentials"),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_exceptions_subclass_smtplib_and_pickle(name: str) -> None:
    ours = getattr(smtpclient, name)
    assert issubclass(ours, getattr(smtplib, name))
    assert issubclass(ours, smtpclient.SMTPException)
    error = ours(*EXAMPLES[name])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ours
    assert copy.args == error.args
    for attr in ("smtp_code", "smtp_error", "sender", "recipients", "enhanced_status"):
        assert getattr(copy, attr, None) == getattr(error, attr, None)


def test_every_smtplib_exception_is_covered() -> None:
    assert sorted(EXAMPLES) == sorted(EXCEPTIONS)
    for name in EXCEPTIONS:
        assert getattr(smtpclient, name) is not getattr(smtplib, name)


def test_reply_error_pickles() -> None:
    error = smtpclient.SMTPReplyError(500, "Line too long.")
    assert pickle.loads(pickle.dumps(error)).args == (500, "Line too long.")


def test_no_smtplib_functions_or_classes_are_reused() -> None:
    for name in smtpclient.__all__:
        obj = getattr(smtpclient, name)
        if callable(obj):
            assert obj.__module__.startswith("smtpclient"), name

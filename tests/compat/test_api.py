"""The public surface: names, constants, signatures, exceptions, quoteaddr/quotedata, pickling."""

from __future__ import annotations

import inspect
import pickle
import smtplib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ._harness import candidate

smtpclient = candidate()

EXCEPTIONS = [
    name
    for name in smtplib.__all__
    if isinstance(getattr(smtplib, name), type) and issubclass(getattr(smtplib, name), Exception)
]
CLASSES = ["SMTP", "SMTP_SSL", "LMTP"]


def test_every_smtplib_name_is_exported() -> None:
    assert set(smtplib.__all__) <= set(smtpclient.__all__)
    for name in smtpclient.__all__:
        assert hasattr(smtpclient, name), name


@pytest.mark.parametrize("name", ["SMTP_PORT", "SMTP_SSL_PORT", "LMTP_PORT", "CRLF", "bCRLF"])
def test_constants(name: str) -> None:
    assert getattr(smtpclient, name) == getattr(smtplib, name)


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_exceptions_are_catchable_as_smtplib_ones(name: str) -> None:
    assert issubclass(getattr(smtpclient, name), getattr(smtplib, name))


def public_members(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize("cls", CLASSES)
def test_classes_have_every_public_member(cls: str) -> None:
    missing = public_members(getattr(smtplib, cls)) - public_members(getattr(smtpclient, cls))
    assert missing == set()


def signature_of(obj: Any) -> list[tuple[str, Any, str]]:
    params = inspect.signature(obj).parameters.values()
    return [(p.name, p.kind, repr(p.default)) for p in params]


METHODS = sorted(
    (cls, name)
    for cls in CLASSES
    for name in public_members(getattr(smtplib, cls)) | {"__init__", "__enter__", "__exit__"}
    if callable(getattr(getattr(smtplib, cls), name))
)


@pytest.mark.parametrize(("cls", "name"), METHODS)
def test_method_signatures_match(cls: str, name: str) -> None:
    theirs = getattr(getattr(smtplib, cls), name)
    ours = getattr(getattr(smtpclient, cls), name, None)
    assert ours is not None, f"{cls}.{name} is missing"
    assert signature_of(ours) == signature_of(theirs)


@pytest.mark.parametrize("name", ["quoteaddr", "quotedata"])
def test_function_signatures_match(name: str) -> None:
    assert signature_of(getattr(smtpclient, name)) == signature_of(getattr(smtplib, name))


@pytest.mark.parametrize("cls", CLASSES)
def test_class_attributes(cls: str) -> None:
    for attr in ("debuglevel", "sock", "helo_resp", "ehlo_msg", "ehlo_resp", "does_esmtp"):
        assert getattr(getattr(smtpclient, cls), attr) == getattr(getattr(smtplib, cls), attr)
    assert getattr(smtpclient, cls).default_port == getattr(smtplib, cls).default_port


ADDRESSES = [
    "user@example.org",
    "<user@example.org>",
    "Full Name <user@example.org>",
    '"Quoted, Name" <user@example.org>',
    "user@example.org (comment)",
    "",
    "<>",
    "  <spaced@example.org>  ",
    "not an address",
    "@",
    "a@b@c",
    "<unterminated@example.org",
    "j\u00f6rg@exampl\u00e9.org",
    "one@example.org, two@example.org",
    "<@route,@relay:user@example.org>",
    "user@[127.0.0.1]",
    '"local part"@example.org',
]


DATA = [
    "plain",
    ".leading dot",
    "a\n.b\r.c\r\n.d",
    "\r\r\n\n",
    "..\n...\n",
    "",
    "no dot. in the middle\n.",
    "trailing CR\r",
]


QUOTING_TABLE = [("quoteaddr", text) for text in ADDRESSES] + [("quotedata", text) for text in DATA]


@pytest.mark.parametrize(("helper", "text"), QUOTING_TABLE)
def test_quoting_table(helper: str, text: str) -> None:
    """quoteaddr on addresses and quotedata on message data give what smtplib's give."""
    assert getattr(smtpclient, helper)(text) == getattr(smtplib, helper)(text)


@given(st.text(alphabet=st.sampled_from('ab.<>@ "(),:;\r\n\u00e9'), max_size=40))
def test_quoting_matches_on_generated_input(text: str) -> None:
    assert smtpclient.quoteaddr(text) == smtplib.quoteaddr(text)
    assert smtpclient.quotedata(text) == smtplib.quotedata(text)


EXCEPTION_SAMPLES: list[tuple[str, tuple[Any, ...]]] = [
    ("SMTPException", ("generic",)),
    ("SMTPNotSupportedError", ("no SMTPUTF8",)),
    ("SMTPServerDisconnected", ("Connection unexpectedly closed",)),
    ("SMTPResponseException", (451, b"4.3.0 try later")),
    ("SMTPSenderRefused", (553, b"5.1.8 bad sender", "a@example.org")),
    ("SMTPRecipientsRefused", ({"b@example.org": (550, b"5.1.1 unknown")},)),
    ("SMTPDataError", (554, b"5.6.0 rejected")),
    ("SMTPConnectError", (554, b"no service")),
    ("SMTPHeloError", (501, b"bad name")),
    ("SMTPAuthenticationError", (535, b"5.7.8 bad credentials")),
]


def observable(exc: BaseException) -> dict[str, Any]:
    names = ("args", "smtp_code", "smtp_error", "sender", "recipients")
    return {n: getattr(exc, n) for n in names if hasattr(exc, n)} | {"str": str(exc)}


@pytest.mark.parametrize(("name", "args"), EXCEPTION_SAMPLES)
def test_exceptions_pickle_like_smtplib(
    client_mod: ModuleType, name: str, args: tuple[Any, ...]
) -> None:
    exc = getattr(client_mod, name)(*args)
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert observable(copy) == observable(exc) == observable(getattr(smtplib, name)(*args))


def test_smtp_ssl_instance_attributes_follow_this_python() -> None:
    """``keyfile``/``certfile`` exist on SMTP_SSL objects up to 3.11 and are gone from 3.12."""
    theirs, ours = smtplib.SMTP_SSL(), smtpclient.SMTP_SSL()
    for name in ("keyfile", "certfile", "context"):
        assert hasattr(ours, name) == hasattr(theirs, name), name

"""The harness itself: each kind of difference from smtplib makes ``compare`` fail.

The candidate here is a mutant of smtplib (one behaviour changed), so these tests show the
comparisons in the rest of the suite can fail.
"""

from __future__ import annotations

import smtplib
import sys
import types
from typing import Any

import pytest

from ._harness import Conversation, compare


class _Uppercase(smtplib.SMTP):
    def noop(self) -> tuple[int, bytes]:
        return self.docmd("NOOP")


class _WrongValue(smtplib.SMTP):
    def noop(self) -> tuple[int, bytes]:
        code, msg = super().noop()
        return code, msg + b"!"


class _WrongError(smtplib.SMTP):
    def noop(self) -> tuple[int, bytes]:
        super().noop()
        raise smtplib.SMTPException("mutant")


class _ForgetsFeatures(smtplib.SMTP):
    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        reply = super().ehlo(name)
        self.esmtp_features = {}
        return reply


class _ChattyDebug(smtplib.SMTP):
    def noop(self) -> tuple[int, bytes]:
        self._print_debug("extra line")  # type: ignore[attr-defined]
        return super().noop()


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_Uppercase, "bytes sent to the peer differ"),
        (_WrongValue, "return values differ"),
        (_WrongError, "exceptions differ"),
        (_ForgetsFeatures, "client attributes differ"),
        (_ChattyDebug, "debug output differs"),
    ],
)
def test_compare_catches_each_kind_of_difference(
    make_peer: Any, monkeypatch: pytest.MonkeyPatch, cls: type, message: str
) -> None:
    mutant = types.ModuleType("compat_mutant")
    mutant.SMTP = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "compat_mutant", mutant)
    monkeypatch.setenv("COMPAT_CANDIDATE", "compat_mutant")

    def conv(c: Conversation) -> Any:
        s = c.smtp(connect=False)
        s.set_debuglevel(1)
        s.connect(c.host, c.port)
        s.ehlo()
        return s.noop()

    with pytest.raises(AssertionError, match=message):
        compare(make_peer(), conv, debug=True)


def test_compare_passes_for_smtplib_against_itself(
    make_peer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPAT_CANDIDATE", "smtplib")

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        s.ehlo()
        return s.noop(), s.quit()

    out = compare(make_peer(), conv, debug=True)
    assert out.value == ((250, b"2.0.0 ok"), (221, b"2.0.0 bye"))

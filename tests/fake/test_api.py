"""The public surface: the names re-exported from smtpfake are pinned."""

from __future__ import annotations

import smtpfake


def test_all_is_pinned_and_sorted() -> None:
    assert smtpfake.__all__ == [
        "Attachment",
        "CapturedMessage",
        "CertificateAuthority",
        "FakeLMTPServer",
        "FakeSMTPServer",
        "Headers",
        "Outbox",
        "Phase",
        "Rule",
        "RuleBuilder",
        "ServerError",
        "Session",
        "TranscriptLine",
    ]
    for name in smtpfake.__all__:
        assert getattr(smtpfake, name).__module__.startswith("smtpfake.")


def test_phases_are_the_documented_ones() -> None:
    assert [p.value for p in smtpfake.Phase] == [
        "CONNECT", "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT",
        "END_OF_DATA", "RSET", "NOOP", "VRFY", "EXPN", "HELP", "QUIT",
    ]
    assert smtpfake.Phase("RCPT") == "RCPT"


def test_importing_smtpfake_starts_nothing() -> None:
    import threading

    assert not [t for t in threading.enumerate() if t.name == "smtpfake-loop"]

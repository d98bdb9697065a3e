"""The outbox as a collection: clear() keeps the rules, len() and count() count messages."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake import FakeSMTPServer


def _send(server: FakeSMTPServer, *subjects: str) -> None:
    with smtplib.SMTP(*server.address) as client:
        for subject in subjects:
            client.sendmail("app@example.com", ["ann@example.org"],
                            f"Subject: {subject}\r\n\r\nbody\r\n")


def test_clear_forgets_messages_and_keeps_rules_and_sessions(server: FakeSMTPServer) -> None:
    rule = server.refuse_recipient("bob@example.org")
    _send(server, "one")
    server.outbox.clear()
    assert len(server.outbox) == 0
    assert server.rules == [rule]
    assert len(server.sessions) == 1
    with smtplib.SMTP(*server.address) as client:
        refused = client.sendmail("app@example.com", ["ann@example.org", "bob@example.org"],
                                  b"Subject: two\r\n\r\nbody\r\n")
    assert list(refused) == ["bob@example.org"]  # the rule still fires
    assert [m.subject for m in server.outbox] == ["two"]


def test_count_without_arguments_is_the_number_of_messages(server: FakeSMTPServer) -> None:
    assert server.outbox.count() == 0
    _send(server, "a", "b", "a")
    assert server.outbox.count() == len(server.outbox) == 3
    assert server.outbox.count(subject="a") == 2


def test_count_of_a_message_is_still_sequence_count(server: FakeSMTPServer) -> None:
    _send(server, "a")
    message = server.outbox.last
    assert server.outbox.count(message) == 1
    assert server.outbox.count("not a message") == 0
    with pytest.raises(TypeError, match="a message or criteria, not both"):
        server.outbox.count(message, subject="a")

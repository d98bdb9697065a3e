"""The CLI's Maildir and mbox stores, on real files (the command itself: test_cli.py)."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from smtpfake._stores import MaildirStore, MboxStore, envelope_headers


def test_control_characters_in_an_envelope_address_cannot_add_a_header() -> None:
    # The server accepts these in MAIL FROM and RCPT TO; a header must not end inside one.
    assert envelope_headers("a\rb@example.com", ["c\r\nBcc: x@example.com", "d\x00@e.com"],
                            b"\r\n") == (
        b"Return-Path: <a\\x0db@example.com>\r\n"
        b"X-Original-To: c\\x0d\\x0aBcc: x@example.com\r\n"
        b"X-Original-To: d\\x00@e.com\r\n"
    )


def test_utf8_addresses_are_written_as_utf8() -> None:
    assert envelope_headers("", ["jörg@例え.jp"], b"\n") == (
        b"Return-Path: <>\nX-Original-To: j\xc3\xb6rg@\xe4\xbe\x8b\xe3\x81\x88.jp\n")


def test_the_envelope_follows_the_messages_own_line_ends(tmp_path: Path) -> None:
    store = MaildirStore(str(tmp_path / "Maildir"))
    raw = b"Subject: bare LF\n\nbody\n"
    path = store.keep(raw, "a@example.com", ["b@example.com"], 0.0)
    assert Path(path).read_bytes() == (
        b"Return-Path: <a@example.com>\nX-Original-To: b@example.com\n" + raw)


def test_a_failed_maildir_delivery_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    store = MaildirStore(str(tmp_path / "Maildir"))
    (tmp_path / "Maildir" / "new").rmdir()
    (tmp_path / "Maildir" / "new").write_bytes(b"")  # the rename into new/ fails
    with pytest.raises(NotADirectoryError):
        store.keep(b"Subject: x\r\n\r\n", "a@example.com", ["b@example.com"], 0.0)
    assert list((tmp_path / "Maildir" / "tmp").iterdir()) == []


def test_maildir_file_names_are_unique(tmp_path: Path) -> None:
    store = MaildirStore(str(tmp_path / "Maildir"))
    paths = {store.keep(b"x\r\n", "a@example.com", ["b@example.com"], 1.5) for _ in range(3)}
    assert len(paths) == 3


def test_an_mbox_someone_else_left_without_a_blank_line_still_separates(tmp_path: Path) -> None:
    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes(b"From x@example.com Thu Jan  1 00:00:00 1970\nSubject: old\n\nno end")
    MboxStore(str(mbox)).keep(b"Subject: new\r\n\r\nhi\r\n", "a@example.com", ["b@ex.com"], 0.0)
    box = mailbox.mbox(str(mbox), create=False)
    try:
        assert [m["Subject"] for m in box] == ["old", "new"]
        assert box[0].get_payload() == "no end\n"
    finally:
        box.close()
    assert b"no end\n\nFrom a@example.com Thu Jan  1 00:00:00 1970\n" in mbox.read_bytes()


def test_an_address_with_spaces_keeps_the_from_line_parseable(tmp_path: Path) -> None:
    mbox = tmp_path / "mail.mbox"
    MboxStore(str(mbox)).keep(b"Subject: q\r\n\r\n", '"a b"@example.com', ["c@ex.com"], 0.0)
    first, second = mbox.read_bytes().split(b"\n")[:2]
    assert first == b'From "a_b"@example.com Thu Jan  1 00:00:00 1970'
    assert second == b'Return-Path: <"a b"@example.com>'

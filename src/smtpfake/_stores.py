"""Where the ``smtpfake`` command keeps mail: a Maildir or an mbox, on disk before the 250.

A catcher must never acknowledge mail it has not kept, so each store writes the whole message
and ``fsync``s it (and, for a Maildir, the directory entry) before it returns; the server
answers 250 only after that, 451 if it raised. Both prepend the envelope the way a delivering
MTA does (Postfix's local delivery): ``Return-Path: <sender>``, then one ``X-Original-To:`` per
recipient the message was accepted for, so a Bcc recipient is not lost. Standard library only:
``smtpfake --help`` must work without the ``fake`` extra.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import socket
import time
from collections.abc import Sequence
from typing import Protocol

__all__ = ["MaildirStore", "MboxStore", "Store", "envelope_headers"]


class Store(Protocol):
    """Somewhere a message is kept; ``keep`` returns only once it is on disk."""

    kind: str
    path: str

    def keep(self, raw: bytes, sender: str, recipients: Sequence[str], received_at: float) -> str:
        """Store one message (OSError if it could not be); where it went."""


def envelope_headers(sender: str, recipients: Sequence[str], newline: bytes) -> bytes:
    """``Return-Path`` and one ``X-Original-To`` per recipient, each ended by ``newline``.

    X-Original-To, not Delivered-To: it records the recipient exactly as the client gave it,
    and a message later re-sent through a real MTA is not refused as a mail loop (what
    Delivered-To is for). Addresses are written as UTF-8 (SMTPUTF8 allows them); a control
    character in one (the server accepts a CR or a NUL there) is written as ``\\xNN``, so it
    can neither end the header nor add one.
    """
    lines = [f"Return-Path: <{_escaped(sender)}>"]
    lines += [f"X-Original-To: {_escaped(rcpt)}" for rcpt in recipients]
    return b"".join(line.encode("utf-8", "surrogateescape") + newline for line in lines)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escaped(address: str) -> str:
    return _CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", address)


def _newline_of(raw: bytes) -> bytes:
    """The line end the message itself uses (CRLF from SMTP, unless the client sent bare LF)."""
    end = raw.find(b"\n")
    return b"\n" if end > 0 and raw[end - 1:end] != b"\r" else b"\r\n"


def _sync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class MaildirStore:
    """Each message a file in ``DIR/new``: written in ``DIR/tmp``, synced, then renamed.

    The message is kept byte for byte (CRLF line ends included) after the envelope headers.
    """

    kind = "Maildir"

    def __init__(self, path: str) -> None:
        """Create ``path`` (not its parents) and ``tmp``, ``new``, ``cur`` in it if needed;
        OSError if that fails or they cannot be written to."""
        self.path = os.path.abspath(path)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.path, 0o700)
        for sub in ("tmp", "new", "cur"):
            folder = os.path.join(self.path, sub)
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
            if not os.path.isdir(folder):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), folder)
            if not os.access(folder, os.W_OK | os.X_OK):  # EROFS is reported to root too
                raise PermissionError(errno.EACCES, "cannot write there", folder)
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        self._name_tail = f"P{os.getpid()}Q%d.{host}"
        self._count = itertools.count(1)

    def keep(self, raw: bytes, sender: str, recipients: Sequence[str], received_at: float) -> str:
        """Deliver one message; the path of its file in ``new``."""
        seconds, micro = divmod(int(received_at * 1_000_000), 1_000_000)
        name = f"{seconds}.M{micro}" + self._name_tail % next(self._count)
        tmp = os.path.join(self.path, "tmp", name)
        final = os.path.join(self.path, "new", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                _write_all(fd, envelope_headers(sender, recipients, _newline_of(raw)) + raw)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_directory(os.path.join(self.path, "new"))  # the rename itself survives a crash
        return final


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


class MboxStore:
    """Messages appended to one file in the mboxrd format, under an fcntl lock, then synced.

    mbox cannot keep a message byte for byte: line ends become LF, a line starting with
    ``From `` (after any number of ``>``) gets one more ``>`` (reversible, unlike mboxo), and
    the message is followed by an empty line. A Maildir keeps the bytes exactly.
    """

    kind = "mbox"

    def __init__(self, path: str) -> None:
        """Create the file if needed; OSError if it cannot be opened for appending."""
        self.path = os.path.abspath(path)
        os.close(self._open())

    def _open(self) -> int:
        # Opened for each message: a mail reader that rewrote or moved the file is followed.
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)

    def keep(self, raw: bytes, sender: str, recipients: Sequence[str], received_at: float) -> str:
        """Append one message; the mbox's path."""
        body = _FROM_LINE.sub(rb">\1", raw.replace(b"\r\n", b"\n"))
        if not body.endswith(b"\n"):
            body += b"\n"
        # A From_ line is split on spaces: an address with spaces (quoted) must not add fields.
        who = re.sub(r"[\s\x00-\x1f\x7f]", "_", sender) or "MAILER-DAEMON"
        when = time.asctime(time.gmtime(received_at))
        entry = (f"From {who} {when}\n".encode()
                 + envelope_headers(sender, recipients, b"\n") + body + b"\n")
        import fcntl  # (POSIX; imported here so that ``--help`` works everywhere)

        fd = self._open()
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and (gap := _missing_blank_line(fd, size)):
                entry = gap + entry
            try:
                _write_all(fd, entry)
                os.fsync(fd)
            except BaseException:
                with contextlib.suppress(OSError):  # no half message left for the next one
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)  # (releases the lock)
        return self.path


def _missing_blank_line(fd: int, size: int) -> bytes:
    """What the file lacks to end in an empty line, so the next ``From `` starts a message."""
    tail = os.pread(fd, 2, max(size - 2, 0))
    if tail.endswith(b"\n\n") or tail == b"\n":
        return b""
    return b"\n" if tail.endswith(b"\n") else b"\n\n"

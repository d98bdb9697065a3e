"""The ``smtpfake`` command: a fake SMTP/LMTP server in the foreground, printing what arrives."""

from __future__ import annotations

import argparse
import mailbox
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from ._capture import CapturedMessage
from ._errors import ServerError
from ._server import TLS_MODES, FakeLMTPServer, FakeSMTPServer

__all__ = ["main"]


_POLL = 0.25  # how soon a signal is noticed while idle


class _StopFlag:
    """Set by SIGTERM/SIGINT; the main loop finishes the message in hand, then stops."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True


def _user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {text!r}")
    return name, password


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (also used to document it)."""
    parser = argparse.ArgumentParser(
        prog="smtpfake",
        description="Run a fake SMTP (or LMTP) server in the foreground and print every "
        "message it receives. Ctrl-C or SIGTERM stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=1025,
                        help="port to listen on (1025; 0 picks a free one)")
    parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    parser.add_argument("--path", help="with --lmtp: listen on this unix socket instead")
    parser.add_argument("--tls", choices=TLS_MODES, default="none",
                        help="TLS mode; the CA certificate's path is printed at start")
    parser.add_argument("--tls-required", action="store_true",
                        help="with --tls starttls: refuse mail before STARTTLS")
    parser.add_argument("--user", action="append", type=_user, default=[],
                        metavar="NAME:PASSWORD", help="accept AUTH for this user (repeatable)")
    parser.add_argument("--auth-required", action="store_true",
                        help="refuse mail until the client authenticates")
    parser.add_argument("--size-limit", type=int, default=None, metavar="BYTES",
                        help="advertise SIZE and refuse bigger messages")
    parser.add_argument("--hostname", default="smtpfake.test",
                        help="host name in the greeting (smtpfake.test)")
    parser.add_argument("--maildir", metavar="DIR", help="also store each message in this Maildir")
    parser.add_argument("--mbox", metavar="FILE", help="also append each message to this mbox")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each whole message, not just a summary line")
    return parser


def summary_line(message: CapturedMessage) -> str:
    """One line per message: time, sender, recipients, subject, size."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message.received_at))
    recipients = ", ".join(message.accepted_for) or "-"
    try:
        subject = message.subject
    except Exception:  # a header the email package cannot parse must not stop the server
        subject = None
    return (f"{when} from=<{message.mail_from}> to={recipients} "
            f"subject={subject!r} size={len(message.raw)}")


class _Sink:
    """Where each message goes: the terminal, and a Maildir or mbox if asked."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.out = out
        self.verbose: bool = args.verbose
        self.maildir = mailbox.Maildir(args.maildir, create=True) if args.maildir else None
        self.mbox = mailbox.mbox(args.mbox, create=True) if args.mbox else None

    def deliver(self, message: CapturedMessage) -> None:
        print(summary_line(message), file=self.out)
        if self.verbose:
            print(message.raw.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n"),
                  file=self.out)
            print("-" * 72, file=self.out)
        self.out.flush()
        if self.maildir is not None:
            self.maildir.add(message.raw)
        if self.mbox is not None:
            entry = mailbox.mboxMessage(message.raw)
            entry.set_from(message.mail_from or "MAILER-DAEMON", time.gmtime(message.received_at))
            self.mbox.lock()
            try:
                self.mbox.add(entry)
                self.mbox.flush()
            finally:
                self.mbox.unlock()

    def close(self) -> None:
        if self.mbox is not None:
            self.mbox.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; 0 then, 1 if the server cannot start or failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.path and not args.lmtp:
        parser.error("--path needs --lmtp")
    cls = FakeLMTPServer if args.lmtp else FakeSMTPServer
    try:
        server = cls(
            args.host, args.port, path=args.path, tls=args.tls, tls_required=args.tls_required,
            users=dict(args.user) or None, auth_required=args.auth_required,
            auth_require_tls=False, size_limit=args.size_limit, hostname=args.hostname,
        )
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    sink = _Sink(args, sys.stdout)
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
    except OSError as error:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print(f"smtpfake: cannot listen on {args.path or f'{args.host}:{args.port}'}: {error}",
              file=sys.stderr)
        return 1
    status = 0
    try:
        where = server.path or f"{server.host}:{server.port}"
        proto = "LMTP" if args.lmtp else "SMTP"
        tls = "" if args.tls == "none" else f", TLS {args.tls}"
        print(f"smtpfake listening on {where} ({proto}{tls})", flush=True)
        if args.tls != "none":
            print(f"CA certificate: {server.ca.ca_pem_path}", flush=True)
        while not stop.set:
            for message in server.outbox._take(timeout=_POLL):
                sink.deliver(message)
    finally:
        try:
            server.stop()
        except ServerError as error:
            print(f"smtpfake: {error}", file=sys.stderr)
            status = 1
        for message in server.outbox._take(timeout=0):  # what arrived while stopping
            sink.deliver(message)
        sink.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("smtpfake stopped", flush=True)
    return status

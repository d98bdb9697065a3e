"""The ``smtpfake`` command: a mail catcher in the foreground, printing what arrives.

It keeps the catcher's promise: a message is in every configured store (synced to disk) before
the client gets its 250, and a client whose message could not be stored gets 451 4.3.0 while
the server keeps serving. Problems are one line on stderr, never a traceback: bad arguments exit
2, anything that stops it from starting (a store, the CA directory, the port, a missing
dependency) exits 1 before it listens.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import signal
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TextIO

from ._stores import MaildirStore, MboxStore, Store

if TYPE_CHECKING:
    from ._capture import CapturedMessage
    from ._server import _BaseServer
    from ._tls import CertificateAuthority

__all__ = ["build_parser", "main"]

TLS_MODES = ("none", "starttls", "implicit")  # the server's list (a test checks they agree)
_EXTRA = ("aiosmtpd", "trustme", "cryptography")  # what the ``fake`` extra installs
_POLL = 0.25  # how soon a signal is noticed while idle


class _StopFlag:
    """Set by SIGTERM/SIGINT; the main loop finishes the message in hand, then stops."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit 2 (argparse would print the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {text!r}")
    return name, password


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0-65535")
    return port


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (also used to document it)."""
    parser = _Parser(
        prog="smtpfake",
        description="Run a fake SMTP (or LMTP) server in the foreground as a mail catcher: it "
        "prints every message it receives and can keep them in a Maildir or an mbox (stored "
        "before the client gets its 250). Ctrl-C or SIGTERM stops it. Exit status: 0 when "
        "stopped, 1 if it could not start or a server error happened, 2 for bad arguments.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=_port, default=1025,
                        help="port to listen on (1025; 0 picks a free one)")
    parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    parser.add_argument("--path", help="with --lmtp: listen on this unix socket instead")
    parser.add_argument("--tls", choices=TLS_MODES, default="none",
                        help="TLS mode; the CA certificate's path is printed at start")
    parser.add_argument("--tls-required", action="store_true",
                        help="with --tls starttls: refuse mail before STARTTLS")
    parser.add_argument("--ca-dir", metavar="DIR",
                        help="with --tls: keep the CA in DIR (created on first run, reused "
                        "after), so its certificate stays the same across restarts")
    parser.add_argument("--user", action="append", type=_user, default=[],
                        metavar="NAME:PASSWORD", help="accept AUTH for this user (repeatable)")
    parser.add_argument("--auth-required", action="store_true",
                        help="refuse mail until the client authenticates")
    parser.add_argument("--auth-require-tls", action="store_true",
                        help="offer and accept AUTH only over TLS")
    parser.add_argument("--size-limit", type=_positive, default=None, metavar="BYTES",
                        help="advertise SIZE and refuse bigger messages")
    parser.add_argument("--hostname", default="smtpfake.test",
                        help="host name in the greeting (smtpfake.test)")
    parser.add_argument("--maildir", metavar="DIR",
                        help="also store each message in this Maildir (created if needed)")
    parser.add_argument("--mbox", metavar="FILE",
                        help="also append each message to this mbox (created if needed)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each whole message, not just a summary line")
    return parser


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    needs = [
        (args.path and not args.lmtp, "--path needs --lmtp"),
        (args.tls_required and args.tls != "starttls", "--tls-required needs --tls starttls"),
        (args.ca_dir and args.tls == "none", "--ca-dir needs --tls"),
        (args.auth_required and not args.user, "--auth-required needs --user"),
        (args.auth_require_tls and not args.user, "--auth-require-tls needs --user"),
        (args.auth_require_tls and args.tls == "none", "--auth-require-tls needs --tls"),
    ]
    for wrong, reason in needs:
        if wrong:
            parser.error(reason)


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


class _Catcher:
    """The stores (written on the server's thread, before the reply) and the terminal."""

    def __init__(self, stores: Sequence[Store], out: TextIO, err: TextIO, verbose: bool) -> None:
        self.stores = stores
        self.out = out
        self.err = err
        self.verbose = verbose

    def store(self, message: CapturedMessage) -> None:
        """Keep ``message`` in every store; re-raise a failure, so the client gets 451."""
        for store in self.stores:
            try:
                store.keep(message.raw, message.mail_from, message.accepted_for,
                           message.received_at)
            except Exception as error:
                print(f"smtpfake: answered 451, could not store the message from "
                      f"<{message.mail_from}> in the {store.kind} {store.path}: {error}",
                      file=self.err, flush=True)
                raise

    def show(self, message: CapturedMessage) -> None:
        print(summary_line(message), file=self.out)
        if self.verbose:
            print(message.raw.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n"),
                  file=self.out)
            print("-" * 72, file=self.out)
        self.out.flush()


class _CannotStart(Exception):
    """A reason not to start, printed as one line (exit status 1)."""


def _open_stores(args: argparse.Namespace) -> list[Store]:
    """Every store asked for, opened (created) now: a problem is reported before listening."""
    wanted: list[tuple[Callable[[str], Store], str, str | None]] = [
        (MaildirStore, "Maildir", args.maildir), (MboxStore, "mbox", args.mbox)]
    stores = []
    for open_store, kind, path in wanted:
        if path is None:
            continue
        try:
            stores.append(open_store(path))
        except OSError as error:
            where = f" ({error.filename})" if error.filename not in (None, path) else ""
            raise _CannotStart(f"cannot open the {kind} {path}: "
                               f"{error.strerror or error}{where}") from None
    return stores


def _certificate_authority(args: argparse.Namespace) -> CertificateAuthority:
    """The CA kept in ``--ca-dir``, or this run's own (its certificate removed at exit)."""
    from ._tls import CertificateAuthority

    try:
        if args.ca_dir is None:
            return CertificateAuthority.shared()
        return CertificateAuthority.kept_in(args.ca_dir)
    except (OSError, ValueError) as error:
        raise _CannotStart(f"cannot use the CA directory {args.ca_dir}: {error}") from None


def install_hint() -> str:
    """How to install the ``fake`` extra: from the checkout this project was installed from.

    The project is not on PyPI. pip records where a distribution came from (PEP 610's
    ``direct_url.json``): a local checkout is named by its path, with ``-e`` if it was
    installed editable.
    """
    for dist in importlib.metadata.distributions(name="smtpclient"):
        try:
            origin = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        url = urllib.parse.urlparse(str(origin.get("url", "")))
        if url.scheme == "file":
            editable = "-e " if origin.get("dir_info", {}).get("editable") else ""
            return f"pip install {editable}'{urllib.parse.unquote(url.path)}[fake]'"
    return "pip install '/path/to/smtpclient[fake]' (a checkout of smtpclient)"


def _needs_extra(error: ModuleNotFoundError) -> _CannotStart:
    """The reason to give when a module of the ``fake`` extra is missing; re-raise the rest."""
    if (error.name or "").partition(".")[0] not in _EXTRA:
        raise error
    return _CannotStart(f"needs {error.name!r}, which is not installed; install the 'fake' "
                        f"extra (smtpclient is not on PyPI): {install_hint()}")


def _where(server: _BaseServer) -> str:
    if server.path is not None:
        return server.path
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"{host}:{server.port}"


def banner(server: _BaseServer, args: argparse.Namespace, stores: Sequence[Store]) -> list[str]:
    """The lines printed at start: where, then the auth, size, store and TLS settings."""
    from ._server import AUTH_MECHANISMS

    what = ["LMTP" if args.lmtp else "SMTP"]
    if args.tls != "none":
        what.append(f"TLS {args.tls}")
    if args.tls_required:
        what.append("TLS required")
    lines = [f"smtpfake listening on {_where(server)} ({', '.join(what)})"]
    if args.user:
        names = ", ".join(sorted({name for name, _ in args.user}))
        when = "required" if args.auth_required else "optional"
        where = "only over TLS" if args.auth_require_tls else "with or without TLS"
        lines.append(f"auth: {names} ({' '.join(AUTH_MECHANISMS)}); {when}; {where}")
    else:
        lines.append("auth: off (no --user)")
    lines.append(f"size: SIZE {args.size_limit} advertised, bigger messages refused"
                 if args.size_limit else "size: no limit advertised")
    if stores:
        kept = ", ".join(f"{s.kind} {s.path}" for s in stores)
        lines.append(f"store: {kept} (each message synced to disk before the 250)")
    else:
        lines.append("store: none (messages are printed, not kept)")
    if args.tls != "none":
        lasts = "kept in --ca-dir" if args.ca_dir else "removed at exit"
        lines.append(f"CA certificate: {server.ca.ca_pem_path} ({lasts})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; 0 then, 1 if it could not start or failed, 2 (SystemExit)
    for bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    try:
        try:
            from ._server import FakeLMTPServer, FakeSMTPServer

            stores = _open_stores(args)
            ca = _certificate_authority(args) if args.tls != "none" else None
        except ModuleNotFoundError as error:
            raise _needs_extra(error) from None
    except _CannotStart as reason:
        print(f"smtpfake: {reason}", file=sys.stderr)
        return 1
    catcher = _Catcher(stores, sys.stdout, sys.stderr, args.verbose)
    cls = FakeLMTPServer if args.lmtp else FakeSMTPServer
    try:
        server = cls(
            args.host, args.port, path=args.path, tls=args.tls, tls_required=args.tls_required,
            ca=ca, users=dict(args.user) or None, auth_required=args.auth_required,
            auth_require_tls=args.auth_require_tls, size_limit=args.size_limit,
            hostname=args.hostname, store=catcher.store,
        )
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return _serve(server, catcher, args, stores)


def _serve(server: _BaseServer, catcher: _Catcher, args: argparse.Namespace,
           stores: Sequence[Store]) -> int:
    from ._errors import ServerError

    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server.start()
        except (OSError, ValueError) as error:  # (ValueError: a NUL in --host or --path)
            where = args.path or f"{args.host}:{args.port}"
            print(f"smtpfake: cannot listen on {where}: {error}", file=sys.stderr)
            return 1
        status = 0
        try:
            print("\n".join(banner(server, args, stores)), flush=True)
            while not stop.set:
                for message in server.outbox._take(timeout=_POLL):
                    catcher.show(message)
        finally:
            try:
                server.stop()
            except ServerError as error:
                print(f"smtpfake: {error}", file=sys.stderr)
                status = 1
            for message in server.outbox._take(timeout=0):  # what arrived while stopping
                catcher.show(message)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("smtpfake stopped", flush=True)
    return status

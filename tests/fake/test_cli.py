"""The smtpfake command, run as a real subprocess.

Every run waits for what the command prints (the banner, a summary line, a stderr line), never a
fixed time; every process started is killed at the end of its test if it still runs.
"""

from __future__ import annotations

import mailbox
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

import smtpfake._cli
import smtpfake._server

_LISTENING = re.compile(
    r"^smtpfake listening on (?:(?P<host>[\d.]+)|\[(?P<v6>[\da-f:]+)\]):(?P<port>\d+) "
    r"\((?P<what>.*)\)$"
)
_SCRIPT = str(Path(sys.executable).with_name("smtpfake"))


_FAIL_FAST = 30.0  # seconds: only so that a command that never prints fails instead of hanging


class _Lines:
    """Lines from a child's pipe; waits for each (select), giving up after ``_FAIL_FAST``."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.fd = pipe.fileno()
        self.buffer = b""

    def line(self) -> str:
        deadline = time.monotonic() + _FAIL_FAST
        while b"\n" not in self.buffer:
            if not select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"no line within {_FAIL_FAST}s; so far {self.buffer!r}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


class Cli:
    """A running ``python -m smtpfake`` with its stdout and stderr read line by line."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smtpfake", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.out, self.err = _Lines(self.proc.stdout), _Lines(self.proc.stderr)

    def read_banner(self) -> None:
        """Wait for the banner: the address, then the auth, size, store (and CA) lines."""
        first = self.line()
        match = _LISTENING.match(first)
        if not match:
            self.kill()
            pytest.fail(f"unexpected first line {first!r}; stderr: {self.err.buffer!r}")
        self.address = (match["host"] or match["v6"], int(match["port"]))
        self.what = match["what"]
        keys = ["auth", "size", "store"]
        if "--tls" in self.args and self.args[self.args.index("--tls") + 1] != "none":
            keys.append("CA certificate")
        self.settings: dict[str, str] = {}
        for key in keys:
            name, _, value = self.line().partition(": ")
            assert name == key
            self.settings[key] = value

    def line(self) -> str:
        return self.out.line()

    def error_line(self) -> str:
        return self.err.line()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal it and wait for its end; the exit status and the rest of stdout and stderr."""
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=_FAIL_FAST)
        return (self.proc.returncode, (self.out.buffer + out).decode(),
                (self.err.buffer + err).decode())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=_FAIL_FAST)


@pytest.fixture
def cli() -> Iterator[type[Cli]]:
    started: list[Cli] = []

    class Tracked(Cli):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)  # tracked before the banner: killed even if it never comes
            self.read_banner()

    yield Tracked
    for proc in started:
        proc.kill()


def _run(*args: str, env: dict[str, str] | None = None,
         command: tuple[str, ...] = (sys.executable, "-m", "smtpfake"),
         ) -> subprocess.CompletedProcess[str]:
    """Run the command to its end (it must not start serving: the timeout only fails fast)."""
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=_FAIL_FAST,
                          env=env)


def _one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single stderr line of a run that failed with ``code`` and printed no traceback."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""  # never listened
    return lines[0]


def _send(address: tuple[str, int], subject: str, body: str = "hello\r\n") -> None:
    with smtplib.SMTP(*address, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com", "carol@example.com"],
                        f"Subject: {subject}\r\n\r\n{body}")


def test_prints_a_line_per_message_and_exits_0_on_sigterm(cli) -> None:
    proc = cli()
    assert proc.what == "SMTP"
    _send(proc.address, "First")
    line = proc.line()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d from=<alice@example.com> "
                    r"to=bob@example.com, carol@example.com subject='First' size=\d+$", line)
    _send(proc.address, "Second")
    assert "subject='Second'" in proc.line()
    code, out, err = proc.stop()
    assert code == 0, err
    assert out.strip().endswith("smtpfake stopped")
    assert "Traceback" not in err


def test_ctrl_c_exits_0(cli) -> None:
    proc = cli()
    code, _, err = proc.stop(signal.SIGINT)
    assert code == 0, err


def test_verbose_prints_the_whole_message(cli) -> None:
    proc = cli("-v")
    _send(proc.address, "Loud", "line one\r\nline two\r\n")
    assert "subject='Loud'" in proc.line()
    assert [proc.line() for _ in range(4)] == ["Subject: Loud", "", "line one", "line two"]
    assert proc.line() == "-" * 72
    assert proc.stop()[0] == 0


# ---- the banner -------------------------------------------------------------------------------

def test_the_banner_names_auth_size_and_store_settings(cli, tmp_path: Path) -> None:
    maildir, mbox = tmp_path / "Maildir", tmp_path / "mail.mbox"
    proc = cli("--user", "bob:x", "--user", "alice:y", "--auth-required", "--size-limit", "5000",
               "--maildir", str(maildir), "--mbox", str(mbox))
    assert proc.settings == {
        "auth": "alice, bob (PLAIN LOGIN CRAM-MD5 XOAUTH2); required; with or without TLS",
        "size": "SIZE 5000 advertised, bigger messages refused",
        "store": f"Maildir {maildir}, mbox {mbox} (each message synced to disk before the 250)",
    }
    assert proc.stop()[0] == 0


def test_the_default_banner_says_what_is_off(cli) -> None:
    proc = cli()
    assert proc.settings == {
        "auth": "off (no --user)",
        "size": "no limit advertised",
        "store": "none (messages are printed, not kept)",
    }
    assert proc.stop()[0] == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_address_is_bracketed(cli) -> None:
    proc = cli("--host", "::1")
    assert proc.address[0] == "::1"
    _send(proc.address, "over IPv6")
    assert "subject='over IPv6'" in proc.line()
    assert proc.stop()[0] == 0


# ---- stores: kept before the 250, with the envelope -------------------------------------------

_RAW = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: exact\r\n\r\n"
        b"From here on, bytes matter.\r\n>From a quoted line\r\n.a dot-stuffed line\r\n"
        b"trailing spaces   \r\n")


def test_maildir_keeps_the_bytes_exactly_after_the_envelope(cli, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    proc = cli("--maildir", str(maildir))
    with smtplib.SMTP(*proc.address, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com", "hidden@example.com"], _RAW)
        # The 250 is in: the file is already there (stored before the answer, not after).
        files = list((maildir / "new").iterdir())
        assert len(files) == 1
        assert files[0].read_bytes() == (
            b"Return-Path: <alice@example.com>\r\n"
            b"X-Original-To: bob@example.com\r\n"
            b"X-Original-To: hidden@example.com\r\n"  # the Bcc recipient is not lost
            + _RAW
        )
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert list((maildir / "tmp").iterdir()) == []
    assert "subject='exact'" in proc.line()
    assert proc.stop()[0] == 0


def test_mbox_quotes_from_lines_and_uses_lf(cli, tmp_path: Path) -> None:
    mbox = tmp_path / "mail.mbox"
    proc = cli("--mbox", str(mbox))
    with smtplib.SMTP(*proc.address, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com", "hidden@example.com"], _RAW)
        client.sendmail("", ["bob@example.com"], b"Subject: bounce\r\n\r\nno newline at the end")
        kept = mbox.read_bytes()  # both 250s are in: both messages are already there
    first, second = re.split(rb"\n(?=From )", kept)
    assert re.fullmatch(rb"From alice@example.com \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}",
                        first.split(b"\n", 1)[0])
    assert first.split(b"\n", 1)[1] == (
        b"Return-Path: <alice@example.com>\n"
        b"X-Original-To: bob@example.com\n"
        b"X-Original-To: hidden@example.com\n"
        + _RAW.replace(b"\r\n", b"\n")
        .replace(b"\nFrom here", b"\n>From here").replace(b"\n>From a", b"\n>>From a")
    )
    assert second.startswith(b"From MAILER-DAEMON ")
    assert second.endswith(b"Return-Path: <>\nX-Original-To: bob@example.com\n"
                           b"Subject: bounce\n\nno newline at the end\n\n")
    box = mailbox.mbox(str(mbox), create=False)
    try:
        assert [m["Subject"] for m in box] == ["exact", "bounce"]
    finally:
        box.close()
    assert proc.stop()[0] == 0


def test_maildir_and_mbox_together(cli, tmp_path: Path) -> None:
    maildir, mbox = tmp_path / "Maildir", tmp_path / "mail.mbox"
    proc = cli("--maildir", str(maildir), "--mbox", str(mbox))
    for n in range(3):
        _send(proc.address, f"kept {n}")
    for _ in range(3):
        proc.line()
    assert proc.stop()[0] == 0
    stored = sorted(m["Subject"] for m in mailbox.Maildir(str(maildir), create=False))
    assert stored == ["kept 0", "kept 1", "kept 2"]
    box = mailbox.mbox(str(mbox), create=False)
    try:
        assert [m["Subject"] for m in box] == ["kept 0", "kept 1", "kept 2"]
        assert box[0].get_from().startswith("alice@example.com ")
    finally:
        box.close()


def test_a_maildir_that_fails_gets_451_and_the_server_keeps_serving(cli, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    proc = cli("--maildir", str(maildir))
    # As root, permissions would not stop a write: the directory becomes a file instead.
    shutil.rmtree(maildir)
    maildir.write_bytes(b"not a directory")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(proc.address, "lost?")
    assert refused.value.smtp_code == 451
    assert refused.value.smtp_error.startswith(b"4.3.0 Message not stored (Not a directory)")
    why = proc.error_line()
    assert why.startswith(f"smtpfake: answered 451, could not store the message from "
                          f"<alice@example.com> in the Maildir {maildir}: ")
    assert "Not a directory" in why
    maildir.unlink()
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    _send(proc.address, "kept")  # the same server, still serving
    assert "subject='kept'" in proc.line()  # (the refused message was never printed as kept)
    code, _, err = proc.stop()
    assert code == 0, err
    assert "Traceback" not in err
    assert [m["Subject"] for m in mailbox.Maildir(str(maildir), create=False)] == ["kept"]


def test_an_mbox_that_fails_gets_451_and_the_server_keeps_serving(cli, tmp_path: Path) -> None:
    mbox = tmp_path / "mail.mbox"
    proc = cli("--mbox", str(mbox))
    mbox.unlink()
    mbox.mkdir()  # the file becomes a directory: no write can succeed, even as root
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(proc.address, "lost?")
    assert refused.value.smtp_code == 451
    assert "Is a directory" in proc.error_line()
    mbox.rmdir()
    _send(proc.address, "kept")
    assert "subject='kept'" in proc.line()
    code, _, err = proc.stop()
    assert code == 0, err
    box = mailbox.mbox(str(mbox), create=False)
    try:
        assert [m["Subject"] for m in box] == ["kept"]
    finally:
        box.close()


# ---- what stops it from starting: one line, never a traceback --------------------------------

@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--port", "99999"], "argument --port: port 99999 is outside 0-65535"),
        (["--port", "-5"], "argument --port: port -5 is outside 0-65535"),
        (["--port", "smtp"], "argument --port: not a port number: 'smtp'"),
        (["--size-limit", "0"], "argument --size-limit: must be positive, not 0"),
        (["--user", "nocolon"], "argument --user: expected NAME:PASSWORD, got 'nocolon'"),
        (["--path", "/tmp/x.sock"], "--path needs --lmtp"),
        (["--tls-required"], "--tls-required needs --tls starttls"),
        (["--ca-dir", "ca"], "--ca-dir needs --tls"),
        (["--auth-required"], "--auth-required needs --user"),
        (["--user", "a:b", "--auth-require-tls"], "--auth-require-tls needs --tls"),
        (["--hostname", "two words"], "invalid hostname 'two words'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], reason: str) -> None:
    line = _one_line_error(_run(*args), 2)
    assert line == f"smtpfake: error: {reason} (see smtpfake --help)"


def test_a_maildir_whose_parent_is_missing_is_reported_before_listening(tmp_path: Path) -> None:
    where = tmp_path / "missing" / "Maildir"
    line = _one_line_error(_run("--port", "0", "--maildir", str(where)), 1)
    assert line == f"smtpfake: cannot open the Maildir {where}: No such file or directory"


def test_a_store_under_a_file_is_reported_before_listening(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    where = tmp_path / "file" / "mail.mbox"
    line = _one_line_error(_run("--port", "0", "--mbox", str(where)), 1)
    assert line == f"smtpfake: cannot open the mbox {where}: Not a directory"


def _sysfs() -> str | None:
    with open("/proc/mounts") as mounts:
        return next((fields[1] for fields in map(str.split, mounts) if fields[2] == "sysfs"),
                    None)


@pytest.mark.skipif(_sysfs() is None, reason="no sysfs mounted")
@pytest.mark.parametrize("option", ["--mbox", "--maildir"])
def test_a_store_on_a_filesystem_that_refuses_writes(option: str) -> None:
    # sysfs accepts no new file or directory, even from root (for whom chmod proves nothing).
    where = os.path.join(str(_sysfs()), "smtpfake-test-store")
    line = _one_line_error(_run("--port", "0", option, where), 1)
    kind = "mbox" if option == "--mbox" else "Maildir"
    assert re.fullmatch(rf"smtpfake: cannot open the {kind} {where}: "
                        r"(Permission denied|Operation not permitted|Read-only file system)", line)


def test_port_in_use_exits_1_with_a_message(cli) -> None:
    proc = cli()
    line = _one_line_error(_run("--port", str(proc.address[1])), 1)
    assert line.startswith(f"smtpfake: cannot listen on 127.0.0.1:{proc.address[1]}: ")


def _blocking(tmp_path: Path, name: str) -> dict[str, str]:
    """An environment in which ``name`` fails to import exactly as an absent package does."""
    blocker = tmp_path / "blocker" / name
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')\n")
    return {**os.environ, "PYTHONPATH": str(blocker.parent)}


@pytest.mark.parametrize("command", [(_SCRIPT,), (sys.executable, "-m", "smtpfake")])
def test_without_the_fake_extra_it_says_what_to_install(tmp_path: Path, command) -> None:
    env = _blocking(tmp_path, "aiosmtpd")
    line = _one_line_error(_run("--port", "0", env=env, command=command), 1)
    # This test environment is an install of this checkout: the hint names it.
    checkout = Path(__file__).resolve().parents[2]
    assert re.fullmatch(
        rf"smtpfake: needs 'aiosmtpd', which is not installed; install the 'fake' extra "
        rf"\(smtpclient is not on PyPI\): pip install (-e )?'{re.escape(str(checkout))}\[fake\]'",
        line,
    )
    helped = _run("--help", env=env, command=command)  # the help needs no extra
    assert helped.returncode == 0
    assert "--maildir" in helped.stdout


def test_tls_without_trustme_says_what_to_install(tmp_path: Path) -> None:
    env = _blocking(tmp_path, "trustme")
    line = _one_line_error(_run("--port", "0", "--tls", "implicit", env=env), 1)
    assert line.startswith("smtpfake: needs 'trustme', which is not installed; install the ")


# ---- TLS: a CA kept across runs, AUTH only over TLS -------------------------------------------

def test_tls_prints_the_ca_path_and_serves_with_it(cli) -> None:
    proc = cli("--tls", "implicit")
    assert proc.what == "SMTP, TLS implicit"
    ca_path, _, lasts = proc.settings["CA certificate"].partition(" ")
    assert lasts == "(removed at exit)"
    context = ssl.create_default_context(cafile=ca_path)
    with smtplib.SMTP_SSL("localhost", proc.address[1], context=context, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com"], "Subject: secure\r\n\r\nhi\r\n")
    assert "subject='secure'" in proc.line()
    assert proc.stop()[0] == 0
    assert not os.path.exists(ca_path)  # removed at exit


def test_ca_dir_is_created_once_and_reused(cli, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    first = cli("--tls", "implicit", "--ca-dir", str(ca_dir))
    assert first.settings["CA certificate"] == f"{ca_dir / 'ca.pem'} (kept in --ca-dir)"
    assert first.stop()[0] == 0
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((ca_dir / "ca-key.pem").stat().st_mode) == 0o600
    # The application's trust, set up from the first run, holds for the next one.
    context = ssl.create_default_context(cafile=str(ca_dir / "ca.pem"))
    pem = (ca_dir / "ca.pem").read_bytes()
    second = cli("--tls", "implicit", "--ca-dir", str(ca_dir))
    with smtplib.SMTP_SSL("localhost", second.address[1], context=context, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com"], "Subject: again\r\n\r\nhi\r\n")
    assert "subject='again'" in second.line()
    assert second.stop()[0] == 0
    assert (ca_dir / "ca.pem").read_bytes() == pem


def test_ca_dir_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_text("")
    (ca_dir / "ca-key.pem").write_text("")
    (ca_dir / "ca-key.pem").chmod(0o644)
    line = _one_line_error(_run("--port", "0", "--tls", "implicit", "--ca-dir", str(ca_dir)), 1)
    assert line == (f"smtpfake: cannot use the CA directory {ca_dir}: "
                    f"{ca_dir / 'ca-key.pem'} may be read by others: chmod 600 it")


def test_ca_dir_whose_parent_is_missing(tmp_path: Path) -> None:
    ca_dir = tmp_path / "missing" / "ca"
    line = _one_line_error(_run("--port", "0", "--tls", "implicit", "--ca-dir", str(ca_dir)), 1)
    assert line.startswith(f"smtpfake: cannot use the CA directory {ca_dir}: [Errno 2] ")


def test_auth_require_tls_offers_auth_only_after_starttls(cli, tmp_path: Path) -> None:
    proc = cli("--tls", "starttls", "--tls-required", "--user", "app:secret",
               "--auth-require-tls", "--ca-dir", str(tmp_path / "ca"))
    assert proc.what == "SMTP, TLS starttls, TLS required"
    assert proc.settings["auth"].endswith("; optional; only over TLS")
    context = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
    with smtplib.SMTP(*proc.address, timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        client.starttls(context=context)
        client.ehlo()
        assert client.has_extn("auth")
        client.login("app", "secret")
        client.sendmail("app@example.com", ["bob@example.com"], "Subject: authed\r\n\r\nhi\r\n")
    assert "subject='authed'" in proc.line()
    assert proc.stop()[0] == 0


# ---- the rest ---------------------------------------------------------------------------------

def test_users_and_auth_required(cli) -> None:
    proc = cli("--user", "alice:s3cret", "--auth-required")
    with smtplib.SMTP(*proc.address, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("alice@example.com", ["bob@example.com"], "hi")
        client.login("alice", "s3cret")
        client.sendmail("alice@example.com", ["bob@example.com"], "Subject: authed\r\n\r\nhi\r\n")
    assert "subject='authed'" in proc.line()
    assert proc.stop()[0] == 0


def test_lmtp(cli) -> None:
    proc = cli("--lmtp")
    assert proc.what == "LMTP"
    client = smtplib.LMTP(*proc.address, timeout=5)
    try:
        client.sendmail("alice@example.com", ["bob@example.com"], "Subject: lmtp\r\n\r\nhi\r\n")
    finally:
        client.quit()
    assert "subject='lmtp'" in proc.line()
    assert proc.stop()[0] == 0


def test_the_cli_offers_the_servers_tls_modes() -> None:
    assert smtpfake._cli.TLS_MODES == smtpfake._server.TLS_MODES


def test_console_script_is_installed() -> None:
    result = _run("--help", command=(_SCRIPT,))
    assert result.returncode == 0
    assert "--maildir" in result.stdout

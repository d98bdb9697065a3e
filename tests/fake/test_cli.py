"""The smtpfake command, run as a real subprocess."""

from __future__ import annotations

import mailbox
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_LISTENING = re.compile(r"^smtpfake listening on (?P<host>[\d.]+):(?P<port>\d+) \((?P<what>.*)\)$")


class Cli:
    """A running ``python -m smtpfake`` with its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smtpfake", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().rstrip("\n")
        match = _LISTENING.match(first)
        assert match, f"unexpected first line {first!r}; stderr: {self.proc.stderr.read()}"
        self.address = (match["host"], int(match["port"]))
        self.what = match["what"]

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().rstrip("\n")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


@pytest.fixture
def cli() -> Iterator[type[Cli]]:
    started: list[Cli] = []

    class Tracked(Cli):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for proc in started:
        proc.kill()


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


def test_maildir_and_mbox_keep_the_mail(cli, tmp_path: Path) -> None:
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


def test_tls_prints_the_ca_path_and_serves_with_it(cli) -> None:
    proc = cli("--tls", "implicit")
    assert proc.what == "SMTP, TLS implicit"
    ca_line = proc.line()
    assert ca_line.startswith("CA certificate: ")
    ca_path = ca_line.removeprefix("CA certificate: ")
    context = ssl.create_default_context(cafile=ca_path)
    with smtplib.SMTP_SSL("localhost", proc.address[1], context=context, timeout=5) as client:
        client.sendmail("alice@example.com", ["bob@example.com"], "Subject: secure\r\n\r\nhi\r\n")
    assert "subject='secure'" in proc.line()
    assert proc.stop()[0] == 0
    assert not os.path.exists(ca_path)  # removed at exit


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


def test_bad_arguments_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "smtpfake", "--user", "nocolon"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "NAME:PASSWORD" in result.stderr


def test_port_in_use_exits_1_with_a_message(cli) -> None:
    proc = cli()
    result = subprocess.run(
        [sys.executable, "-m", "smtpfake", "--port", str(proc.address[1])],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("smtpfake")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--maildir" in result.stdout

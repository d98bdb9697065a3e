"""What a mail test costs: the ``smtp_server`` fixture against smtpdfix's ``smtpd``, per test.

Generates three suites of 300 tests in a temporary directory and runs each with pytest in a
subprocess (plugins autoloaded as usual; no cache provider):

(a) each test sends one message with smtplib to ``smtp_server`` and checks it arrived;
(b) the same with smtpdfix's ``smtpd`` fixture;
(c) the floor: 300 tests that send nothing and use no server;

and, to tell the plugin's own cost from the SMTP conversation's, (a0): (a) with a session-scoped
``FakeSMTPServer`` reset by a three-line fixture of the suite's own instead of the plugin.

The time of pytest's run-test loop (collection and start-up excluded, the same for all three) is
taken from a small plugin loaded into each run. Every suite runs ``ROUNDS`` times, interleaved,
and the median counts. Printed: per-test milliseconds over the floor for (a) and (b), their
ratio, and the setup time of each suite's first test (session start-up costs, such as key
generation, land there).

Run: ``.venv/bin/python bench/fixture_overhead.py`` (about half a minute).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TESTS = 300
ROUNDS = 5

TIMING_PLUGIN = '''
"""Loaded with -p: writes the run-test loop's duration and the first test's setup time."""
import json, os, time
import pytest

_first_setup = []

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        elapsed = time.perf_counter() - started
        result = {
            "loop": elapsed,
            "tests": session.testscollected,
            "failed": session.testsfailed,
            "first_setup": _first_setup[0] if _first_setup else None,
        }
        with open(os.environ["FIXTURE_BENCH_OUT"], "w") as out:
            json.dump(result, out)

def pytest_runtest_logreport(report):
    if report.when == "setup" and not _first_setup:
        _first_setup.append(report.duration)
'''

MESSAGE = "From: a@example.com\\r\\nTo: b@example.com\\r\\nSubject: hello\\r\\n\\r\\nHello.\\r\\n"

SENDING_SUITE = """
import smtplib
import pytest
{preamble}
MESSAGE = "{message}"

@pytest.mark.parametrize("n", range({tests}))
def test_send({fixture}, n):
    with smtplib.SMTP({fixture}.{host}, {fixture}.port) as client:
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    (message,) = {received}
    assert {subject} == "hello"
"""

BARE_FIXTURES = """
from smtpfake import FakeSMTPServer

@pytest.fixture(scope="session")
def hosted():
    with FakeSMTPServer() as server:
        yield server

@pytest.fixture
def server(hosted):
    hosted.reset()
    return hosted
"""


def sending_suite(
    fixture: str,
    received: str,
    host: str = "host",
    subject: str = "message.subject",
    preamble: str = "",
) -> str:
    """The source of TESTS tests that each send MESSAGE with smtplib to the server ``fixture``
    gives and check that it arrived (``received``: the tuple of what the server captured)."""
    return SENDING_SUITE.format(
        preamble=preamble,
        message=MESSAGE,
        tests=TESTS,
        fixture=fixture,
        host=host,
        received=received,
        subject=subject,
    )


SUITES = {
    "smtp_server": sending_suite("smtp_server", "smtp_server.wait_for(1, timeout=5)"),
    "smtpdfix": sending_suite(
        "smtpd", "smtpd.messages", host="hostname", subject='message["Subject"]'
    ),
    "bare_server": sending_suite("server", "server.wait_for(1, timeout=5)", preamble=BARE_FIXTURES),
    "floor": f"""
        import pytest

        @pytest.mark.parametrize("n", range({TESTS}))
        def test_nothing(n):
            pass
    """,
}


def run_suite(directory: Path, name: str) -> dict[str, float]:
    out = directory / f"{name}.json"
    env = dict(os.environ, FIXTURE_BENCH_OUT=str(out), PYTHONPATH=str(directory))
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_timing"]
    completed = subprocess.run(
        [*command, f"test_{name}.py"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    result: dict[str, float] = json.loads(out.read_text()) if out.exists() else {}
    if completed.returncode != 0 or result.get("tests") != TESTS or result.get("failed"):
        sys.exit(f"suite {name!r} did not pass:\n{completed.stdout}\n{completed.stderr}")
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fixture-bench-") as temp:
        directory = Path(temp)
        (directory / "_timing.py").write_text(TIMING_PLUGIN)
        for name, source in SUITES.items():
            (directory / f"test_{name}.py").write_text(textwrap.dedent(source))
        loops: dict[str, list[float]] = {name: [] for name in SUITES}
        first_setups: dict[str, list[float]] = {name: [] for name in SUITES}
        for _ in range(ROUNDS):
            for name in SUITES:
                result = run_suite(directory, name)
                loops[name].append(result["loop"])
                first_setups[name].append(result["first_setup"])

    median = {name: statistics.median(times) for name, times in loops.items()}
    per_test = {name: (median[name] - median["floor"]) / TESTS * 1000 for name in SUITES}
    print(f"{TESTS} tests per suite, median of {ROUNDS} runs each; Python {sys.version.split()[0]}")
    print(f"  floor (no server)        loop {median['floor']:.3f} s")
    labels = {
        "smtp_server": "(a) smtp_server",
        "smtpdfix": "(b) smtpdfix smtpd",
        "bare_server": "(a0) bare FakeSMTPServer",
    }
    for name, label in labels.items():
        first = statistics.median(first_setups[name]) * 1000
        print(
            f"  {label:<24} loop {median[name]:.3f} s  {per_test[name]:6.2f} ms/test over the "
            f"floor  (first test's setup {first:.1f} ms)"
        )
    ratio = per_test["smtp_server"] / per_test["smtpdfix"]
    verdict = "meets" if ratio <= 1 / 3 else "misses"
    print(f"  ratio (a)/(b): {ratio:.3f}  ({verdict} the target of at most 1/3)")
    plugin = per_test["smtp_server"] - per_test["bare_server"]
    print(f"  the plugin's own share of (a), (a) - (a0): {plugin:.2f} ms/test")


if __name__ == "__main__":
    main()

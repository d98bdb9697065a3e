"""What a mail test costs: the ``smtp_server`` fixture against smtpdfix's ``smtpd``, per test.

Generates suites of 300 tests in a temporary directory and runs each with pytest in a
subprocess (plugins autoloaded as usual; no cache provider):

(a) each test sends one message with smtplib to ``smtp_server`` and checks it arrived;
(b) the same with smtpdfix's ``smtpd`` fixture;
(c) the floor: 300 tests that send nothing and use no server;

and, to tell where the cost of (a) lies, the same sending test against session-hosted servers
reset by a small fixture of the suite's own (``_reference_servers`` has the last two):

(a0) a bare ``FakeSMTPServer``: (a) without the plugin;
(p)  plain aiosmtpd: its ``SMTP`` protocol with a DATA hook and nothing of ours;
(r)  a canned responder: fixed replies, no SMTP logic, the least any server in a thread can do.

The time of pytest's run-test loop (collection and start-up excluded, the same for all) is
taken from a small plugin loaded into each run. Every suite runs ``ROUNDS`` times, interleaved
(one run of each suite per round), and the median counts. Printed: per-test milliseconds over
the floor, the ratio of each to (b), the spread of (a)/(b) over the rounds (each round's (a)
and (b) ran seconds apart, so machine slowdowns touch both), and the setup time of each
suite's first test (session start-up costs land there: every suite imports its server there,
and none generates keys).

Run: ``.venv/bin/python bench/fixture_overhead.py`` (about two minutes).
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TESTS = 300
ROUNDS = 7
BENCH = Path(__file__).resolve().parent

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

# The server module is imported by the first test's setup, as the plugin imports smtpfake, so
# that every suite's loop time includes its server's imports alike.
BARE_FIXTURES = """
@pytest.fixture(scope="session")
def hosted():
    from smtpfake import FakeSMTPServer

    with FakeSMTPServer() as server:
        yield server

@pytest.fixture
def server(hosted):
    hosted.reset()
    return hosted
"""

REFERENCE_FIXTURES = """
@pytest.fixture(scope="session")
def hosted():
    from _reference_servers import {cls}

    server = {cls}()
    yield server
    server.stop()

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
    "plain_aiosmtpd": sending_suite(
        "server", "server.wait_for(1, timeout=5)",
        preamble=REFERENCE_FIXTURES.format(cls="PlainAiosmtpd"),
    ),
    "canned": sending_suite(
        "server", "server.wait_for(1, timeout=5)",
        preamble=REFERENCE_FIXTURES.format(cls="CannedResponder"),
    ),
    "floor": f"""
        import pytest

        @pytest.mark.parametrize("n", range({TESTS}))
        def test_nothing(n):
            pass
    """,
}


def run_suite(directory: Path, name: str) -> dict[str, float]:
    out = directory / f"{name}.json"
    env = dict(os.environ, FIXTURE_BENCH_OUT=str(out),
               PYTHONPATH=os.pathsep.join([str(directory), str(BENCH)]))
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


def compile_project() -> None:
    """Write the project's bytecode, as a wheel install has it.

    An editable install imports from the source tree, and with PYTHONDONTWRITEBYTECODE set (as
    on this machine) every session compiles smtpfake anew: about 20 ms in the first test's
    setup that an installed smtpfake, like the smtpdfix it is compared with, does not pay.
    """
    for folder in ("src", "pytest_plugin"):
        compileall.compile_dir(BENCH.parent / folder, quiet=1)


def main() -> None:
    compile_project()
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
    print(f"  floor (no server)          loop {median['floor']:.3f} s")
    labels = {
        "smtp_server": "(a) smtp_server",
        "smtpdfix": "(b) smtpdfix smtpd",
        "bare_server": "(a0) bare FakeSMTPServer",
        "plain_aiosmtpd": "(p) plain aiosmtpd",
        "canned": "(r) canned responder",
    }
    for name, label in labels.items():
        first = statistics.median(first_setups[name]) * 1000
        share = per_test[name] / per_test["smtpdfix"]
        versus = "" if name == "smtpdfix" else f"  {share:.3f} of (b)"
        print(
            f"  {label:<26} loop {median[name]:.3f} s  {per_test[name]:5.2f} ms/test over the "
            f"floor{versus}  (first test's setup {first:.1f} ms)"
        )
    ratio = per_test["smtp_server"] / per_test["smtpdfix"]
    verdict = "meets" if ratio <= 1 / 3 else "misses"
    print(f"  ratio (a)/(b): {ratio:.3f}  ({verdict} the target of at most 1/3)")
    rounds = sorted(
        (a - f) / (b - f)
        for a, b, f in zip(loops["smtp_server"], loops["smtpdfix"], loops["floor"], strict=True)
    )
    print(f"  (a)/(b) round by round: median {statistics.median(rounds):.3f}, "
          f"range {rounds[0]:.3f}-{rounds[-1]:.3f}")
    plugin = per_test["smtp_server"] - per_test["bare_server"]
    print(f"  the plugin's own share of (a), (a) - (a0): {plugin:.2f} ms/test")

if __name__ == "__main__":
    main()

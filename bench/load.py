"""Load: 32 concurrent clients x 500 messages through one fake server, smtpclient vs smtplib.

Run: ``.venv/bin/python bench/load.py`` (about a minute on 2 cores; ``--quick`` for 8 x 50).
Two rounds by default, alternating which library goes first; the summary takes each one's best.

Each client is a thread holding one connection and sending its messages one after another with
``sendmail``: sizes spread log-uniformly from 1 KiB to 100 KiB (lines of 76 characters, some
starting with a dot, so dot-stuffing is exercised), 1 to 2 good recipients, and a refused
recipient on about 10% of the messages (on about 2%, the only one: SMTPRecipientsRefused).

The server (bench/_load_server.py) is a FakeSMTPServer in its own process, a fresh one for each
client library, so its event loop does not share a GIL with the 32 client threads and each run's
peak memory is its own. The client threads share one process and GIL, the same for both
libraries. After each run the script checks, from the server's capture, that every accepted
message was captured exactly once, byte-identical (SHA-256 of the raw bytes), to exactly its
accepted recipients, that no all-refused message and no refused recipient was captured, and
that each client saw the refused dict the server was scripted to give.

Printed: messages/s and MB/s (wall time of the whole load), p50/p99 latency of one
``sendmail``, and the server's peak RSS next to what it holds captured (the fake server keeps
every message in memory by design).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import random
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import smtpclient

SERVER = Path(__file__).with_name("_load_server.py")
REFUSED_REPLY = (550, b"5.1.1 No such user (load test)")
LETTERS = "abcdefghijklmnopqrstuvwxyz     ABCDEFGHIJ0123456789"


@dataclass
class Sent:
    """What one client sent, and what it expects the server to hold."""

    latencies: list[float] = field(default_factory=list)
    accepted: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    all_refused: set[str] = field(default_factory=set)
    octets: int = 0
    view_errors: list[str] = field(default_factory=list)


def body_pool(count: int, rng: random.Random) -> list[bytes]:
    """Message bodies, sizes log-uniform in 1-100 KiB, CRLF lines of 76 characters."""
    pool = []
    for _ in range(count):
        size = int(math.exp(rng.uniform(math.log(1024), math.log(100 * 1024))))
        lines = []
        total = 0
        while total < size:
            line = "".join(rng.choice(LETTERS) for _ in range(76))
            if rng.random() < 0.05:
                line = "." + line[1:]
            lines.append(line)
            total += 78
        pool.append(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return pool


def client(library: ModuleType, port: int, index: int, count: int, pool: list[bytes],
           start: threading.Barrier, sent: Sent) -> None:
    """One client: connect, wait for the others, send ``count`` messages, quit."""
    rng = random.Random(index)
    connection = library.SMTP("127.0.0.1", port, local_hostname="load.test", timeout=60)
    start.wait()
    for number in range(count):
        sender = f"c{index}-m{number}@load.test"
        good = [f"user{index}@example.com"] + (["copy@example.com"] if rng.random() < 0.3 else [])
        roll = rng.random()
        refused = [f"refused-{index}-{number}@example.com"] if roll < 0.12 else []
        recipients = refused if roll < 0.02 else good + refused
        header = (
            f"From: {sender}\r\nTo: {', '.join(recipients)}\r\n"
            f"Subject: load {index}/{number}\r\nMessage-ID: <{index}.{number}@load.test>\r\n\r\n"
        ).encode("ascii")
        message = header + pool[(index * 7 + number) % len(pool)]
        started = time.perf_counter()
        try:
            got = connection.sendmail(sender, recipients, message)
        except smtplib.SMTPRecipientsRefused as error:  # smtpclient's is a subclass
            got = error.recipients
            sent.all_refused.add(sender)
        sent.latencies.append(time.perf_counter() - started)
        sent.octets += len(message)
        expected = dict.fromkeys(refused, REFUSED_REPLY)
        if got != expected:
            sent.view_errors.append(f"{sender}: refused {got!r}, expected {expected!r}")
        if roll >= 0.02:
            digest = hashlib.sha256(message).hexdigest()
            sent.accepted[sender] = (tuple(good), digest)
    connection.quit()


class ServerProcess:
    """bench/_load_server.py as a child process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        self.port: int = hello["port"]
        self.start_rss_kib: int = hello["rss_kib"]
        self.start_cpu: float = hello["cpu"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server process exited ({self.process.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def verify(sents: list[Sent], report: dict[str, Any]) -> list[str]:
    """Every accepted message captured once, identical, to its recipients; nothing refused."""
    problems = [error for sent in sents for error in sent.view_errors]
    accepted = {k: v for sent in sents for k, v in sent.accepted.items()}
    all_refused = set().union(*(sent.all_refused for sent in sents))
    captured = report["captured"]
    counts = Counter(mail_from for mail_from, _, _, _ in captured)
    problems += [f"{sender} captured {n} times" for sender, n in counts.items() if n > 1]
    problems += [f"{sender} never captured" for sender in accepted if sender not in counts]
    problems += [f"{sender} was refused but captured" for sender in all_refused & set(counts)]
    for mail_from, rcpt_tos, digest, _ in captured:
        if any(address.startswith("refused") for address in rcpt_tos):
            problems.append(f"{mail_from}: a refused recipient was captured: {rcpt_tos}")
        if mail_from in accepted and accepted[mail_from] != (tuple(rcpt_tos), digest):
            problems.append(f"{mail_from}: captured {rcpt_tos} {digest[:12]}, "
                            f"sent {accepted[mail_from]}")
    if len(captured) != len(accepted):
        problems.append(f"{len(captured)} captured, {len(accepted)} accepted")
    return problems


@dataclass
class Result:
    name: str
    messages: int
    octets: int
    seconds: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float
    start_rss_mib: float
    captured_mib: float
    server_cpu: float  # the server process's CPU time over the wall time of the load
    accepted: int
    all_refused: int
    problems: list[str]


def run(name: str, library: ModuleType, clients: int, per_client: int,
        pool: list[bytes]) -> Result:
    """The whole load with one client library against a fresh server process."""
    server = ServerProcess()
    try:
        sents = [Sent() for _ in range(clients)]
        start = threading.Barrier(clients + 1)
        errors: list[BaseException] = []

        def target(index: int) -> None:
            try:
                client(library, server.port, index, per_client, pool, start, sents[index])
            except BaseException as error:
                errors.append(error)
                start.abort()

        threads = [threading.Thread(target=target, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: raised below
            start.wait(60)
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        if errors:
            raise errors[0]
        report = server.report()
    finally:
        server.close()
    latencies = sorted(x for sent in sents for x in sent.latencies)
    cuts = statistics.quantiles(latencies, n=100)
    return Result(
        name=name,
        messages=len(latencies),
        octets=sum(sent.octets for sent in sents),
        seconds=seconds,
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
        peak_rss_mib=report["peak_rss_kib"] / 1024,
        start_rss_mib=server.start_rss_kib / 1024,
        captured_mib=sum(size for _, _, _, size in report["captured"]) / 2**20,
        server_cpu=(report["cpu"] - server.start_cpu) / seconds,
        accepted=sum(len(sent.accepted) for sent in sents),
        all_refused=sum(len(sent.all_refused) for sent in sents),
        problems=verify(sents, report),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 clients x 50 messages")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--messages", type=int, default=None, help="per client")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs per library, alternating which goes first (default 2)")
    args = parser.parse_args()
    clients = args.clients or (8 if args.quick else 32)
    per_client = args.messages or (50 if args.quick else 500)
    pool = body_pool(64, random.Random(2026))
    print(f"load: {clients} clients x {per_client} messages = {clients * per_client}, "
          f"bodies 1-100 KiB (pool mean {statistics.mean(map(len, pool)) / 1024:.1f} KiB), "
          "~10% with a refused recipient, ~2% all refused; server in its own process")
    libraries = [("smtpclient", smtpclient), ("smtplib", smtplib)]
    results: dict[str, list[Result]] = {name: [] for name, _ in libraries}
    for round_number in range(args.rounds):
        for name, library in libraries if round_number % 2 == 0 else libraries[::-1]:
            result = run(name, library, clients, per_client, pool)
            results[name].append(result)
            _print(result)
    best = {name: max(runs, key=lambda r: r.messages / r.seconds) for name, runs in results.items()}
    ours, theirs = best["smtpclient"], best["smtplib"]
    speed = (ours.messages / ours.seconds) / (theirs.messages / theirs.seconds)
    print(
        f"  best of {args.rounds}: smtpclient {ours.messages / ours.seconds:.0f} msg/s, smtplib "
        f"{theirs.messages / theirs.seconds:.0f} msg/s: throughput x{speed:.2f}, latency p50 x"
        f"{theirs.p50_ms / ours.p50_ms:.2f} and p99 x{theirs.p99_ms / ours.p99_ms:.2f} lower"
    )
    return 1 if any(r.problems for runs in results.values() for r in runs) else 0


def _print(result: Result) -> None:
    verdict = "verified" if not result.problems else f"{len(result.problems)} PROBLEMS"
    print(
        f"  {result.name:<10} {result.messages / result.seconds:6.0f} msg/s "
        f"{result.octets / result.seconds / 1e6:5.1f} MB/s  "
        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
        f"server RSS {result.start_rss_mib:.0f} -> peak {result.peak_rss_mib:.0f} MiB "
        f"(holding {result.captured_mib:.0f} MiB), CPU {result.server_cpu:.0%}  "
        f"{result.accepted} accepted, {result.all_refused} all-refused: {verdict}"
    )
    for problem in result.problems[:10]:
        print(f"    {problem}")


if __name__ == "__main__":
    sys.exit(main())

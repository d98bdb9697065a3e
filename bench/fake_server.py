"""Benchmark smtpfake against aiosmtpd, measured in one run on this machine.

(a) start+stop time: FakeSMTPServer vs aiosmtpd's Controller (median of many);
(b) messages/s received, 1 KiB and 1 MiB messages, from 1 and 8 concurrent clients, vs a bare
    aiosmtpd sink handler. The clients are separate processes (bench/_raw_client.py) speaking raw
    SMTP, so the client side is not the bottleneck;
(c) 1 MiB messages into the fake server with BDAT vs DATA, one client process, the same server:
    ordinary 78-byte lines and a dot-heavy body (every line starts with a dot, so DATA stuffs and
    the server unstuffs it), BDAT as one chunk and as 64 KiB chunks pipelined after RCPT.

Run: .venv/bin/python bench/fake_server.py   (about a minute; ``chunking`` runs (c) alone)
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller

from _raw_client import make_message  # bench/ is sys.path[0] when run as a script
from smtpfake import FakeSMTPServer

RAW_CLIENT = str(Path(__file__).with_name("_raw_client.py"))
KIB, MIB = 1024, 1024 * 1024


class Sink:
    """The bare aiosmtpd handler: accept and drop."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median_ms(actions: list[Callable[[], None]], rounds: int) -> list[float]:
    """Median time of each action, run interleaved so machine load hits them alike."""
    timings: list[list[float]] = [[] for _ in actions]
    for _ in range(rounds):
        for action, spent in zip(actions, timings, strict=True):
            began = time.perf_counter()
            action()
            spent.append(time.perf_counter() - began)
    return [statistics.median(spent) * 1000 for spent in timings]


def fake_cycle() -> None:
    server = FakeSMTPServer()
    server.start()
    server.stop()


def controller_cycle() -> None:
    controller = Controller(Sink(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    controller.stop()


@contextmanager
def aiosmtpd_sink() -> Iterator[tuple[str, int]]:
    controller = Controller(Sink(), hostname="127.0.0.1", port=_free_port(),
                            server_hostname="sink.test")
    controller.start()
    try:
        yield ("127.0.0.1", controller.port)
    finally:
        controller.stop()


servers: list[tuple[FakeSMTPServer, bool]] = []


def _add_rules(server: FakeSMTPServer) -> None:
    """Rules that never match: the cost of consulting the script on every command."""
    server.refuse_recipient("nobody@example.com")
    server.on("MAIL", sender="spammer@example.com").reply(550, "5.7.1 no")
    server.on("END_OF_DATA", to="nobody@example.com").reply(452, "4.2.2 full")


@contextmanager
def fake(rules: bool) -> Iterator[tuple[str, int]]:
    with FakeSMTPServer() as server:
        if rules:
            _add_rules(server)
        servers.append((server, rules))
        yield server.address


def throughput(
    address: tuple[str, int], size: int, clients: int, per_client: int, *how: str
) -> float:
    """Messages per second from ``clients`` processes sending ``per_client`` messages each
    (``how``: the raw client's mode and body, see ``_raw_client``)."""
    host, port = address
    procs = [
        subprocess.Popen(
            [sys.executable, RAW_CLIENT, host, str(port), str(size), str(per_client), *how],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(clients)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        began = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "done"
        elapsed = time.perf_counter() - began
    finally:
        for proc in procs:
            proc.wait(timeout=60)
    return clients * per_client / elapsed


def chunking() -> None:
    """(c): BDAT vs DATA for 1 MiB messages into one FakeSMTPServer, runs taking turns."""
    print("\n(c) 1 MiB messages/s into FakeSMTPServer, BDAT vs DATA (best of 7, modes taking"
          " turns), one raw-socket client process, 30 messages a run")
    modes = [("DATA", "data"), ("BDAT, 1 chunk", "bdat"), ("BDAT, 64 KiB chunks", "bdat:65536")]
    with FakeSMTPServer() as server:
        for body in ("plain", "dots"):
            best = [0.0] * len(modes)
            for _ in range(7):
                for i, (_, mode) in enumerate(modes):
                    best[i] = max(best[i], throughput(server.address, MIB, 1, 30, mode, body))
                    expected = make_message(MIB, body == "dots")
                    assert all(m.raw == expected for m in server.outbox), "capture differs"
                    server.reset()
            label = "78-byte lines" if body == "plain" else "every line starts with a dot"
            print(f"  {label}:")
            for (name, _), rate in zip(modes, best, strict=True):
                print(f"    {name:<20} {rate:7.1f} msg/s (MiB/s)  {rate / best[0]:5.2f}x DATA")


def main() -> None:
    if sys.argv[1:] == ["chunking"]:
        chunking()
        return
    print(f"Python {sys.version.split()[0]}, {sys.platform}")
    print("\n(a) start+stop, median")
    fake_ms, ctrl_ms = median_ms([fake_cycle, controller_cycle], 200)
    with FakeSMTPServer():  # keep the loop thread up: the warm case a test suite sees
        [warm_ms] = median_ms([fake_cycle], 200)
    for label, ms in (("cold loop thread", fake_ms), ("warm loop thread", warm_ms)):
        print(f"  FakeSMTPServer ({label}) {ms:8.3f} ms  ({ctrl_ms / ms:5.1f}x faster)")
    print(f"  aiosmtpd Controller               {ctrl_ms:8.3f} ms")

    print("\n(b) messages/s (best of 5 for 1 KiB, 3 for 1 MiB; servers taking turns),"
          " raw-socket client processes")
    cases = [(KIB, 1, 3000), (KIB, 8, 400), (MIB, 1, 60), (MIB, 8, 10)]
    targets = {KIB: 0.9, MIB: 2.0}
    print(f"  {'size':>5} {'clients':>7} {'aiosmtpd sink':>14} {'smtpfake':>10} {'ratio':>6}"
          f" {'+3 rules':>10} {'ratio':>6}  target")
    with ExitStack() as stack:
        addresses = [stack.enter_context(aiosmtpd_sink()), stack.enter_context(fake(False)),
                     stack.enter_context(fake(True))]
        for size, clients, per_client in cases:
            best = [0.0, 0.0, 0.0]
            for _ in range(5 if size == KIB else 3):
                for i, address in enumerate(addresses):
                    rate = throughput(address, size, clients, per_client)
                    best[i] = max(best[i], rate)
                for server, rules in servers:  # drop the captured mail, keep the rules
                    server.reset()
                    if rules:
                        _add_rules(server)
            sink, plain, ruled = best
            label = "1 KiB" if size == KIB else "1 MiB"
            mb = ""
            if size == MIB:
                mb = f"  ({plain * size / MIB:.0f} vs {sink * size / MIB:.0f} MB/s)"
            print(f"  {label:>5} {clients:>7} {sink:>14.0f} {plain:>10.0f} {plain / sink:>5.2f}x"
                  f" {ruled:>10.0f} {ruled / sink:>5.2f}x  >= {targets[size]}x{mb}")
    chunking()


if __name__ == "__main__":
    main()

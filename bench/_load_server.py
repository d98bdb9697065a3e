"""The load benchmark's server: one FakeSMTPServer in its own process, driven over stdin/stdout.

Started by bench/load.py, one process per measured client library (so each run's peak memory is
its own). It refuses every recipient whose address starts with ``refused`` (550 5.1.1), prints
``{"port": ..., "rss_kib": ...}`` once listening, then answers one JSON line per command:

- ``report``: every captured message as ``[mail_from, rcpt_tos, sha256(raw), len(raw)]``, the
  number of sessions, the process's peak RSS in KiB (VmHWM on Linux) and its CPU seconds;
- ``quit`` (or end of input): stop the server and exit.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import sys

from smtpfake import FakeSMTPServer


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB: VmHWM on Linux (ru_maxrss there also counts the parent's
    RSS at fork, kept across exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    with FakeSMTPServer() as server:
        server.on("RCPT", re.compile(r"^refused")).reply(550, "5.1.1 No such user (load test)")
        hello = {"port": server.port, "rss_kib": _peak_rss_kib(), "cpu": _cpu_seconds()}
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "report":
                cpu = _cpu_seconds()  # before hashing the captures
                server.check()
                captured = [
                    [m.mail_from, list(m.rcpt_tos), hashlib.sha256(m.raw).hexdigest(), len(m.raw)]
                    for m in server.outbox
                ]
                report = {
                    "captured": captured,
                    "sessions": len(server.sessions),
                    "peak_rss_kib": _peak_rss_kib(),
                    "cpu": cpu,
                }
                print(json.dumps(report), flush=True)
            elif command == "quit":
                break


if __name__ == "__main__":
    main()

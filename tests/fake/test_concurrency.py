"""Many clients at once: every message is captured, none lost, none mixed up."""

from __future__ import annotations

import smtplib
import threading

from smtpfake import FakeSMTPServer


def test_many_threads_sending_at_once_lose_nothing() -> None:
    threads, per_thread = 16, 5
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def send(n: int) -> None:
        try:
            start.wait(timeout=5)
            with smtplib.SMTP(*server.address, timeout=5) as client:
                for i in range(per_thread):
                    client.sendmail(
                        f"t{n}@example.com", [f"r{n}-{i}@example.com"],
                        f"Subject: {n}-{i}\r\n\r\n" + f"thread {n} message {i}\r\n" * 50,
                    )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    with FakeSMTPServer() as server:
        workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert errors == []
        captured = server.wait_for(threads * per_thread, timeout=10)
    assert len(captured) == threads * per_thread
    subjects = {m.subject for m in captured}
    assert subjects == {f"{n}-{i}" for n in range(threads) for i in range(per_thread)}
    for m in captured:
        n, i = m.subject.split("-")
        assert m.mail_from == f"t{n}@example.com"
        assert m.rcpt_tos == (f"r{n}-{i}@example.com",)
        assert m.text == f"thread {n} message {i}\n" * 50
    assert len(server.sessions) == threads


def test_many_open_connections_interleaved(wire) -> None:
    with FakeSMTPServer() as server:
        clients = [wire(server.address) for _ in range(50)]
        for client in clients:
            assert client.reply()[0] == 220
        for step in ("HELO me", "MAIL FROM:<a@example.com>"):
            for client in clients:
                assert client.cmd(step)[0] == 250
        for n, client in enumerate(clients):
            assert client.cmd(f"RCPT TO:<r{n}@example.com>")[0] == 250
        for client in clients:
            assert client.cmd("DATA")[0] == 354
        for n, client in enumerate(reversed(clients)):
            assert client.cmd(f"Subject: {n}\r\n\r\nbody\r\n.")[0] == 250
        server.wait_for(50)
        assert sorted(int(m.subject) for m in server.outbox) == list(range(50))
        assert len(server.sessions) == 50

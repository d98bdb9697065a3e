"""The plugin in other processes: under pytest-xdist, and without the fake server's dependencies."""

from __future__ import annotations

from pathlib import Path

import pytest

# The suite runs from an editable install of this checkout (the README's test command).
CHECKOUT = Path(__file__).resolve().parents[2]


def test_xdist_workers_have_their_own_servers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import os
        import pytest

        def environment():
            return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

        BEFORE = environment()   # before any fixture, session-scoped ones included

        @pytest.fixture(autouse=True)
        def environment_untouched():
            yield
            assert environment() == BEFORE
        """
    )
    tests = """
        import smtplib
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_send(smtp_server, smtps_server, smtp_client_context, worker_id, n):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.sendmail("a@example.com", [f"{n}@example.com"], "Subject: x\\r\\n\\r\\nx")
            with smtplib.SMTP_SSL("localhost", smtps_server.port, context=smtp_client_context) as c:
                c.noop()
            smtp_server.assert_sent(1, to=f"{n}@example.com")
            with open(f"ports-{worker_id}.txt", "a") as log:
                log.write(f"{smtp_server.port} {smtps_server.port}\\n")

        @pytest.mark.smtpfake(users={"u": "p"})
        def test_own_server(smtp_server):
            with smtplib.SMTP(*smtp_server.address) as client:
                client.login("u", "p")
    """
    pytester.makepyfile(tests)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    logs = sorted(pytester.path.glob("ports-gw*.txt"))
    assert [log.name for log in logs] == ["ports-gw0.txt", "ports-gw1.txt"]
    ports = [set(log.read_text().splitlines()) for log in logs]
    # Each worker reused its session servers for every test, and the workers shared nothing.
    assert all(len(worker_ports) == 1 for worker_ports in ports)
    assert ports[0] != ports[1]


@pytest.mark.parametrize("missing", ["aiosmtpd", "trustme"])
def test_without_the_fake_servers_dependencies(pytester: pytest.Pytester, missing: str) -> None:
    # Simulates an application that installed only the client: a package of the missing name on
    # the inner run's path (pytester puts its directory first on PYTHONPATH) fails to import
    # exactly as an absent one does. smtpdfix's plugin needs aiosmtpd, so it is disabled, as it
    # would not be installed either.
    pytester.makepyfile(
        **{
            f"{missing}/__init__.py": (
                f"raise ModuleNotFoundError(\"No module named '{missing}'\", name='{missing}')"
            )
        }
    )
    pytester.makepyfile(
        test_app="""
        import sys

        def test_plugin_loaded_without_the_server():
            assert "pytest_smtpfake.plugin" in sys.modules
            assert "smtpfake" not in sys.modules and "aiosmtpd" not in sys.modules

        def test_uses_the_fixture(smtp_server):
            pass

        def test_uses_the_redirect(smtp_redirect):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:smtpd", "-p", "no:cacheprovider")
    if missing == "trustme":  # only TLS needs it: a plain server works, the redirect (TLS) not
        result.assert_outcomes(passed=2, errors=1)
    else:
        result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            f"*the smtpfake fixtures need the fake server's dependencies, but '{missing}' cannot "
            f"be imported (ModuleNotFoundError: No module named '{missing}'). "
            "Install them from the smtpclient checkout (the package is not on PyPI): "
            f"pip install -e '{CHECKOUT}[[]fake]'"  # [[] is fnmatch for [
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()

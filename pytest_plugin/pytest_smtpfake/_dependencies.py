"""Import the fake server only when a fixture needs it, and say what to install if that fails.

pytest imports every registered plugin at start-up, so this plugin must load with pytest alone:
an application that installed only the client (no aiosmtpd, no trustme) keeps a working pytest,
and only a test that asks for a fake server learns what is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

# smtpfake's own dependencies are imported first, so a missing one is named even when smtpfake
# would only import it later. trustme (and with it ``cryptography``, some 30 ms to import) is
# needed only for TLS, so it is asked for only by what needs the test CA (``require_tls``): a
# suite of plain SMTP tests never imports it, and runs without it installed.
_REQUIRED = ("aiosmtpd", "smtpfake")
_TLS_REQUIRED = ("trustme",)


def _import_or_fail(names: tuple[str, ...]) -> ModuleType:
    """Import ``names`` in order and return the last, or fail the calling fixture with a hint."""
    problem: str | None = None
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            problem = f"{exc.name or name!r} cannot be imported ({type(exc).__name__}: {exc})"
            break
    if problem is not None:  # failed outside the except block: the chained import error is noise
        pytest.fail(
            f"the smtpfake fixtures need the fake server's dependencies, but {problem}. "
            f"Install them from the smtpclient checkout (the package is not on PyPI): "
            f"{_install_hint()}",
            pytrace=False,
        )
    return module


def import_smtpfake() -> ModuleType:
    """Return the ``smtpfake`` module, or fail the calling fixture with an install hint."""
    return _import_or_fail(_REQUIRED)


def require_tls() -> None:
    """Make sure the test CA can be built (trustme), or fail the calling fixture with a hint."""
    _import_or_fail(_TLS_REQUIRED)


def _install_hint() -> str:
    # smtpfake ships in the same distribution as this plugin and imports without its extra.
    from smtpfake._install import install_hint

    return install_hint()

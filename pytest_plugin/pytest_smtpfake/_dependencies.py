"""Import the fake server only when a fixture needs it, and say what to install if that fails.

pytest imports every registered plugin at start-up, so this plugin must load with pytest alone:
an application that installed only the client (no aiosmtpd, no trustme) keeps a working pytest,
and only a test that asks for a fake server learns what is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

INSTALL_HINT = "pip install 'smtpclient[fake]'"

# smtpfake's own dependencies are imported first, so a missing one is named even when smtpfake
# would only import it later (at server start).
_REQUIRED = ("aiosmtpd", "trustme", "smtpfake")


def import_smtpfake() -> ModuleType:
    """Return the ``smtpfake`` module, or fail the calling fixture with an install hint."""
    problem: str | None = None
    for name in _REQUIRED:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            problem = f"{exc.name or name!r} cannot be imported ({type(exc).__name__}: {exc})"
            break
    if problem is not None:  # failed outside the except block: the chained import error is noise
        pytest.fail(
            f"the smtpfake fixtures need the fake server's dependencies, but {problem}. "
            f"Install them with: {INSTALL_HINT}",
            pytrace=False,
        )
    return module

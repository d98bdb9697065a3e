"""The plugin's public names, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import pytest_smtpfake


def test_all_is_pinned() -> None:
    assert pytest_smtpfake.__all__ == ["Connection", "Redirect"]
    assert all(hasattr(pytest_smtpfake, name) for name in pytest_smtpfake.__all__)


def test_plugin_imports_without_the_fake_server() -> None:
    # A fresh interpreter: the plugin module must not pull in smtpfake, aiosmtpd or trustme.
    code = (
        "import sys, pytest_smtpfake.plugin; "
        "print(sorted(m for m in ('smtpfake', 'aiosmtpd', 'trustme') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"

"""nox: the whole test suite on every supported Python (3.10, 3.11, 3.12, 3.13).

Run ``nox`` for all four, ``nox -p 3.13`` for one; arguments after ``--`` go to pytest. Each
session installs the project (editable, with its test extra) in its own virtual environment
under ``.nox/`` and runs pytest there, so the compatibility suite compares the client with the
smtplib of that Python. A Python that is not installed is skipped, and nox says so
("Python interpreter 3.X not found"); ``.ci/run`` runs the interpreters that its README
command did not.

pyenv's shims only run the versions ``pyenv global`` names, so the interpreters pyenv has
installed are put first on PATH for nox to find (the newest patch release of each).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
# Skip a missing interpreter with nox's message instead of failing (nox fails by default when
# the CI variable is set).
nox.options.error_on_missing_interpreters = False


def _release(path: Path) -> tuple[int, ...]:
    """``(3, 10, 13)`` for ``.../versions/3.10.13/bin``; ``()`` for anything else."""
    parts = path.parent.name.split(".")
    return tuple(int(part) for part in parts) if all(p.isdigit() for p in parts) else ()


def _pyenv_interpreters_first() -> None:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = []
    for python in PYTHONS:
        candidates = [p for p in root.glob(f"versions/{python}.*/bin") if _release(p)]
        if candidates:
            found.append(str(max(candidates, key=_release)))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_pyenv_interpreters_first()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite (client, compatibility with this Python's smtplib, fake, plugin)."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)

"""smtpfake's use of aiosmtpd and asyncio internals: pinned, listed in one place, still there.

smtpfake relies on private parts of aiosmtpd (``smtpfake._internals.INTERNALS``), so it runs only
on the aiosmtpd versions it was tested with (the pin in ``pyproject.toml``). These tests say so
plainly when another version is installed, when a listed name is gone, and when the code starts
using a private aiosmtpd name without listing it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path

import aiosmtpd.lmtp
import aiosmtpd.smtp
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from smtpfake._internals import INTERNALS

ROOT = Path(__file__).parents[2]
SOURCES = ROOT / "src" / "smtpfake"


def pinned_aiosmtpd() -> str:
    """The aiosmtpd requirement of the ``fake`` extra in pyproject.toml (``">=1.4.4,..."``)."""
    found = re.findall(r'"aiosmtpd\s*([<>=!~][^";]*)"', (ROOT / "pyproject.toml").read_text())
    assert len(found) == 1, "pyproject.toml should name aiosmtpd once, in the fake extra"
    return found[0]


def untested(version: str, pinned: str) -> str | None:
    """Why ``version`` of aiosmtpd cannot be trusted, or None when it is a tested one."""
    if SpecifierSet(pinned).contains(Version(version), prereleases=True):
        return None
    return (
        f"aiosmtpd {version} is installed, but smtpfake is tested with aiosmtpd{pinned} only "
        f"(pyproject.toml). smtpfake relies on private aiosmtpd internals "
        f"(src/smtpfake/_internals.py), which another version may change: install a tested "
        f"version (pip install -e '.[fake]'), or run this suite on the new one and widen the pin."
    )


def test_the_installed_aiosmtpd_is_a_tested_version() -> None:
    problem = untested(importlib.metadata.version("aiosmtpd"), pinned_aiosmtpd())
    assert problem is None, problem


def test_the_pin_has_an_upper_bound() -> None:
    pinned = pinned_aiosmtpd()
    assert any(spec.operator in ("<", "<=", "==", "~=") for spec in SpecifierSet(pinned)), pinned
    # The check above refuses what lies outside the pin, with the reason and the way out.
    for outside in ("1.5.0", "2.0", "1.4.3"):
        message = untested(outside, pinned)
        assert message is not None
        assert f"aiosmtpd {outside} is installed" in message
        assert "src/smtpfake/_internals.py" in message


def _aiosmtpd_private_names() -> set[str]:
    """Every private name aiosmtpd's protocol modules define or set on their objects."""
    names: set[str] = set()
    for module in (aiosmtpd.smtp, aiosmtpd.lmtp):
        source = inspect.getsource(module)
        names.update(re.findall(r"(?:self\.|def |class )(_[A-Za-z]\w*)", source))
    return {name for name in names if not name.startswith("__")}


def test_every_private_aiosmtpd_name_smtpfake_uses_is_listed() -> None:
    private = _aiosmtpd_private_names()
    listed = {
        entry.name.split(".")[-1]
        for entry in INTERNALS
        if entry.module.startswith("aiosmtpd") and " " not in entry.name
    }
    unlisted: dict[str, list[str]] = {}
    for path in sorted(SOURCES.glob("*.py")):
        if path.name == "_internals.py":
            continue
        text = path.read_text()
        # An attribute read or set, or a method overridden in a class body.
        for name in re.findall(r"\.(_[A-Za-z]\w*)\b|^[ \t]+def (_[A-Za-z]\w*)", text, re.M):
            used = name[0] or name[1]
            if used in private and used not in listed:
                unlisted.setdefault(used, []).append(path.name)
    assert not unlisted, f"private aiosmtpd names used but not in _internals.INTERNALS: {unlisted}"


def test_asyncio_stream_buffers_are_reached_only_through_internals() -> None:
    for path in sorted(SOURCES.glob("*.py")):
        if path.name != "_internals.py":
            assert "._buffer" not in path.read_text(), path.name


def test_every_listed_internal_still_exists() -> None:
    missing = []
    for entry in INTERNALS:
        if " " in entry.name:  # a behaviour, not a name: the suite's other tests cover it
            continue
        module = importlib.import_module(entry.module)
        owner, _, attribute = entry.name.partition(".")
        if not hasattr(module, owner):
            missing.append(entry.name)
            continue
        if not attribute:
            continue
        cls = getattr(module, owner)
        set_on_instances = re.search(rf"self\.{attribute}\b", inspect.getsource(cls))
        if not hasattr(cls, attribute) and not set_on_instances:
            missing.append(entry.name)
    assert not missing, f"gone from the installed aiosmtpd/asyncio: {missing}"


def test_each_entry_says_where_and_why() -> None:
    modules = {path.stem for path in SOURCES.glob("*.py")}
    for entry in INTERNALS:
        assert entry.why
        for user in entry.used_in.split(", "):
            assert user in modules, (entry.name, user)

"""Every Python example in README.md runs on its own, block by block, as a reader copies it.

* A block with tests runs as a test module in a fresh directory (pytester), and every test it
  defines passes. A block that builds on another says so on its first line
  (``# Uses send_receipt() from "Capture and assert" above.``); the first block of the section
  it names is put in front of it, and nothing else is.
* The client's examples ("Sending mail") talk to ``mail.example.org``: each runs unchanged
  inside a test that uses ``smtp_redirect``, whose servers know the example's users.
* Any other block runs as a script.

The guide's blocks ("Testing your application") also run together as one module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

README = Path(__file__).parents[2] / "README.md"
_USES = re.compile(r'# Uses .+ from "(?P<section>[^"]+)" above\.')
_TEST = re.compile(r"^def (test_\w+)", re.MULTILINE)

# The suite's own profile for hypothesis (no deadline, derandomized): the example's behaviour
# is what is tested, not how fast a loaded machine runs a hundred examples.
_CONFTEST = """
from hypothesis import settings

settings.register_profile("docs", derandomize=True, database=None, deadline=None)
settings.load_profile("docs")
"""

# The client examples, run against the fake servers; the users are the examples' own.
_CLIENT_HARNESS = """
import pathlib
import pytest

@pytest.mark.smtpfake(users={"alice": "secret", "alice@example.org": "ya29.a0Af-token"})
def test_example(smtp_redirect):
    source = pathlib.Path("example.py").read_text()
    exec(compile(source, "example.py", "exec"), {"__name__": "__main__"})
    delivered = len(smtp_redirect.smtp.outbox) + len(smtp_redirect.lmtp.outbox)
    assert delivered >= 1, smtp_redirect.connections
"""


class Block(NamedTuple):
    line: int  # of the opening fence, 1-based
    section: str  # the closest heading above it
    source: str


def blocks() -> list[Block]:
    """Every ```python block of the README, with the section it is in."""
    found: list[Block] = []
    section = ""
    lines = README.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line == "```python":
            end = lines.index("```", index + 1)
            found.append(Block(index + 1, section, "\n".join(lines[index + 1 : end]) + "\n"))
            index = end
        index += 1
    return found


def _section_of(block: Block) -> str:
    """The level-2 section a block is in (its heading, or the one above a level-3 heading)."""
    text = README.read_text()
    upto = text[: sum(len(line) + 1 for line in text.splitlines()[: block.line])]
    return re.findall(r"^## (.+)$", upto, re.MULTILINE)[-1]


def runnable(block: Block) -> str:
    """The block's source, with the block it says it builds on put in front."""
    uses = _USES.match(block.source.splitlines()[0])
    if uses is None:
        return block.source
    base = [b for b in blocks() if b.section == uses["section"]]
    assert base, f"README line {block.line}: no section {uses['section']!r} to build on"
    return base[0].source + "\n\n" + block.source


def _run_tests(pytester: pytest.Pytester, source: str) -> None:
    tests = set(_TEST.findall(source))
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_example=source)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    passed = set(re.findall(r"::(test_\w+)(?:\[[^\]]*\])? PASSED", result.stdout.str()))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert passed == tests


@pytest.mark.parametrize("block", blocks(), ids=lambda b: f"README.md:{b.line}")
def test_each_example_runs_on_its_own(pytester: pytest.Pytester, block: Block) -> None:
    source = runnable(block)
    if _TEST.search(source):
        _run_tests(pytester, source)
    elif _section_of(block).startswith("Sending mail"):
        pytester.makepyfile(example=source)
        _run_tests(pytester, _CLIENT_HARNESS)
    else:
        script = pytester.makepyfile(example=source)
        result = pytester.runpython(script)
        assert result.ret == 0, result.stderr.str()


def test_every_kind_of_example_is_covered() -> None:
    # The README has client examples, scripts and test modules, and blocks building on others.
    found = blocks()
    assert sum(1 for b in found if _section_of(b).startswith("Sending mail")) >= 2
    assert sum(1 for b in found if _TEST.search(b.source)) >= 8
    assert sum(1 for b in found if _USES.match(b.source.splitlines()[0])) >= 2


def guide() -> str:
    """The README section "Testing your application", up to the next level-2 heading."""
    text = README.read_text()
    start = text.index("\n## Testing your application\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_guide_examples_pass_together(pytester: pytest.Pytester) -> None:
    blocks_ = re.findall(r"```python\n(.*?)```", guide(), re.DOTALL)
    assert len(blocks_) >= 8
    source = "\n\n".join(blocks_)
    tests = _TEST.findall(source)
    assert len(tests) == len(set(tests)), "example test names must be unique"
    _run_tests(pytester, source)


def test_install_lines_name_a_checkout_not_pypi() -> None:
    # The project is not on PyPI: "pip install smtpclient" would install nothing of ours.
    for doc in (README, *(README.parent / "docs").glob("*.md")):
        assert not re.search(r"pip install '?smtpclient", doc.read_text()), doc.name
    assert "not on PyPI" in README.read_text()

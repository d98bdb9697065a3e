"""The examples in README.md's "Testing your application" run as one module, and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"


def guide() -> str:
    """The README section "Testing your application", up to the next level-2 heading."""
    text = README.read_text()
    start = text.index("\n## Testing your application\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_guide_examples_pass(pytester: pytest.Pytester) -> None:
    blocks = re.findall(r"```python\n(.*?)```", guide(), re.DOTALL)
    assert len(blocks) >= 8
    source = "\n\n".join(blocks)
    tests = re.findall(r"^def (test_\w+)", source, re.MULTILINE)
    assert len(tests) == len(set(tests)), "example test names must be unique"
    pytester.makepyfile(test_guide=source)
    result = pytester.runpytest("-q")
    phases = 6  # test_hang_up runs once for each of six phases
    result.assert_outcomes(passed=len(tests) - 1 + phases)

"""The examples in docs/testing.md run, as one downstream test module, and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "testing.md"


def test_guide_examples_pass(pytester: pytest.Pytester) -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert len(blocks) >= 8
    source = "\n\n".join(blocks)
    tests = re.findall(r"^def (test_\w+)", source, re.MULTILINE)
    assert len(tests) == len(set(tests)), "example test names must be unique"
    pytester.makepyfile(test_guide=source)
    result = pytester.runpytest("-q")
    phases = 6  # test_hang_up runs once for each of six phases
    result.assert_outcomes(passed=len(tests) - 1 + phases)

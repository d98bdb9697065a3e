"""Compatibility suite: smtpclient against the standard library's smtplib as the oracle."""

import pytest

# The comparisons live in the harness; have pytest explain them (it rewrites test modules only).
pytest.register_assert_rewrite(f"{__name__}._harness")

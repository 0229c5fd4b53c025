"""Pytest fixtures shared by the unit tests; the builders they use live in ``tests/unit/builders.py``."""

from __future__ import annotations

import pytest

from tests.unit.builders import Clock


@pytest.fixture
def clock() -> Clock:
    """A fake clock at 2026-11-23T14:00:00Z that the test moves by hand."""
    return Clock()

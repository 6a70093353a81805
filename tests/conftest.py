"""Shared fixtures: the bundled example, and the tests folder on sys.path for `helpers` and
`oracle` (the modules of shared helpers and independent oracles)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import EXAMPLE  # noqa: E402


@pytest.fixture(scope="session")
def example() -> Path:
    """The bundled example folder."""
    return EXAMPLE

"""Shared fixtures for the nlp tests (no Django, no shared/data needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import veille.nlp  # noqa: F401
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


@pytest.fixture(scope="session")
def analyzer():
    from veille.nlp.analyzer import get_analyzer

    return get_analyzer()

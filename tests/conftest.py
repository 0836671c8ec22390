"""Shared fixtures for the RadQA test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = (REPO_ROOT / ".." / "shared" / "reference" / "data").resolve()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference data directory (published datasets); skip the test where it is absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"reference data directory {REFERENCE_DIR} is absent; "
            "tests against published numbers run only inside the workplace"
        )
    return REFERENCE_DIR

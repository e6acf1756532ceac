"""Fixtures for the eval tests: BFCL's data from the installed ``bfcl-eval`` (``make setup``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bfcl_reference import package_dir

from agents.eval.bfcl_data import BfclData


@pytest.fixture(scope="session")
def bfcl_dir() -> Path:
    """The installed ``bfcl_eval`` package folder (its ``data`` holds every case and answer)."""
    return package_dir()


@pytest.fixture(scope="session")
def bfcl(bfcl_dir: Path) -> BfclData:
    """BFCL's data read from the installed package."""
    return BfclData(bfcl_dir)

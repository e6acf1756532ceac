"""Fixtures for the model-layer tests: real wire recordings from ``tests/fixtures/wire``."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

WIRE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "wire"


def load_wire(name: str) -> dict[str, Any]:
    """One recorded exchange by file name (see ``tests/fixtures/wire/README.md``)."""
    data: dict[str, Any] = json.loads((WIRE_DIR / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def wire() -> Callable[[str], dict[str, Any]]:
    """A loader: ``wire("ollama-chat_….json")`` returns that recording as a dict."""
    return load_wire


@contextmanager
def _within(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_hang() -> Callable[[], AbstractContextManager[None]]:
    """``with no_hang(): ...`` fails instead of hanging after 20 s.

    A guard against quadratic or catastrophic-backtracking behaviour on hostile input, not a
    benchmark: the measured cases take well under a second.
    """
    return lambda: _within(20)

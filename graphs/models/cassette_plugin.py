"""Pytest plugin (entry point ``qwengraph``): cassettes for users' own tests.

::

    def test_answer(qwen_cassette):
        with qwen_cassette("answer.json"):   # tests/cassettes/answer.json, next to this test file
            assert "391" in run_my_agent()

Names resolve relative to a ``cassettes/`` folder beside the test file (absolute paths are kept);
without a name the test's own name is used. Tests replay by default, so they need no server; run
``pytest --qwen-record`` once against a live server to (re)record every cassette used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graphs.models.cassette import Recorder, Replayer, cassette

CassetteFactory = Callable[..., Recorder | Replayer]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--qwen-record``."""
    parser.getgroup("qwengraph").addoption(
        "--qwen-record",
        action="store_true",
        default=False,
        help="record qwen_cassette cassettes against the live model server instead of replaying them",
    )


@pytest.fixture
def qwen_cassette(request: pytest.FixtureRequest) -> CassetteFactory:
    """Open a cassette by name: replayed by default, recorded with ``--qwen-record``."""
    recording = bool(request.config.getoption("--qwen-record"))
    folder = Path(request.node.path).parent / "cassettes"

    def open_cassette(name: str | None = None, *, meta: dict[str, Any] | None = None) -> Recorder | Replayer:
        if name is None:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + ".json"
        path = Path(name) if Path(name).is_absolute() else folder / name
        meta = {"test": request.node.nodeid, **(meta or {})}
        return cassette(path, mode="record" if recording else "replay", meta=meta)

    return open_cassette

"""LangChain's standard integration suite on the real local model, replayed from recordings.

Every test replays its own cassette from ``cassettes/local/`` (recorded on this project's machine
from Qwen2.5-Coder-1.5B on llama.cpp, greedy decoding): replay needs neither llama.cpp nor the
weights, and a prompt that changed fails with a diff. Re-record after a change that alters what the
model is sent (rendered prompt, sampling, grammar)::

    .venv/bin/pytest tests/standard/test_integration_local.py --qwen-record

The same suite runs live on the engine with ``pytest -m live tests/standard``
(``test_integration_local_live.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_suite import LocalSuite

from graphs.models.cassette import record, replay

CASSETTES = Path(__file__).parent / "cassettes" / "local"


@pytest.fixture(autouse=True)
def _cassette(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + ".json"
    path = CASSETTES / name
    if request.config.getoption("--qwen-record"):
        monkeypatch.delenv("QWENGRAPH_HOME")  # the installed models live in the default home
        with record(path, meta={"test": request.node.nodeid, "model": "qwen2.5-coder-1.5b"}):
            yield
        return
    if not path.exists():
        pytest.fail(f"no recording {path.name}: record it with --qwen-record on a machine with the model")
    with replay(path, ordered=False):  # batch calls run concurrently: match requests, not order
        yield


class TestLocalModelReplayed(LocalSuite):
    pass

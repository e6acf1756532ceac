"""Real ``qwengraph run --model transformers:<0.5B GGUF>`` runs, replayed offline through the CLI.

The cassettes in ``cassettes/transformers/`` were recorded by ``tests/bench/record_transformers.py``:
the real CLI, Qwen2.5-Coder-0.5B's GGUF file loaded through Hugging Face Transformers on this
project's machine, answering calculator word problems. Replay needs neither torch nor the weights
(the local transport serves the recorded completions for the exact rendered prompts) and the
calculator really runs again. The live counterpart is in ``tests/models/test_transformers_live.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli import app

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from record_transformers import RUNS, command

CASSETTES = sorted((Path(__file__).parent / "cassettes" / "transformers").glob("*.json"))


def test_every_run_was_recorded() -> None:
    names = {p.stem for p in CASSETTES}
    for name, (_, _, streams) in RUNS.items():
        assert {f"{name}_{'stream' if s else 'nostream'}" for s in streams} <= names


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_the_replayed_cli_run_matches_the_live_one(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = json.loads(path.read_text())["meta"]
    assert meta["model"].startswith("transformers:") and meta["model"].endswith("qwen2.5-coder-0.5b.gguf")
    monkeypatch.setitem(sys.modules, "torch", None)  # replay must not need torch
    args = command(
        meta["prompt"], meta["model"], graph=meta["graph"], stream=meta["stream"], cassette=path, replay=True
    )
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == meta["result"], "the replay reproduces the live run, tool results included"
    if meta["graph"] == "react":  # the first call is forced: the calculator really computes it
        assert out["tool_calls"] and {c["name"] for c in out["tool_calls"]} == {"calculator"}
        assert all(c["args"] == {"expression": "17*23"} and c["result"] == "391" for c in out["tool_calls"])
        assert "391" in out["answer"]
    else:  # the default (worked) graph: this 0.5B model wrote Python with an output block of its own
        assert out["tool_calls"] == [] and "```output\n36.0\n```" in out["answer"]
        assert "\\boxed{36}" in out["answer"]  # $45 less 20%, right without a tool

"""A real BFCL sample on the local Qwen2.5-Coder-1.5B, replayed offline: the same scores again.

``tests/cassettes/bfcl/`` was recorded by ``tests/bench/bfcl_local.py --record`` on this project's
machine (llama.cpp, Q4_K_M): every completion of both readings, with the live run's scores in the
cassette's metadata. Replaying needs neither llama.cpp nor the weights, and re-scores every case.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agents.cli import app
from agents.eval.recording import load_folder
from agents.eval.store import EvalStore

FOLDER = Path(__file__).resolve().parents[1] / "cassettes" / "bfcl"


def replayed(tmp_path: Path, bfcl_dir: Path, monkeypatch) -> dict:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))  # no installed model, no fetched wheel
    db = tmp_path / "evals.db"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "bfcl",
            "--replay",
            str(FOLDER),
            "--data",
            str(bfcl_dir),
            "--db",
            str(db),
            "--json",
            "-c",
            "4",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_recording_is_a_real_sample_of_every_named_category() -> None:
    meta = load_folder(FOLDER).meta
    config = meta["qwengraph_eval"]["config"]
    assert config["model"] == "local:qwen2.5-coder-1.5b"
    assert set(config["categories"]) >= {
        "simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
        "live_simple", "live_multiple", "live_irrelevance",
    }  # fmt: skip
    cases = sum(c["readings"]["qwengraph"]["cases"] for c in meta["result"]["categories"])
    assert cases >= 40


def test_replaying_gives_the_recorded_scores(tmp_path, bfcl_dir, monkeypatch) -> None:
    out = replayed(tmp_path, bfcl_dir, monkeypatch)
    recorded = load_folder(FOLDER).meta["result"]
    assert out["summary"] == recorded["summary"]
    for got, want in zip(out["categories"], recorded["categories"], strict=True):
        assert got["category"] == want["category"]
        assert got["readings"] == want["readings"], got["category"]
    store = EvalStore(tmp_path / "evals.db")
    cases = store.cases(store.list_runs()[0].id)
    assert all(c.raw_output or c.category.endswith("irrelevance") for c in cases)


def test_the_recorded_scores(tmp_path, bfcl_dir, monkeypatch) -> None:
    """The figures the README quotes for this sample (qwengraph's reading against the harness's)."""
    summary = replayed(tmp_path, bfcl_dir, monkeypatch)["summary"]
    assert summary == RECORDED_SUMMARY


RECORDED_SUMMARY: dict = {  # qwengraph's reading, --tool-guide, 5 cases per category, seed 13
    "non-live AST": {"qwengraph": 40.0},
    "live AST": {"qwengraph": 50.0},
    "irrelevance": {"qwengraph": 80.0},
    "all cases": {"qwengraph": 52.5},
}

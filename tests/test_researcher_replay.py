"""The researcher on the embedded local model (Qwen2.5-Coder-1.5B on llama.cpp), replayed offline.

``cassettes/researcher/refund_*.json`` were recorded by ``tests/bench/record_researcher.py`` from live
runs on this project's machine: ``qwengraph run --agent researcher "What is the refund policy?"``
over ``tests/fixtures/docs``. Replay needs neither llama.cpp nor the weights; the search really
runs again over a freshly built index (hybrid: BM25 + the bundled embedder), and so does the
citation check, so a change in what the model is shown or in how citations are checked fails here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.agent_run import run_agent
from agents.cli import app
from graphs.models.cassette import replay
from tools.retrieval import Index

HERE = Path(__file__).parent
DOCS = HERE / "fixtures" / "docs"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home with no model installed, the documents in ``docs/``, indexed into ``index.db``."""
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))
    shutil.copytree(DOCS, tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    with Index(tmp_path / "index.db") as index:
        index.ingest([tmp_path / "docs"])
    return tmp_path


@pytest.mark.parametrize("stream", [True, False])
def test_the_researcher_quotes_the_refund_policy_with_a_checked_citation(stream: bool, workdir: Path) -> None:
    path = HERE / "cassettes" / "researcher" / f"refund_{'stream' if stream else 'nostream'}.json"
    meta = json.loads(path.read_text())["meta"]
    with replay(path):
        result = run_agent(
            "researcher", meta["prompt"], model=meta["model"], stream=stream, db=workdir / "index.db"
        )
    assert result.to_json() == meta["result"], "the replay reproduces the live run"
    (search,) = result.tool_calls
    assert search.args == {"query": "What is the refund policy?"}
    assert search.result.startswith("[1] docs/billing.py:19-28 (class RefundPolicy)\n")
    assert "full refund within 30 days" in search.result  # the whole passage, not a snippet
    assert result.answer.startswith('Quote: "Customers get a full refund within 30 days of delivery."')
    assert "(docs/billing.py:19-28)" in result.answer
    assert result.citations == {
        "verified": True,
        "checks": [{"citation": "docs/billing.py:19-28", "ok": True, "problem": "", "quote": ""}],
    }
    assert result.steps == 1


def test_the_cli_replays_it_too(workdir: Path) -> None:
    path = HERE / "cassettes" / "researcher" / "refund_stream.json"
    args = [
        "run",
        "--agent",
        "researcher",
        "What is the refund policy?",
        "--model",
        "local:qwen2.5-coder-1.5b",
    ]
    args += ["--db", str(workdir / "index.db"), "--replay", str(path), "--json", "--no-trace"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "full refund within 30 days" in out["answer"] and out["citations"]["verified"] is True


def test_the_terminal_shows_the_search_then_the_checked_answer_whole(workdir: Path) -> None:
    path = HERE / "cassettes" / "researcher" / "refund_stream.json"
    args = [
        "run",
        "--agent",
        "researcher",
        "What is the refund policy?",
        "--model",
        "local:qwen2.5-coder-1.5b",
    ]
    args += ["--db", str(workdir / "index.db"), "--replay", str(path), "--no-trace"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert out.startswith('→ search({"query": "What is the refund policy?"}) = [1] docs/billing.py:19-28')
    assert out.count("Customers get a full refund within 30 days of delivery.") == 3  # passage, quote, answer
    assert 'Quote: "Customers get a full refund within 30 days of delivery." (docs/billing.py:19-28)' in out

"""``qwengraph trace browse``: the traces in Datasette, checked in a real headless Chromium
(a screenshot and the DOM), plus the canned queries' SQL on its own."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Turn, VLLMServer, message_text
from servers.processes import free_port, python, serve
from typer.testing import CliRunner

from agents.cli import app
from graphs.memory.trace_store import default_db_path
from graphs.memory.trace_views import CANNED_QUERIES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def script(body: dict) -> Turn:
    """Two calculator calls: a malformed one (a tool failure in the trace), then a good one."""
    results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
    if not results:
        return Turn(thinking="Let me compute it.", tool_calls=[("calculator", {"expression": "17*"})])
    if len(results) == 1:
        return Turn(
            thinking="Oops, fix the expression.", tool_calls=[("calculator", {"expression": "17*23"})]
        )
    return Turn(thinking="Done.", content=f"It is {results[-1]}.")


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    """A traces.db holding one real run (loopback model, calculator, one failed tool call)."""
    with VLLMServer(script) as model:
        result = CliRunner().invoke(
            app,
            ["run", "17*23?", "--model", "openai:Qwen/Qwen3-8B", "--base-url", model.base_url, "--json"],
        )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["answer"] == "It is 391."
    return default_db_path()


def test_canned_queries_answer_over_a_real_trace(traces: Path) -> None:
    db = sqlite3.connect(traces)
    db.row_factory = sqlite3.Row
    rows = {q.name: [dict(r) for r in db.execute(q.sql)] for q in CANNED_QUERIES}
    assert [r["kind"] for r in rows["slowest_calls"]].count("model") == 3
    assert [r["what"] for r in rows["slowest_calls"] if r["kind"] == "tool"] == ["calculator", "calculator"]
    durations = [r["duration_ms"] for r in rows["slowest_calls"]]
    assert durations == sorted(durations, reverse=True)
    assert [r["model"] for r in rows["tokens_per_second_by_model"]] == ["openai:Qwen/Qwen3-8B"]
    assert rows["tokens_per_second_by_model"][0]["calls"] == 3
    assert rows["tokens_per_second_by_model"][0]["tokens_per_s"] > 0
    assert [(r["name"], r["error"]) for r in rows["tool_failures"]] == [("calculator", "tool_error")]
    (run,) = rows["thinking_tokens_per_run"]
    assert run["model_calls"] == 3 and run["thinking_chars"] == len(
        "Let me compute it.Oops, fix the expression.Done."
    )


def test_browse_without_traces_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["trace", "browse", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no traces at") and "Traceback" not in result.stderr


@pytest.fixture
def browsing(traces: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve([python(), "-m", "agents", "trace", "browse", "--db", str(traces), "--port", str(port)], url):
        yield url


def chromium(args: list[str], profile: Path) -> str:
    done = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_the_trace_browser_in_a_real_chromium(traces: Path, browsing: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed here (apt-get install chromium; .ci/run installs it)")
    before = hashlib.sha256(traces.read_bytes()).hexdigest()

    shot = tmp_path / "traces.png"
    chromium(["--window-size=1280,900", f"--screenshot={shot}", f"{browsing}/traces"], tmp_path / "p1")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one

    index = chromium(["--dump-dom", f"{browsing}/traces"], tmp_path / "p2")
    for query in CANNED_QUERIES:
        assert f'href="/traces/{query.name}"' in index and query.title in index
    for table in ("runs", "model_calls", "tool_calls"):
        assert f'href="/traces/{table}"' in index

    failures = chromium(["--dump-dom", f"{browsing}/traces/tool_failures"], tmp_path / "p3")
    assert ">Tool failures</h1>" in failures
    assert failures.count(">calculator<") == 1 and ">tool_error<" in failures

    per_run = chromium(["--dump-dom", f"{browsing}/traces/thinking_tokens_per_run"], tmp_path / "p4")
    assert ">Thinking tokens per run</h1>" in per_run and "Qwen/Qwen3-8B" in per_run

    assert hashlib.sha256(traces.read_bytes()).hexdigest() == before  # browsing wrote nothing

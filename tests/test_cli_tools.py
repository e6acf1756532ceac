"""``qwengraph run --tools``: the agent really runs code in the sandbox and searches ingested docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import Turn, VLLMServer, message_text
from typer.testing import CliRunner

from agents.cli import app
from tools.code_runner.bwrap import bwrap_usable

FIB = "a, b = 0, 1\nfor _ in range(40):\n    a, b = b, a + b\nprint(a)"


def fib_script(body: dict) -> Turn:
    """A model that writes code, then answers only with what the sandbox printed."""
    results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
    if not results:
        return Turn(thinking="I'll compute it with Python.", tool_calls=[("run_python", {"code": FIB})])
    printed = [line for line in results[-1].splitlines() if line.strip().isdigit()]
    return Turn(content=f"The 40th Fibonacci number is {printed[0] if printed else 'unknown'}.")


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.skipif(bwrap_usable() is not None, reason=f"bubblewrap is not usable here: {bwrap_usable()}")
def test_fibonacci_is_computed_by_running_code() -> None:
    with VLLMServer(fib_script) as server:
        result = cli(
            "run",
            "What is the 40th Fibonacci number? Compute it with Python.",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            server.base_url,
            "--tools",
            "run_python",
            "--json",
        )
        tools_offered = [t["function"]["name"] for t in server.chat_requests[0]["tools"]]
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert tools_offered == ["run_python"]
    assert out["answer"] == "The 40th Fibonacci number is 102334155."
    assert out["tool_calls"][0]["name"] == "run_python" and "102334155" in out["tool_calls"][0]["result"]


def test_search_tool_cites_an_ingested_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    docs = Path(__file__).parent / "fixtures" / "docs"
    assert cli("ingest", str(docs)).exit_code == 0

    def script(body: dict) -> Turn:
        results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
        if not results:
            return Turn(tool_calls=[("search", {"query": "refund policy"})])
        return Turn(content="See: " + results[-1].splitlines()[0])

    with VLLMServer(script) as server:
        args = [
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            server.base_url,
            "--tools",
            "search",
            "--json",
        ]
        result = cli("run", "What is the refund policy?", *args)
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)["answer"]
    assert answer.startswith("See: [1] ") and "billing.py:" in answer


@pytest.mark.parametrize(
    ("tools", "phrase"),
    [
        ("calculator,web", "unknown tool web"),
        (",", "unknown tool (none)"),
        ("search", "run `qwengraph ingest"),
    ],
)
def test_bad_tools_are_one_line_errors(tools: str, phrase: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    result = cli("run", "hi", "--model", "ollama:q", "--tools", tools)
    assert result.exit_code == 2
    assert phrase in result.stderr and "Traceback" not in result.stderr


def test_run_and_agents_search_the_index_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--index NAME`` / ``--db FILE`` choose what ``search`` reads; the default index is not used."""
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    docs = Path(__file__).parent / "fixtures" / "docs"
    assert cli("ingest", str(docs / "api.rst"), "--index", "api").exit_code == 0
    assert cli("ingest", str(docs / "notes.txt"), "--db", str(tmp_path / "notes.db")).exit_code == 0

    def script(body: dict) -> Turn:
        results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
        if not results:
            return Turn(tool_calls=[("search", {"query": "token expire"})])
        return Turn(content="See: " + results[-1].splitlines()[0])

    with VLLMServer(script) as server:
        common = ["--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url, "--json"]
        named = cli("run", "When do tokens expire?", "--tools", "search", "--index", "api", *common)
        other = cli(
            "run", "When do tokens expire?", "--tools", "search", "--db", str(tmp_path / "notes.db"), *common
        )
        missing = cli("run", "When do tokens expire?", "--tools", "search", *common)
    assert json.loads(named.stdout)["answer"].startswith("See: [1] ") and "api.rst:" in named.stdout
    assert "do not contain" in json.loads(other.stdout)["tool_calls"][0]["result"]  # notes.db has no tokens
    assert (
        missing.exit_code == 2 and "no document index" in missing.stderr
    )  # the default index was never made

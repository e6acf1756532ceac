"""``qwengraph trace list | show | stats`` on traces recorded in a temporary QWENGRAPH_HOME."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from agents.cli_trace import trace_app
from graphs.memory.traces import recording_trace
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.react import build_react
from tools import calculator


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    return tmp_path


def record(store_content=False):
    turns = [turn(tool=("calculator", {"expression": "17*23"})), turn("It is [b]391[/b].")]
    graph = build_react(ChatQwen(model="ollama:q", transport=ScriptedTransport(turns)), [calculator])
    with recording_trace(store_content=store_content) as recorder:
        graph.invoke(
            {"messages": [HumanMessage(content="What is 17*23?")], "steps": 0}, {"callbacks": [recorder]}
        )
    return recorder.run_id


def invoke(*args):
    return CliRunner().invoke(trace_app, list(args))


def test_list_is_empty_before_any_run(home):
    result = invoke("list")
    assert result.exit_code == 0 and "no runs recorded yet" in result.output
    assert json.loads(invoke("list", "--json").output) == []


def test_list_table_and_json(home):
    first, second = record(), record()
    result = invoke("list")
    assert result.exit_code == 0 and first in result.output and second in result.output
    runs = json.loads(invoke("list", "--json", "--limit", "1").output)
    assert [r["run_id"] for r in runs] == [second]
    assert runs[0]["model_calls"] == 2 and runs[0]["tool_calls"] == 1 and runs[0]["outcome"] == "ok"


def test_show_tree_hides_content_by_default(home):
    run_id = record()
    result = invoke("show", run_id[:8])
    assert result.exit_code == 0
    assert "calculator" in result.output and "finish=stop" in result.output and "sha256:" in result.output
    assert "17*23" not in result.output
    data = json.loads(invoke("show", run_id, "--json").output)
    assert data["run"]["run_id"] == run_id
    assert [c["kind"] for c in data["calls"]] == ["model", "tool", "model"]


def test_show_tree_with_stored_content_prints_it_literally(home):
    run_id = record(store_content=True)
    result = invoke("show", run_id)
    assert '{"expression": "17*23"}' in result.output
    assert "It is [b]391[/b]." in result.output  # markup in content is escaped, not rendered


def test_show_unknown_run_is_one_line_on_stderr(home):
    record()
    result = invoke("show", "nope")
    assert result.exit_code != 0
    assert result.stderr.strip().count("\n") == 0 and "no run 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_stats_table_and_json(home):
    record()
    record()
    figures = json.loads(invoke("stats", "--json").output)
    assert figures["runs"] == 2 and figures["model_calls"] == 4 and figures["tool_calls"] == 2
    assert figures["prompt_tokens"] == 40 and figures["tool_error_rate"] == 0.0
    result = invoke("stats")
    assert result.exit_code == 0 and "tool error rate" in result.output and "p95" in result.output


def test_db_option_reads_another_file(home, tmp_path_factory):
    record()
    other = tmp_path_factory.mktemp("other") / "t.db"
    assert json.loads(invoke("list", "--json", "--db", str(other)).output) == []

"""Run traces: a scripted ReAct run is recorded to SQLite and read back by the queries."""

from __future__ import annotations

import hashlib
import time

import pytest
import sqlite_utils
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from graphs.errors import GraphError, MemoryError_, TraceNotFound
from graphs.memory.trace_query import get_run, list_runs, percentile, stats
from graphs.memory.traces import TraceRecorder, recording_trace
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.models.transports.base import Usage
from graphs.react import build_react
from tools import calculator

PROMPT = "What is 17*23?"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def calculator_turns():
    first = turn(thinking="Use the calculator.", tool=("calculator", {"expression": "17*23"}))
    first.usage = Usage(prompt_tokens=40, completion_tokens=12, thinking_tokens=7)
    second = turn("17 × 23 = 391.")
    second.finish_reason = "length"
    second.usage = Usage(prompt_tokens=60, completion_tokens=9)
    return [first, second]


def run_graph(db, turns, tools=(calculator,), **recorder_kwargs):
    model = ChatQwen(model="ollama:q", transport=ScriptedTransport(turns))
    graph = build_react(model, list(tools))
    with recording_trace(db, **recorder_kwargs) as recorder:
        for _ in graph.stream(
            {"messages": [HumanMessage(content=PROMPT)], "steps": 0}, config={"callbacks": [recorder]}
        ):
            pass
    return recorder


def rows(db, table):
    return list(sqlite_utils.Database(db)[table].rows_where(order_by="seq" if table != "runs" else None))


def test_a_run_records_model_calls_tool_calls_and_hashes(tmp_path):
    db = tmp_path / "traces.db"
    recorder = run_graph(db, calculator_turns(), meta={"agent": "test"})
    (run,) = rows(db, "runs")
    assert run["run_id"] == recorder.run_id
    assert run["outcome"] == "ok" and run["model"] == "ollama:q"
    assert run["prompt_sha256"] == sha(PROMPT) and run["prompt_chars"] == len(PROMPT)
    assert run["prompt"] is None and run["answer"] is None
    assert run["answer_sha256"] == sha("17 × 23 = 391.")
    assert '"agent": "test"' in run["meta"]
    models = rows(db, "model_calls")
    assert [(m["prompt_tokens"], m["completion_tokens"], m["thinking_tokens"]) for m in models] == [
        (40, 12, 7),
        (60, 9, None),
    ]
    assert [m["finish_reason"] for m in models] == ["stop", "length"]
    assert all(m["latency_ms"] >= 0 and m["node"] == "call_model" for m in models)
    assert models[0]["thinking_chars"] == len("Use the calculator.")
    (call,) = rows(db, "tool_calls")
    assert call["name"] == "calculator" and call["outcome"] == "ok" and call["duration_ms"] >= 0
    assert call["args"] is None and call["args_sha256"] == sha('{"expression": "17*23"}')
    assert call["result"] is None and call["result_chars"] == 3
    assert [models[0]["seq"], call["seq"], models[1]["seq"]] == sorted(
        [models[0]["seq"], call["seq"], models[1]["seq"]]
    )
    raw = db.read_bytes()
    assert b"17*23" not in raw and PROMPT.encode() not in raw


def test_store_content_keeps_text(tmp_path):
    db = tmp_path / "traces.db"
    run_graph(db, calculator_turns(), store_content=True)
    (run,) = rows(db, "runs")
    assert run["prompt"] == PROMPT and run["answer"] == "17 × 23 = 391." and run["store_content"] == 1
    (call,) = rows(db, "tool_calls")
    assert call["args"] == '{"expression": "17*23"}' and call["result"] == "391"


def test_tool_errors_are_recorded(tmp_path):
    @tool
    def explode(x: int) -> str:
        """Always fails."""
        raise RuntimeError("secret detail")

    db = tmp_path / "traces.db"
    turns = [turn(tool=("explode", {"x": 1})), turn(tool=("calculator", {"expression": "1/0"})), turn("no")]
    run_graph(db, turns, tools=(explode, calculator))
    boom, division = rows(db, "tool_calls")
    assert (boom["outcome"], boom["error"], boom["error_message"]) == ("error", "RuntimeError", None)
    assert division["outcome"] == "error" and division["error"] == "tool_error"
    assert stats(db).tool_error_rate == 1.0


def test_a_run_that_raises_still_writes_its_trace(tmp_path):
    db = tmp_path / "traces.db"
    with pytest.raises(GraphError, match="past the script"):
        run_graph(db, [turn(tool=("calculator", {"expression": "2+2"}))])
    (run,) = rows(db, "runs")
    assert run["outcome"] == "error" and run["error"] == "GraphError" and run["ended_at"]
    first, failed = rows(db, "model_calls")
    assert first["error"] is None and first["completion_tokens"] == 5
    assert failed["error"] == "GraphError" and failed["prompt_tokens"] is None
    assert len(rows(db, "tool_calls")) == 1


def test_body_error_outside_the_graph_marks_the_run(tmp_path):
    db = tmp_path / "traces.db"
    with pytest.raises(KeyError), recording_trace(db, prompt="hi", model="ollama:x"):
        raise KeyError("x")
    (run,) = rows(db, "runs")
    assert (run["outcome"], run["error"], run["model"]) == ("error", "KeyError", "ollama:x")


def test_flush_failure_is_a_note_on_the_original_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="boom") as caught, recording_trace(blocker / "traces.db"):
        raise ValueError("boom")
    assert any("trace was not written" in note for note in caught.value.__notes__)


def test_flush_is_incremental_and_retries_after_a_failure(tmp_path):
    db = tmp_path / "traces.db"
    recorder = TraceRecorder(db)
    model = ChatQwen(model="ollama:q", transport=ScriptedTransport([turn("a"), turn("b")]))
    model.invoke("one", config={"callbacks": [recorder]})
    recorder.flush()
    model.invoke("two", config={"callbacks": [recorder]})
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    recorder.db_path = blocker / "traces.db"
    with pytest.raises(MemoryError_, match="cannot write trace"):
        recorder.flush()
    recorder.db_path = db
    recorder.flush()
    recorder.flush()
    assert len(rows(db, "model_calls")) == 2
    assert len(rows(db, "runs")) == 1


def test_queries_list_show_and_stats(tmp_path):
    db = tmp_path / "traces.db"
    first = run_graph(db, calculator_turns())
    time.sleep(0.002)  # distinct start times
    second = run_graph(db, [turn("hello")])
    listed = list_runs(db)
    assert [r["run_id"] for r in listed] == [second.run_id, first.run_id]
    assert (listed[1]["model_calls"], listed[1]["tool_calls"], listed[1]["tokens"]) == (2, 1, 121)
    assert len(list_runs(db, limit=1)) == 1
    trace = get_run(first.run_id[:8], db)
    assert [c["kind"] for c in trace.calls] == ["model", "tool", "model"]
    assert trace.calls[1]["name"] == "calculator"
    figures = stats(db)
    assert (figures.runs, figures.runs_ok, figures.model_calls, figures.tool_calls) == (2, 2, 3, 1)
    assert (figures.prompt_tokens, figures.completion_tokens, figures.thinking_tokens) == (110, 26, 7)
    assert figures.tool_error_rate == 0.0
    assert figures.latency_p50_ms is not None and figures.latency_p50_ms <= figures.latency_p95_ms
    with pytest.raises(TraceNotFound):
        get_run("nope", db)


def test_queries_on_a_missing_database(tmp_path):
    db = tmp_path / "none.db"
    assert list_runs(db) == []
    assert stats(db).runs == 0
    with pytest.raises(TraceNotFound, match="no traces recorded yet"):
        get_run("x", db)
    assert not db.exists()


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 95) == 95.0


def test_default_path_is_under_qwengraph_home(tmp_path, monkeypatch):
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    assert TraceRecorder().db_path == tmp_path / "traces.db"

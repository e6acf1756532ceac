"""``agents.batch`` in process against a loopback server: every output, resume, retries, threads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from batch_support import MODEL, prompts_asked, write_tasks
from langchain_core.utils.function_calling import convert_to_openai_tool
from servers import VLLMServer

from agents.batch import BatchConfig, run_batch_file
from agents.batch.results import open_results
from agents.warm import AgentChoice
from graphs.errors import ConfigError
from graphs.memory.trace_store import default_db_path
from tools import calculator

TASKS = [
    {"id": "calc", "prompt": "calc: What is 17*23?"},
    *({"id": f"q{i}", "prompt": f"question {i}"} for i in range(5)),
]


def config(server: VLLMServer, tasks: Path, **options: object) -> BatchConfig:
    choice = options.pop("choice", AgentChoice(model=MODEL, base_url=server.base_url))
    return BatchConfig(
        tasks=tasks, choice=choice, results=f"sqlite:///{tasks.parent / 'results.db'}", **options
    )  # type: ignore[arg-type]


def test_every_task_is_recorded_in_the_database_the_jsonl_and_the_traces(
    server: VLLMServer, tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", TASKS)
    report, exported = run_batch_file(config(server, tasks, concurrency=3))
    assert exported is None
    assert (report.total, report.skipped, report.ran, report.counts) == (
        6,
        0,
        6,
        {"ok": 6, "stopped": 0, "failed": 0},
    )
    assert report.batch_counts == {"ok": 6}

    lines = [json.loads(line) for line in (tmp_path / "tasks.results.jsonl").read_text().splitlines()]
    assert [row["id"] for row in lines] == [t["id"] for t in TASKS]  # one line per task, file order
    calc = lines[0]
    assert calc["status"] == "ok" and calc["answer"] == "17 × 23 = 391."
    assert calc["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]
    assert calc["steps"] == 2 and calc["input_tokens"] > 0 and calc["output_tokens"] > 0
    assert calc["total_tokens"] == calc["input_tokens"] + calc["output_tokens"]
    assert calc["seconds"] > 0 and calc["started_at"] <= calc["ended_at"] and calc["attempts"] == 1
    assert calc["model"] == MODEL and ":" in calc["worker"]
    assert lines[3]["answer"] == "answer to question 2" and lines[3]["tool_calls"] == []

    with sqlite3.connect(default_db_path()) as db:  # each task's run is a trace, found by its id
        traces = dict(db.execute("SELECT run_id, outcome FROM runs").fetchall())
        tool_rows = db.execute("SELECT name FROM tool_calls WHERE run_id = ?", (calc["trace_id"],)).fetchall()
    assert {row["trace_id"] for row in lines} == set(traces) and set(traces.values()) == {"ok"}
    assert tool_rows == [("calculator",)]

    store = open_results(config(server, tasks).results)
    try:
        rows = store.rows(report.batch)
    finally:
        store.close()
    assert [r["task_id"] for r in rows] == [t["id"] for t in TASKS]
    assert json.loads(rows[0]["trajectory"])["messages"][0]["data"]["content"] == "calc: What is 17*23?"


def test_a_rerun_skips_done_tasks_and_retry_failed_runs_only_the_failed(
    server: VLLMServer, tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", TASKS[1:])
    server.fail_next(2, 400)  # two tasks meet a server error; the others must not notice
    report, _ = run_batch_file(config(server, tasks, concurrency=1))
    assert report.counts == {"ok": 3, "stopped": 0, "failed": 2}
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "tasks.results.jsonl").read_text().splitlines())}
    failed = sorted(i for i, r in rows.items() if r["status"] == "failed")
    assert failed == ["q0", "q1"]
    assert rows["q0"]["error_type"] == "ServerError" and "400" in rows["q0"]["error"]

    asked = len(server.chat_requests)
    again, _ = run_batch_file(config(server, tasks, concurrency=1))
    assert (again.skipped, again.ran, len(server.chat_requests)) == (5, 0, asked)  # nothing redone
    assert again.batch_counts == {"ok": 3, "failed": 2}

    retried, _ = run_batch_file(config(server, tasks, concurrency=2, retry_failed=True))
    assert (retried.skipped, retried.ran, retried.counts["ok"]) == (3, 2, 2)
    assert sorted(prompts_asked(server, asked)) == ["question 0", "question 1"]
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "tasks.results.jsonl").read_text().splitlines())}
    assert len(rows) == 5 and {r["status"] for r in rows.values()} == {"ok"}
    assert (rows["q0"]["attempts"], rows["q2"]["attempts"]) == (2, 1)


def test_tasks_on_a_thread_run_in_order_and_see_the_earlier_turns(server: VLLMServer, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "tasks.jsonl",
        [
            {"id": "a", "prompt": "my name is Ann", "thread": "s1"},
            {"id": "x", "prompt": "unrelated"},
            {"id": "b", "prompt": "what is my name?", "thread": "s1"},
        ],
    )
    report, _ = run_batch_file(config(server, tasks, concurrency=4, memory="memory://"))
    assert report.counts["ok"] == 3
    second = next(b for b in server.chat_requests if b["messages"][-1]["content"] == "what is my name?")
    turns = [(m["role"], m["content"]) for m in second["messages"] if m["role"] != "system"]
    assert turns == [
        ("user", "my name is Ann"),
        ("assistant", "answer to my name is Ann"),
        ("user", "what is my name?"),
    ]


def test_export_writes_the_successful_trajectories_as_chatml(server: VLLMServer, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", TASKS[:3])
    server.fail_next(1, 400)  # the first request: the calc task fails (concurrency 1, file order)
    report, exported = run_batch_file(config(server, tasks, concurrency=1, export="chatml-jsonl"))
    assert report.counts["failed"] == 1 and exported is not None
    examples = [json.loads(x) for x in (tmp_path / "tasks.chatml.jsonl").read_text().splitlines()]
    assert (exported.written, exported.left_out, len(examples)) == (2, 0, 2)
    assert examples[0] == {
        "messages": [
            {"role": "user", "content": "question 0"},
            {"role": "assistant", "content": "answer to question 0"},
        ],
        "tools": [],
    }

    retried, exported = run_batch_file(config(server, tasks, retry_failed=True, export="chatml-jsonl"))
    assert retried.ran == 1 and exported is not None and exported.written == 3
    calc = json.loads((tmp_path / "tasks.chatml.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in calc["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert calc["messages"][1]["tool_calls"][0]["function"] == {
        "name": "calculator",
        "arguments": '{"expression": "17*23"}',
    }
    assert calc["tools"] == [convert_to_openai_tool(calculator)]


def test_a_rerun_with_other_settings_is_refused(server: VLLMServer, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", TASKS[1:2])
    run_batch_file(config(server, tasks))
    other = AgentChoice(model="openai:Qwen/Qwen3-32B", base_url=server.base_url)
    with pytest.raises(ConfigError, match=r"was started with model='openai:Qwen/Qwen3-8B'.*--batch NAME"):
        run_batch_file(config(server, tasks, choice=other))
    report, _ = run_batch_file(config(server, tasks, choice=other, batch="second"))  # its own name: fine
    assert report.skipped == 0


def test_a_bad_agent_fails_before_any_task(server: VLLMServer, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", TASKS[1:2])
    with pytest.raises(ConfigError, match="unknown agent 'nope'"):
        run_batch_file(config(server, tasks, choice=AgentChoice(agent="nope", model=MODEL)))
    assert server.chat_requests == []


def test_a_workflow_batch_takes_each_tasks_variables_as_inputs(tmp_path: Path) -> None:
    flow = Path(__file__).resolve().parents[2] / "notebooks" / "workflows" / "squares_report.yaml"
    tasks = write_tasks(
        tmp_path / "tasks.jsonl",
        [{"id": "a", "variables": {"numbers": [2, 3]}}, {"id": "b", "variables": {"colour": "red"}}],
    )
    cfg = BatchConfig(tasks=tasks, workflow=str(flow), results="memory://", concurrency=2)
    report, _ = run_batch_file(cfg)
    assert report.counts == {"ok": 1, "stopped": 0, "failed": 1}
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "tasks.results.jsonl").read_text().splitlines())}
    assert json.loads(rows["a"]["answer"])["sum"] == "13"
    assert "unknown input 'colour'" in rows["b"]["error"]

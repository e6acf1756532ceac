"""Approval interrupts and durable runs: a run killed with SIGKILL resumes without repeating tools."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.react import build_react
from tools import calculator

RUN = {"configurable": {"thread_id": "t1"}}


def approval_graph(*turns):
    fake = ScriptedTransport(list(turns))
    graph = build_react(
        ChatQwen(model="ollama:q", transport=fake),
        [calculator],
        approve=["calculator"],
        checkpointer=InMemorySaver(),
    )
    return graph, fake


def start(graph):
    graph.invoke({"messages": [HumanMessage("What is 17*23?")], "steps": 0}, RUN)
    return graph.get_state(RUN)


def test_approval_interrupts_before_the_tool_runs_then_approve():
    graph, fake = approval_graph(turn(tool=("calculator", {"expression": "17*23"})), turn("391"))
    state = start(graph)
    (pending,) = state.interrupts
    assert pending.value == {
        "type": "approve_tool_call",
        "name": "calculator",
        "args": {"expression": "17*23"},
        "id": pending.value["id"],
    }
    assert len(fake.requests) == 1, "the model is not called again until the decision"
    graph.invoke(Command(resume={"action": "approve"}), RUN)
    messages = graph.get_state(RUN).values["messages"]
    assert [m.content for m in messages if isinstance(m, ToolMessage)] == ["391"]
    assert messages[-1].text == "391"


def test_reject_tells_the_model_and_edit_changes_the_arguments():
    graph, fake = approval_graph(turn(tool=("calculator", {"expression": "17*23"})), turn("ok"))
    start(graph)
    graph.invoke(Command(resume={"action": "reject", "reason": "not now"}), RUN)
    tool_message = fake.requests[1].messages[-1]
    assert tool_message["role"] == "tool"
    assert "rejected this calculator call (not now)" in tool_message["content"]

    graph, fake = approval_graph(turn(tool=("calculator", {"expression": "17*23"})), turn("ok"))
    start(graph)
    graph.invoke(Command(resume={"action": "edit", "args": {"expression": "18*23"}}), RUN)
    assert fake.requests[1].messages[-1]["content"] == "414"


def test_approval_needs_an_offered_tool():
    with pytest.raises(ValueError, match="not offered: run_python"):
        build_react(
            ChatQwen(model="ollama:q", transport=ScriptedTransport([])), [calculator], approve=["run_python"]
        )


def test_results_stay_in_call_order_when_calls_run_in_parallel():
    @tool
    def slow(x: int) -> str:
        """Sleeps x tenths of a second, then echoes x."""
        time.sleep(x / 10)
        return f"slow {x}"

    fake = ScriptedTransport(
        [turn(tools=[("slow", {"x": 3}), ("slow", {"x": 1}), ("slow", {"x": 2})]), turn("done")]
    )
    graph = build_react(ChatQwen(model="ollama:q", transport=fake), [slow])
    state = graph.invoke({"messages": [HumanMessage("go")], "steps": 0})
    assert [m.content for m in state["messages"] if isinstance(m, ToolMessage)] == [
        "slow 3",
        "slow 1",
        "slow 2",
    ]


SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from langchain_core.messages import HumanMessage
    from langchain_core.tools import tool
    from graphs.memory import open_checkpointer
    from graphs.models.chat import ChatQwen
    from graphs.models.testing import ScriptedTransport, turn
    from graphs.react import build_react

    work = sys.argv[1]

    def log(line):
        with open(os.path.join(work, "log.txt"), "a") as f:
            f.write(line + "\\n")

    @tool
    def fast(x: int) -> str:
        \"\"\"Records that it ran.\"\"\"
        log(f"fast {x}")
        return f"fast done {x}"

    @tool
    def slow(x: int) -> str:
        \"\"\"Starts, waits, then finishes (the test kills the process while it waits).\"\"\"
        log(f"slow start {x}")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        log(f"slow end {x}")
        return f"slow done {x}"

    def script(request):
        tools = [m for m in request.messages if m["role"] == "tool"]
        if not tools:
            return turn(tools=[("fast", {"x": 1}), ("slow", {"x": 2})])
        return turn("results: " + ", ".join(sorted(m["content"] for m in tools)))

    model = ChatQwen(model="ollama:q", transport=ScriptedTransport(script))
    # the project's own SQLite settings (WAL, synchronous=NORMAL): a SIGKILL must lose nothing committed
    with open_checkpointer("sqlite:///" + os.path.join(work, "threads.db")) as saver:
        graph = build_react(model, [fast, slow], checkpointer=saver)
        config = {"configurable": {"thread_id": "job"}}
        if sys.argv[2] == "start":
            state = graph.invoke({"messages": [HumanMessage("go")], "steps": 0}, config, durability="sync")
        else:
            state = graph.invoke(None, config, durability="sync")
    print(json.dumps(state["messages"][-1].text))
    """
)


def run_script(work: Path, mode: str, slow_seconds: str, **popen) -> subprocess.Popen[str]:
    env = {**os.environ, "SLOW_SECONDS": slow_seconds, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(work), mode], env=env, stdout=subprocess.PIPE, text=True, **popen
    )


def fast_result_saved(db: Path) -> bool:
    """True once the checkpointer holds the fast tool's pending write."""
    if not db.exists():
        return False
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute("SELECT value FROM writes WHERE channel = 'messages'").fetchall()
        except sqlite3.OperationalError:
            return False
    return any(b"fast done 1" in bytes(row[0]) for row in rows)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_clean_answer_without_repeating_a_finished_tool(tmp_path: Path):
    clean = tmp_path / "clean"
    clean.mkdir()
    expected, _ = run_script(clean, "start", "0").communicate(timeout=60)

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    proc = run_script(crashed, "start", "30")
    log = crashed / "log.txt"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "slow start" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.05)
    while time.monotonic() < deadline and not fast_result_saved(crashed / "threads.db"):
        time.sleep(0.05)  # the fast tool's task write must be in the checkpoint before the kill
    assert fast_result_saved(crashed / "threads.db"), "the finished tool's result was never saved"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert "slow end" not in log.read_text()

    resumed, _ = run_script(crashed, "resume", "0").communicate(timeout=60)
    assert json.loads(resumed) == json.loads(expected) == "results: fast done 1, slow done 2"
    lines = log.read_text().splitlines()
    assert lines.count("fast 1") == 1, lines
    assert lines.count("slow start 2") == 2 and lines.count("slow end 2") == 1, lines

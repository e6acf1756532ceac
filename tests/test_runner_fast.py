"""The runner's fast path: graphs compiled once, nodes off LangGraph's thread pool, events in order."""

from __future__ import annotations

import subprocess
import sys
import threading

from langchain_core.tools import tool

from agents.arunner import astream
from agents.run_core import GRAPHS
from agents.runner import Event, run
from graphs.build import NamedGraph
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from tools import calculator

REACT = NamedGraph("react")


def model_with(script):
    fake = ScriptedTransport(script)
    return ChatQwen(model="ollama:q", transport=fake), fake


def tool_then_answer(request):
    """Calls the calculator until a result is back, then answers with it (thinking in pieces)."""
    results = [m["content"] for m in request.messages if m["role"] == "tool"]
    if not results:
        return turn(
            thinking="I will use the calculator now.", tool=("calculator", {"expression": "17*23"}), pieces=3
        )
    return turn(f"It is {results[-1]}.", thinking="The tool answered.", pieces=3)


def kinds(events: list[Event]) -> list[str]:
    out: list[str] = []
    for event in events:
        if not out or out[-1] != event.kind:
            out.append(event.kind)
    return out


def test_runs_reuse_one_compiled_graph_per_model_and_tools() -> None:
    llm, _ = model_with(tool_then_answer)
    misses = GRAPHS.misses
    answers = [
        run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False).answer for _ in "abc"
    ]
    assert answers == ["It is 391."] * 3
    assert GRAPHS.misses == misses + 1, "three runs, one compilation"
    quiet = [
        run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, stream=False, trace=False) for _ in "ab"
    ]
    assert [q.answer for q in quiet] == ["It is 391."] * 2
    assert GRAPHS.misses == misses + 2, "runs without streaming share one non-streaming copy of the model"


def test_stream_flag_reaches_the_server() -> None:
    llm, fake = model_with(tool_then_answer)
    run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False)
    run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False, stream=False)
    assert [r.stream for r in fake.requests] == [True, True, False, False]


def test_model_calls_run_in_the_callers_thread_not_a_pool() -> None:
    threads: list[str] = []

    def script(request):
        threads.append(threading.current_thread().name)
        return tool_then_answer(request)

    llm, _ = model_with(script)
    events: list[Event] = []
    run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False, on_event=events.append)
    assert threads == [threading.current_thread().name] * 2, "no node went to LangGraph's thread pool"


def test_events_stream_in_order_with_tool_calls_and_results() -> None:
    llm, _ = model_with(tool_then_answer)
    events: list[Event] = []
    run("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False, on_event=events.append)
    assert kinds(events) == ["thinking", "tool_call", "tool", "thinking", "text", "summary"]
    assert len([e for e in events if e.kind == "thinking"]) > 2, "thinking arrives piece by piece"
    (call,) = [e for e in events if e.kind == "tool_call"]
    (result,) = [e for e in events if e.kind == "tool"]
    assert (call.name, call.args) == ("calculator", {"expression": "17*23"})
    assert (result.name, result.args, result.text) == ("calculator", {"expression": "17*23"}, "391")
    assert "".join(e.text for e in events if e.kind == "text") == "It is 391."


def test_a_note_written_by_the_graph_is_shown_too() -> None:
    @tool
    def again(x: int) -> str:
        """Returns x."""
        return str(x)

    llm, _ = model_with(lambda request: turn(tool=("again", {"x": len(request.messages)})))
    events: list[Event] = []
    summary = run(
        "loop", chat_model=llm, tools=[again], spec=REACT, trace=False, max_steps=2, on_event=events.append
    )
    assert summary.stopped == "step_limit"
    shown = "".join(e.text for e in events if e.kind == "text")
    assert "Stopped after 2 model calls" in shown


async def test_astream_yields_model_pieces_while_the_run_goes_on() -> None:
    llm, _ = model_with(tool_then_answer)
    seen: list[Event] = []
    async for event in astream("17*23?", chat_model=llm, tools=[calculator], spec=REACT, trace=False):
        seen.append(event)
    assert kinds(seen) == ["thinking", "tool_call", "tool", "thinking", "text", "summary"]
    assert len([e for e in seen if e.kind == "text"]) > 1, "the answer arrives in pieces, not at the end"
    assert seen[-1].summary is not None and seen[-1].summary.answer == "It is 391."


def test_importing_the_runner_leaves_what_a_run_may_not_need_unloaded() -> None:
    """The ollama client, the retrieval index, sqlite-utils (with numpy), sympy and aiohttp load when
    a run uses them, not with ``import agents.runner`` (a cold start of the CLI and of scripts)."""
    heavy = ["ollama", "tools.retrieval.index", "sqlite_utils", "numpy", "sympy", "aiohttp", "pypdf"]
    code = f"import sys, agents.runner; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]"

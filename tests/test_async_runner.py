"""``arun`` and ``astream``: the async runner API, against the loopback servers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from servers import CALC_ANSWER, OllamaServer, Turn, VLLMServer, message_text

from agents.arunner import arun, astream
from agents.run_core import Event
from agents.runner import run
from graphs.errors import ConfigError
from graphs.memory import aopen_checkpointer, open_checkpointer
from graphs.models.chat import ChatQwen
from graphs.summary import RunSummary
from tools import calculator


def llm(server: OllamaServer | VLLMServer) -> ChatQwen:
    if isinstance(server, OllamaServer):
        return ChatQwen(model="ollama:qwen3:8b", base_url=server.url)
    return ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=f"{server.url}/v1")


@pytest.mark.parametrize("kind", ["ollama", "vllm"])
async def test_astream_yields_thinking_calls_results_text_then_the_summary(kind: str) -> None:
    with OllamaServer() if kind == "ollama" else VLLMServer() as server:
        events = [e async for e in astream("What is 17*23?", chat_model=llm(server), trace=False)]
    kinds = [e.kind for e in events]
    assert kinds[-1] == "summary" and kinds.count("summary") == 1
    order = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]  # runs of one kind
    assert order == ["thinking", "tool_call", "tool", "thinking", "text", "summary"]
    call = next(e for e in events if e.kind == "tool_call")
    assert (call.name, call.args) == ("calculator", {"expression": "17*23"})
    result = next(e for e in events if e.kind == "tool")
    assert (result.name, result.text) == ("calculator", "391")
    assert "".join(e.text for e in events if e.kind == "text") == CALC_ANSWER
    summary = events[-1].summary
    assert isinstance(summary, RunSummary) and summary.answer == CALC_ANSWER and summary.steps == 2


async def test_the_sync_and_async_runners_report_the_same_events() -> None:
    with OllamaServer() as server:
        sync_events: list[Event] = []
        run("What is 17*23?", chat_model=llm(server), on_event=sync_events.append, trace=False)
        async_events = [e async for e in astream("What is 17*23?", chat_model=llm(server), trace=False)]
    assert async_events == sync_events  # the summary is compared by kind and text


async def test_arun_returns_the_summary_and_awaits_an_async_handler() -> None:
    seen: list[str] = []

    async def handler(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.kind)

    with OllamaServer() as server:
        summary = await arun("What is 17*23?", chat_model=llm(server), on_event=handler, trace=False)
    assert summary.answer == CALC_ANSWER and summary.tool_calls[0].result == "391"
    assert seen[-1] == "summary" and "tool" in seen


async def test_async_tools_run_on_the_event_loop_and_sync_tools_in_a_thread() -> None:
    loop_thread = threading.get_ident()
    where: dict[str, int] = {}

    @tool
    async def forecast(city: str) -> str:
        """The forecast for a city."""
        where["forecast"] = threading.get_ident()
        await asyncio.sleep(0)
        return f"sunny in {city}"

    @tool
    def population(city: str) -> str:
        """The population of a city."""
        where["population"] = threading.get_ident()
        return "2.1 million"

    def script(body: dict[str, Any]) -> Turn:
        if any(m["role"] == "tool" for m in body["messages"]):
            results = [message_text(m.get("content")) for m in body["messages"] if m["role"] == "tool"]
            return Turn(content="; ".join(results))
        return Turn(tool_calls=[("forecast", {"city": "Paris"}), ("population", {"city": "Paris"})])

    with OllamaServer(script) as server:
        summary = await arun("Paris?", chat_model=llm(server), tools=[forecast, population], trace=False)
    assert summary.answer == "sunny in Paris; 2.1 million"
    assert where["forecast"] == loop_thread
    assert where["population"] != loop_thread


async def test_many_runs_share_one_event_loop() -> None:
    with OllamaServer() as server:
        summaries = await asyncio.gather(
            *(arun("What is 17*23?", chat_model=llm(server), trace=False) for _ in range(5))
        )
    assert [s.answer for s in summaries] == [CALC_ANSWER] * 5
    assert len(server.chat_requests) == 10


async def test_threads_and_async_approvals(tmp_path) -> None:
    decisions: list[str] = []

    async def approver(request: dict[str, Any]) -> dict[str, Any]:
        decisions.append(request["name"])
        return {"action": "approve"}

    async with aopen_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        with OllamaServer() as server:
            options = {"chat_model": llm(server), "checkpointer": saver, "thread": "t1", "trace": False}
            summary = await arun("What is 17*23?", approve=["calculator"], approver=approver, **options)
        state = await saver.aget_tuple({"configurable": {"thread_id": "t1"}})
    assert decisions == ["calculator"] and summary.answer == CALC_ANSWER
    assert state is not None and len(state.checkpoint["channel_values"]["messages"]) == 4


async def test_a_sync_only_checkpointer_is_refused_with_a_clear_message(tmp_path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver, OllamaServer() as server:
        with pytest.raises(ConfigError, match="aopen_checkpointer"):
            await arun("What is 17*23?", chat_model=llm(server), checkpointer=saver, thread="t", trace=False)


async def test_the_async_runner_traces_like_the_sync_one(tmp_path, monkeypatch) -> None:
    from graphs.memory.trace_query import list_runs

    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    with OllamaServer() as server:
        await arun("What is 17*23?", chat_model=llm(server), tools=[calculator])
    (listed,) = list_runs(tmp_path / "traces.db")
    assert listed["model_calls"] == 2 and listed["tool_calls"] == 1


async def test_a_failed_async_run_leaves_the_thread_as_it_was() -> None:
    saver = InMemorySaver()
    with OllamaServer() as server:
        model = llm(server)
        server.fail_next(1)
        with pytest.raises(Exception, match="HTTP 503"):
            await arun(
                "What is 17*23?",
                chat_model=model.model_copy(update={"retries": 1}),
                checkpointer=saver,
                thread="x",
                trace=False,
            )
        assert await saver.aget_tuple({"configurable": {"thread_id": "x"}}) is None
        summary = await arun("What is 17*23?", chat_model=model, checkpointer=saver, thread="x", trace=False)
        state = await saver.aget_tuple({"configurable": {"thread_id": "x"}})
    assert summary.answer == CALC_ANSWER
    assert state is not None
    humans = [m for m in state.checkpoint["channel_values"]["messages"] if m.type == "human"]
    assert [m.text for m in humans] == ["What is 17*23?"]

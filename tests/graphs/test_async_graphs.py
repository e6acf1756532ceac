"""Every graph runs under ainvoke without executor threads: the model and async tools are awaited
on the event loop, sync tools run in the shared tool pool; results and approvals as under invoke."""

from __future__ import annotations

import asyncio
import threading

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.plan_execute import build_plan_execute
from graphs.react import build_react
from graphs.worked import build_worked
from tools import calculator

RUN = {"configurable": {"thread_id": "t1"}}


def recording(*turns):
    """A scripted model that notes the thread each request was made in."""
    threads: list[str] = []
    script = list(turns)

    def answer(request):
        threads.append(threading.current_thread().name)
        return script[len(threads) - 1]

    return ChatQwen(model="ollama:q", transport=ScriptedTransport(answer)), threads


async def test_react_awaits_the_model_and_async_tools_and_pools_sync_tools() -> None:
    seen: dict[str, str] = {}

    @tool
    async def lookup(key: str) -> str:
        """Looks a key up."""
        seen["lookup"] = threading.current_thread().name
        await asyncio.sleep(0)
        return f"value of {key}"

    @tool
    def shout(text: str) -> str:
        """Shouts."""
        seen["shout"] = threading.current_thread().name
        return text.upper()

    model, threads = recording(
        turn(tools=[("lookup", {"key": "a"}), ("shout", {"text": "hi"}), ("lookup", {"key": "b"})]),
        turn("done"),
    )
    state = await build_react(model, [lookup, shout]).ainvoke({"messages": [HumanMessage("go")], "steps": 0})
    loop_thread = threading.current_thread().name
    assert threads == [loop_thread, loop_thread], "model calls are awaited on the loop, not in a thread"
    assert seen["lookup"] == loop_thread, "an async tool runs on the event loop"
    assert seen["shout"].startswith("qwengraph-tool"), "a sync tool runs in the shared pool"
    results = [m.text for m in state["messages"] if isinstance(m, ToolMessage)]
    assert results == ["value of a", "HI", "value of b"], "results in call order"
    assert state["messages"][-1].text == "done"


async def test_async_tool_timeout_is_a_message_for_the_model() -> None:
    @tool
    async def slow() -> str:
        """Never finishes in time."""
        await asyncio.sleep(5)
        return "late"

    model, _ = recording(turn(tool=("slow", {})), turn("gave up"))
    graph = build_react(model, [slow], tool_timeout=0.05)
    state = await graph.ainvoke({"messages": [HumanMessage("go")], "steps": 0})
    (result,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert result.text == "Error: tool slow timed out after 0.05 s." and result.status == "error"


async def test_approval_interrupts_and_resumes_under_ainvoke() -> None:
    model, _ = recording(turn(tool=("calculator", {"expression": "17*23"})), turn("391"))
    graph = build_react(model, [calculator], approve=["calculator"], checkpointer=InMemorySaver())
    await graph.ainvoke({"messages": [HumanMessage("What is 17*23?")], "steps": 0}, RUN)
    (pending,) = (await graph.aget_state(RUN)).interrupts
    assert pending.value["name"] == "calculator"
    await graph.ainvoke(Command(resume={"action": "approve"}), RUN)
    messages = (await graph.aget_state(RUN)).values["messages"]
    assert [m.text for m in messages if isinstance(m, ToolMessage)] == ["391"]
    assert messages[-1].text == "391"


async def test_plan_execute_under_ainvoke() -> None:
    model, threads = recording(
        turn('{"steps": [{"id": 1, "goal": "multiply", "tool_hint": "calculator"}]}'),
        turn(tool=("calculator", {"expression": "17*23"})),
        turn("17*23 = 391"),
        turn('{"accept": true, "answer": "391"}'),
    )
    state = await build_plan_execute(model, [calculator]).ainvoke(
        {"messages": [HumanMessage("17*23?")], "steps": 0}
    )
    assert state["messages"][-1].text == "391"
    assert set(threads) == {threading.current_thread().name}


async def test_worked_under_ainvoke() -> None:
    model, threads = recording(turn("17 × 23 ", stop="="), turn(" so the answer is 391."))
    state = await build_worked(model, [calculator]).ainvoke(
        {"messages": [HumanMessage("17*23?")], "steps": 0}
    )
    assert "17 × 23 = 391 so the answer is 391." in state["messages"][-1].text
    assert set(threads) == {threading.current_thread().name}

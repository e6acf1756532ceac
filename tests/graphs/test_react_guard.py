"""ReAct guards: a planned call that was never made gets one more try; circling calls stop the run."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from servers import Turn, VLLMServer, message_text

from agents.runner import run
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.react import build_react
from graphs.react_guard import planned_tool
from graphs.summary import summarize
from tools import calculator

WIRE = Path(__file__).resolve().parent.parent / "fixtures" / "wire"


def scripted(*turns: Any) -> tuple[ChatQwen, ScriptedTransport]:
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="ollama:qwen3:8b", transport=fake), fake


def invoke(model: ChatQwen, tools: list[Any], **kwargs: Any) -> Any:
    graph = build_react(model, tools, **kwargs)
    state = graph.invoke({"messages": [HumanMessage(content="What is 17*23?")], "steps": 0})
    return summarize(state["messages"][1:])


def test_a_call_planned_in_thinking_but_not_made_is_asked_for_once() -> None:
    model, fake = scripted(
        turn(thinking="I will use the calculator to multiply 17 by 23."),
        turn(tool=("calculator", {"expression": "17*23"})),
        turn("17 × 23 = 391."),
    )
    summary = invoke(model, [calculator])
    assert summary.answer == "17 × 23 = 391." and "391" in summary.tool_calls[0].result
    nudge = fake.requests[1].messages[-1]
    assert nudge["role"] == "user" and "You planned to call the `calculator` tool" in nudge["content"]
    assert len(fake.requests) == 3
    assert summary.thinking == ["I will use the calculator to multiply 17 by 23."], "the plan is kept"


def test_the_retry_is_bounded_and_can_be_turned_off() -> None:
    planning = [turn(thinking="Let me call the calculator for this.") for _ in range(3)]
    model, fake = scripted(*planning)
    invoke(model, [calculator], planned_call_retries=0, max_steps=1)
    assert len(fake.requests) == 1
    model, fake = scripted(*planning, turn("4"))
    invoke(model, [calculator], max_steps=2)
    assert len(fake.requests) == 2, "one retry, then the step limit"


def test_planned_tool_rules() -> None:
    def reply(text: str, thinking: str) -> AIMessage:
        return AIMessage(
            content=[{"type": "reasoning", "reasoning": thinking}, {"type": "text", "text": text}]
        )

    assert planned_tool(reply("", "I should call calculator now"), ["calculator"]) == "calculator"
    assert (
        planned_tool(reply("I'll use the calculator.", "calculator is right"), ["calculator"]) == "calculator"
    )
    assert planned_tool(reply("The answer is 391.", "use calculator?"), ["calculator"]) is None
    assert planned_tool(reply("", "I know this one by heart."), ["calculator"]) is None
    assert planned_tool(reply("", "the calculator tool exists"), ["calculator"]) is None  # no intent
    with_call = AIMessage(content="", tool_calls=[{"name": "calculator", "args": {}, "id": "1"}])
    assert planned_tool(with_call, ["calculator"]) is None


@tool
def Finish(answer: str) -> str:
    """Submit the final answer."""
    return f"submitted {answer}"


def test_qwen35_call_written_inside_its_thinking_is_retried_and_then_runs() -> None:
    """vLLM#39056 (real Qwen3.5-35B-A3B output): the XML call sits before </think>. It is not run
    from thinking; the model is told so once, and its next reply (scripted) makes the call."""
    recording = json.loads(
        (WIRE / "vllm_qwen3.5-35b-a3b-fp8_xml-call-inside-think_issue39056.json").read_text()
    )
    proper = (
        "<tool_call>\n<function=Finish>\n<parameter=answer>\n204\n</parameter>\n</function>\n</tool_call>"
    )
    turns = [
        Turn(content=recording["response"]["raw_text"]),
        Turn(content=proper),
        Turn(content="Done: 204."),
    ]
    with VLLMServer(turns, models=["Qwen/Qwen3.5-35B-A3B-FP8"]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3.5-35B-A3B-FP8", base_url=server.base_url)
        summary = run("Compute it and submit with Finish.", chat_model=model, tools=[Finish], trace=True)
        requests = server.chat_requests
    assert [(c.name, c.args, c.result) for c in summary.tool_calls] == [
        ("Finish", {"answer": "204"}, "submitted 204")
    ]
    assert summary.answer == "Done: 204."
    nudge = message_text(requests[1]["messages"][-1]["content"])
    assert "`Finish`" in nudge and "inside your thinking is not run" in nudge
    with sqlite3.connect(Path(os.environ["QWENGRAPH_HOME"]) / "traces.db") as db:
        notes = [n for (n,) in db.execute("select notes from model_calls order by seq")]
    assert notes == [None, "planned_call_retry", None]


def test_the_same_call_again_and_again_stops_the_run() -> None:
    same = [turn(tool=("calculator", {"expression": "17*23"})) for _ in range(5)]
    model, fake = scripted(*same)
    summary = invoke(model, [calculator], max_steps=8)
    assert summary.stopped == "repeated_call"
    assert "made the same call 3 times in this turn (calculator" in summary.answer
    assert len(fake.requests) == 3, "the loop stopped instead of spending all 8 steps"


def test_argument_less_calls_to_a_tool_that_needs_arguments_stop_the_run() -> None:
    model, fake = scripted(*[turn(tool=("calculator", {})) for _ in range(4)])
    summary = invoke(model, [calculator], max_steps=8)
    assert summary.stopped == "empty_arguments"
    assert "called calculator again without its required arguments (expression)" in summary.answer
    assert len(fake.requests) == 2
    first_error = summary.tool_calls[0].result
    assert first_error.startswith("Error"), "the first empty call still reaches the tool and its error"


def test_repeats_from_an_earlier_turn_do_not_count() -> None:
    model, _ = scripted(turn(tool=("calculator", {"expression": "1+1"})), turn("2"))
    graph = build_react(model, [calculator])
    earlier = AIMessage(
        content="", tool_calls=[{"name": "calculator", "args": {"expression": "1+1"}, "id": "x"}]
    )
    history = [HumanMessage("1+1?"), earlier, *([earlier] * 2), HumanMessage("again: 1+1?")]
    state = graph.invoke({"messages": history, "steps": 0})
    assert summarize(state["messages"][len(history) :]).answer == "2"

"""The ReAct graph with a scripted model: tools really run, errors go back to the model."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

from agents.runner import Event, run
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.react import build_react
from graphs.summary import summarize
from graphs.tool_step import run_call_task
from tools import calculator


def scripted(*turns):
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="ollama:qwen3:8b", transport=fake), fake


def invoke(model, tools, prompt="What is 17*23?", **kwargs):
    graph = build_react(model, tools, **kwargs)
    state = graph.invoke({"messages": [HumanMessage(content=prompt)], "steps": 0})
    return state, summarize(state["messages"][1:])


def test_calculator_really_runs_and_answer_follows():
    model, fake = scripted(
        turn(thinking="I should multiply with the calculator.", tool=("calculator", {"expression": "17*23"})),
        turn("17 × 23 = 391.", thinking="The tool says 391."),
    )
    _, summary = invoke(model, [calculator])
    assert summary.answer == "17 × 23 = 391."
    assert [(c.name, c.args) for c in summary.tool_calls] == [("calculator", {"expression": "17*23"})]
    assert "391" in summary.tool_calls[0].result
    assert summary.thinking == ["I should multiply with the calculator.", "The tool says 391."]
    assert summary.steps == 2
    assert summary.usage["input_tokens"] == 20
    second = fake.requests[1].messages
    assert second[-1]["role"] == "tool" and "391" in second[-1]["content"]
    assert second[-1]["name"] == "calculator"
    assistant = next(m for m in second if m["role"] == "assistant")
    assert "multiply" not in assistant["content"], "past thinking must not be sent back"
    assert assistant["tool_calls"][0]["args"] == {"expression": "17*23"}


def test_thinking_is_on_by_default_and_can_be_turned_off():
    model, fake = scripted(turn("hi"))
    invoke(model, [calculator])
    assert fake.requests[0].think is True
    assert fake.requests[0].sampling["temperature"] == 0.6
    model, fake = scripted(turn("hi"))
    invoke(model, [calculator], think=False)
    assert fake.requests[0].think is False
    assert fake.requests[0].sampling["temperature"] == 0.7


def test_unknown_tool_is_answered_with_the_list_of_tools():
    model, fake = scripted(turn(tool=("web_search", {"q": "x"})), turn("sorry"))
    state, summary = invoke(model, [calculator])
    answer = [m for m in state["messages"] if isinstance(m, ToolMessage)][0]
    assert answer.status == "error"
    assert "no tool named 'web_search'" in answer.text and "Available tools: calculator" in answer.text
    assert summary.answer == "sorry"


def test_tool_exception_becomes_a_message_and_the_run_goes_on():
    @tool
    def explode(x: int) -> str:
        """Always fails."""
        raise RuntimeError("boom")

    model, _ = scripted(turn(tool=("explode", {"x": 1})), turn("it failed"))
    state, summary = invoke(model, [explode])
    message = [m for m in state["messages"] if isinstance(m, ToolMessage)][0]
    assert message.status == "error" and "RuntimeError: boom" in message.text
    assert summary.answer == "it failed"


def test_calculator_error_reaches_the_model_as_text():
    model, fake = scripted(turn(tool=("calculator", {"expression": "__import__('os')"})), turn("ok"))
    invoke(model, [calculator])
    tool_message = fake.requests[1].messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("Error")


def test_slow_tool_times_out():
    @tool
    def slow(x: int) -> str:
        """Sleeps."""
        time.sleep(1.0)
        return "late"

    model, _ = scripted(turn(tool=("slow", {"x": 1})), turn("gave up"))
    state, _ = invoke(model, [slow], tool_timeout=0.1)
    message = [m for m in state["messages"] if isinstance(m, ToolMessage)][0]
    assert "timed out after 0.1 s" in message.text


def test_step_limit_ends_with_a_clear_message():
    model, fake = scripted(*[turn(tool=("calculator", {"expression": f"{i}+1"})) for i in range(3)])
    _, summary = invoke(model, [calculator], max_steps=2)
    assert summary.stopped == "step_limit"
    assert "Stopped after 2 model calls" in summary.answer
    assert len(fake.requests) == 2


def test_parallel_calls_and_duplicates_in_one_turn():
    runs = []

    @tool
    def count(x: int) -> str:
        """Counts calls."""
        runs.append(x)
        return f"seen {x}"

    model, fake = scripted(
        turn(tools=[("count", {"x": 1}), ("count", {"x": 2}), ("count", {"x": 1})]), turn("done")
    )
    state, summary = invoke(model, [count])
    assert sorted(runs) == [1, 2], "the duplicate call must not run twice"
    results = [m.text for m in state["messages"] if isinstance(m, ToolMessage)]
    assert results == ["seen 1", "seen 2", "seen 1"]
    assert len(summary.tool_calls) == 3


def test_unreadable_tool_call_gets_a_precise_correction():
    model, fake = scripted(turn(bad="expected ',' or '}' at line 1 column 9"), turn("fixed"))
    _, summary = invoke(model, [calculator])
    feedback = fake.requests[1].messages[-1]
    assert feedback["role"] == "user"
    assert "expected ',' or '}' at line 1 column 9" in feedback["content"]
    assert "calculator" in feedback["content"]
    assert summary.answer == "fixed"


@pytest.mark.parametrize("stream", [True, False])
def test_runner_streams_events_and_summarises_the_same(stream):
    events: list[Event] = []
    fake = ScriptedTransport(
        [
            turn(thinking="Multiply.", tool=("calculator", {"expression": "17*23"}), pieces=3),
            turn("The answer is 391.", thinking="Done.", pieces=4),
        ]
    )
    summary = run(
        "What is 17*23?",
        chat_model=ChatQwen(model="ollama:q", transport=fake),
        stream=stream,
        on_event=events.append,
    )
    assert summary.answer == "The answer is 391."
    assert all(r.stream is stream for r in fake.requests)
    text = "".join(e.text for e in events if e.kind == "text")
    thinking = "".join(e.text for e in events if e.kind == "thinking")
    assert text == "The answer is 391."
    assert thinking == "Multiply.Done."
    tools = [e for e in events if e.kind == "tool"]
    assert len(tools) == 1 and tools[0].name == "calculator" and "391" in tools[0].text


def test_one_task_answers_every_identical_call():
    task = {"call": {"name": "calculator", "args": {"expression": "2+2"}, "id": "a"}, "ids": ["a", "b"]}
    messages = run_call_task(task, {"calculator": calculator}, 5.0, ())
    assert [(m.tool_call_id, m.content) for m in messages] == [("a", "4"), ("b", "4")]


@pytest.mark.parametrize("stream", [True, False])
def test_unreadable_call_is_corrected_when_streaming_too(stream: bool) -> None:
    """Streamed chunks lose invalid_tool_calls' errors in LangChain's merge; the graph must not."""
    fake = ScriptedTransport([turn(bad="a <tool_call> must hold a name"), turn("fixed")])
    summary = run("x", chat_model=ChatQwen(model="ollama:q", transport=fake), stream=stream)
    assert summary.answer == "fixed"
    assert "a <tool_call> must hold a name" in fake.requests[1].messages[-1]["content"]


def test_force_tool_requires_a_call_on_the_first_step_only() -> None:
    model, fake = scripted(turn(tool=("calculator", {"expression": "1+1"})), turn("2"))
    invoke(model, [calculator], force_tool=True)
    assert [r.tool_choice for r in fake.requests] == ["required", None]
    model, fake = scripted(turn("2"))
    invoke(model, [calculator])
    assert fake.requests[0].tool_choice is None


def test_unknown_tool_named_like_an_operation_gets_a_suggestion_and_a_forced_retry():
    from tools import symbolic

    model, fake = scripted(
        turn(tool=("differentiate", {"expression": "x^2"})),
        turn(tool=("symbolic", {"operation": "differentiate", "expression": "x^2"})),
        turn("2*x"),
    )
    state, summary = invoke(model, [calculator, symbolic], force_tool=True)
    first = [m for m in state["messages"] if isinstance(m, ToolMessage)][0]
    assert "no tool named 'differentiate'" in first.text
    assert "'differentiate' is something symbolic can do: call symbolic instead." in first.text
    assert [r.tool_choice for r in fake.requests] == ["required", "required", None]
    assert summary.answer == "2*x"


def test_an_empty_reply_is_asked_for_once_more():
    model, fake = scripted(turn(tool=("calculator", {"expression": "17*23"})), turn(""), turn("It is 391."))
    state, summary = invoke(model, [calculator])
    assert summary.answer == "It is 391." and summary.stopped is None
    nudge = fake.requests[2].messages[-1]
    assert nudge["role"] == "user" and "Your reply was empty" in nudge["content"]
    assert not any("Your reply was empty" in str(m.content) for m in state["messages"]), "not kept"
    assert state["steps"] == 3


def test_two_empty_replies_end_the_run_with_a_clear_message():
    from graphs.react import EMPTY_ANSWER_MARK

    model, _ = scripted(turn(tool=("calculator", {"expression": "17*23"})), turn(""), turn("  "))
    _, summary = invoke(model, [calculator])
    assert summary.stopped == EMPTY_ANSWER_MARK
    assert "empty answer twice" in summary.answer

"""``graphs.build.build_graph``: the graph a spec names, from any object with a ``graph`` attribute."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import pytest
from langchain_core.messages import HumanMessage

from graphs.build import GRAPHS, NamedGraph, build_graph, progress
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, Turn, turn
from graphs.plan_parts import progress_notes
from graphs.summary import summarize
from tools import calculator

REQUEST = "What is 17*23, plus 9?"
PLAN = {"steps": [{"id": 1, "goal": "compute 17*23+9", "tool_hint": "calculator"}]}


@dataclass(frozen=True)
class MySpec:
    """Not an AgentSpec: the build only needs the ``graph`` attribute (the GraphSpec protocol)."""

    graph: str
    name: str = "mine"


def scripted(*turns: Turn) -> tuple[ChatQwen, ScriptedTransport]:
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="ollama:qwen3:8b", transport=fake), fake


def plan_execute_turns(answer: str = "17*23 + 9 = 400.") -> list[Turn]:
    return [
        turn(json.dumps(PLAN), thinking="One step."),
        turn(tool=("calculator", {"expression": "17*23+9"})),
        turn("17*23+9 = 400."),
        turn(json.dumps({"accept": True, "answer": answer})),
    ]


def test_react_spec_builds_the_react_graph_and_runs() -> None:
    model, fake = scripted(turn(tool=("calculator", {"expression": "17*23+9"})), turn("It is 400."))
    graph = build_graph(MySpec("react"), model, [calculator], system_prompt="Be exact.", think=False)
    assert {"call_model", "run_tool", "collect"} <= set(graph.get_graph().nodes)
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    summary = summarize(state["messages"][1:])
    assert summary.answer == "It is 400."
    assert [(c.name, c.result) for c in summary.tool_calls] == [("calculator", "400")]
    assert fake.requests[0].messages[0] == {"role": "system", "content": "Be exact."}
    assert [r.think for r in fake.requests] == [False, False]


def test_plan_execute_spec_builds_the_plan_execute_graph_and_runs() -> None:
    model, fake = scripted(*plan_execute_turns())
    graph = build_graph(MySpec("plan_execute"), model, [calculator], system_prompt="Answer in French.")
    assert {"plan", "execute", "verify", "run_tool"} <= set(graph.get_graph().nodes)
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    summary = summarize(state["messages"][1:])
    assert summary.answer == "17*23 + 9 = 400."
    assert [(c.name, c.args, c.result) for c in summary.tool_calls] == [
        ("calculator", {"expression": "17*23+9"}, "400")
    ]
    assert summary.steps == 4 == state["steps"] and summary.stopped is None
    thinks = [r.think for r in fake.requests]
    assert thinks == [True, False, False, True], "think=None keeps the planner and verifier on"
    systems = [r.messages[0]["content"] for r in fake.requests]
    assert "Answer in French." not in systems[0], "the planner keeps its JSON-only prompt"
    assert all("Answer in French." in s for s in systems[1:]), "executor and verifier get the instructions"


def test_think_false_turns_off_the_planner_and_verifier() -> None:
    model, fake = scripted(*plan_execute_turns())
    graph = build_graph(NamedGraph("plan_execute"), model, [calculator], think=False)
    graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    assert [r.think for r in fake.requests] == [False, False, False, False]


def test_max_steps_stops_a_plan_execute_run_with_the_step_limit_message() -> None:
    model, fake = scripted(*plan_execute_turns())
    graph = build_graph(NamedGraph("plan_execute"), model, [calculator], max_steps=3)
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    summary = summarize(state["messages"][1:])
    assert len(fake.requests) == 3, "the verifier is never called"
    assert summary.stopped == "step_limit" and summary.steps == 3
    assert summary.answer == (
        "Stopped after 3 model calls without a final answer (raise --max-steps to allow more)."
    )
    assert [c.result for c in summary.tool_calls] == ["400"]


def test_max_steps_before_the_plan_stops_at_once() -> None:
    model, fake = scripted(*plan_execute_turns())
    graph = build_graph(NamedGraph("plan_execute"), model, [calculator], max_steps=1)
    # A second request in the same state: steps already at the limit.
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 1})
    assert not fake.requests and summarize(state["messages"][1:]).stopped == "step_limit"


def test_unknown_graph_is_a_config_error() -> None:
    model, _ = scripted()
    with pytest.raises(ConfigError, match=r"unknown graph 'swarm': choose from react, plan_execute, worked"):
        build_graph(MySpec("swarm"), model, [calculator])
    assert GRAPHS == ("react", "plan_execute", "worked", "research")


def test_a_missing_graph_module_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphs.plan_execute", None)  # as if the module were absent
    model, _ = scripted()
    with pytest.raises(ConfigError, match="graph 'plan_execute' is not available"):
        build_graph(NamedGraph("plan_execute"), model, [calculator])


def test_progress_lines() -> None:
    plan = [{"id": 1, "goal": "multiply", "tool_hint": None}, {"id": 2, "goal": "add", "tool_hint": None}]
    one = {"plan": plan, "results": [{"id": 1, "goal": "multiply", "result": "391"}]}
    assert progress(NamedGraph("react"), {}, one) == []
    assert progress(NamedGraph("plan_execute"), {}, one) == ["plan: 1. multiply; 2. add", "step 1: 391"]
    two = {**one, "results": [*one["results"], {"id": 2, "goal": "add", "result": "400"}]}
    assert progress_notes(one, two) == ["step 2: 400"]
    rejected = {**two, "replans": 1, "feedback": "check the sum"}
    assert progress_notes(two, rejected) == ["rejected: check the sum"]
    assert progress_notes(rejected, rejected) == []

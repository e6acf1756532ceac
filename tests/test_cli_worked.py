"""``qwengraph run`` on the worked-solution graph: the README's main job, replayed from a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.tools import tool
from typer.testing import CliRunner

from agents.cli import app
from agents.runner import choose_graph
from graphs.build import NamedGraph
from tools import calculator

CASSETTES = Path(__file__).parent / "cassettes" / "local"
DEMO = json.loads((CASSETTES / "demo_worked_stream.json").read_text())["meta"]


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_the_main_job_question_prints_both_answers_with_checked_values() -> None:
    result = cli("run", DEMO["prompt"], "--replay", str(CASSETTES / "demo_worked_stream.json"))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "will not reach $5M" in out and "20.11%" in out
    # the calculator's values are written inline, where the model put its equals signs
    assert "(1 + 0.15) = 4.022714375M" in out
    assert "r ≈ 0.201124" in out
    assert "→ calculator" not in out, "values go into the solution, not on lines of their own"


def test_json_lists_every_calculation() -> None:
    path = CASSETTES / "demo_worked_nostream.json"
    result = cli("run", DEMO["prompt"], "--replay", str(path), "--no-stream", "--json", "--graph", "worked")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == json.loads(path.read_text())["meta"]["result"]
    assert [c["args"]["expression"] for c in out["tool_calls"]][-1] == "(2.5)^(1/5) - 1"


def test_the_react_graph_can_be_chosen_and_then_the_recording_drifts() -> None:
    result = cli(
        "run", DEMO["prompt"], "--replay", str(CASSETTES / "demo_worked_stream.json"), "--graph", "react"
    )
    assert result.exit_code == 4, "a different graph sends different prompts: cassette drift"
    assert "drifted" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--graph", "swarm"], "unknown graph 'swarm' for a plain run"),
        (["--graph", "react", "--agent", "math-tutor"], "--graph is for plain runs"),
    ],
)
def test_bad_graph_flags_are_one_line_errors(args: list[str], message: str) -> None:
    result = cli("run", "hi", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_worked_graph_needs_a_tool_it_can_use() -> None:
    from agents.runner import run
    from graphs.errors import ConfigError

    @tool
    def lookup(query: str) -> str:
        """Look up."""
        return query

    with pytest.raises(ConfigError, match="needs the calculator, run_python or symbolic tool"):
        run("hi", model="local:qwen2.5-coder-1.5b", tools=[lookup], spec=NamedGraph("worked"), trace=False)


def test_the_math_tutor_gives_hints_on_react_and_answers_on_the_worked_graph() -> None:
    from agents.agent_run import plan_run

    assert plan_run("x^2 = 4", agent="math-tutor", has_index=False).graph == "auto"
    assert plan_run("x^2 = 4", agent="math-tutor", mode="hint", has_index=False).graph == "react"


def test_the_automatic_choice() -> None:
    @tool
    def other(x: str) -> str:
        """Other."""
        return x

    local, server = "local:qwen2.5-coder-1.5b", "ollama:qwen3:8b"
    assert choose_graph(None, local, [calculator]).graph == "worked"
    assert choose_graph(NamedGraph("auto"), local, [calculator]).graph == "worked"
    assert choose_graph(None, server, [calculator]).graph == "react", "servers run Qwen3, which plans"
    assert choose_graph(None, local, [calculator, other]).graph == "react", "other tools need ReAct"
    assert choose_graph(NamedGraph("react"), local, [calculator]).graph == "react", "an explicit choice wins"
    assert choose_graph(None, local, [calculator], approvals=True).graph == "react", "approvals need turns"


def test_approvals_keep_a_run_on_react_and_the_worked_graph_refuses_them() -> None:
    from agents.runner import run
    from graphs.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot wait for tool approvals"):
        run(
            "hi",
            model="local:qwen2.5-coder-1.5b",
            spec=NamedGraph("worked"),
            approve=["calculator"],
            trace=False,
        )
    result = cli(
        "run", "hi", "--graph", "worked", "--approve", "calculator", "--model", "local:qwen2.5-coder-1.5b"
    )
    assert result.exit_code == 2 and "use the react graph with --approve" in result.stderr


def test_with_approvals_the_automatic_choice_for_a_local_model_is_react() -> None:
    from agents.runner import run
    from graphs.models.chat import ChatQwen
    from graphs.models.testing import ScriptedTransport, turn

    fake = ScriptedTransport([turn(tool=("calculator", {"expression": "17*23"})), turn("391.")])
    model = ChatQwen(model="local:qwen2.5-coder-1.5b", transport=fake)
    asked: list[dict] = []
    result = run(
        "17*23?",
        chat_model=model,
        approve=["calculator"],
        approver=lambda request: asked.append(request) or {"action": "approve"},
        trace=False,
    )
    assert result.answer == "391." and [a["name"] for a in asked] == ["calculator"]
    assert fake.requests[0].tool_choice == "required", "ReAct, with the local model's forced first call"


def test_a_thread_records_its_graph_and_resume_refuses_another() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.runner import run, thread_origin
    from graphs.errors import ConfigError
    from graphs.models.chat import ChatQwen
    from graphs.models.testing import ScriptedTransport, turn

    saver = InMemorySaver()
    fake = ScriptedTransport([turn(tool=("calculator", {"expression": "17*23"})), turn("391.")])
    model = ChatQwen(model="ollama:qwen3:8b", transport=fake)
    common = {
        "chat_model": model,
        "thread": "t",
        "checkpointer": saver,
        "approve": ["calculator"],
        "trace": False,
    }
    with pytest.raises(ConfigError, match="waiting for a tool approval"):
        run("17*23?", spec=NamedGraph("react"), **common)
    assert thread_origin(saver, "t") == ("react", None)
    with pytest.raises(ConfigError, match="was started on the react graph, not plan_execute"):
        run(None, spec=NamedGraph("plan_execute"), **common)
    approve = {"action": "approve"}
    result = run(None, spec=NamedGraph("react"), approver=lambda _: approve, **common)
    assert result.answer == "391."
    assert thread_origin(InMemorySaver(), "unknown") == (None, None)

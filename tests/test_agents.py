"""Agent specs, presets, their prompts, the router, and ``qwengraph run --agent``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from servers import Turn, VLLMServer, message_text
from typer.testing import CliRunner

from agents.agent_run import plan_run, run_agent
from agents.cli import app
from agents.router import CODER_MODEL as CODER
from agents.router import DEFAULT_RULES, Choice, Rule, route_request
from agents.router import SMALL_MODEL as SMALL
from agents.spec import AgentCatalog, AgentSpec, builtin_agents, load_graph
from agents.toolbox import open_tools
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from tools.code_runner.bwrap import bwrap_usable

POLY = "x^3 + 2x^2 - 5x + 3"
DERIVATIVE = "3*x^2 + 4*x - 5"
PROMPT = f"Find the derivative of f(x) = {POLY} and its critical points"
DOCS = Path(__file__).parent / "fixtures" / "docs"
ANSWER = "f'(x) = 3x^2 + 4x - 5; critical points x = (-2 ± sqrt(19))/3."


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def ingest(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(home))
    assert cli("ingest", str(DOCS)).exit_code == 0


# --- specs and presets ------------------------------------------------------------------------


@pytest.mark.parametrize("has_index", [True, False])
def test_every_preset_builds_and_renders(has_index: bool) -> None:
    catalog = builtin_agents(has_index=has_index)
    assert catalog.names() == ["math-tutor", "coding-assistant", "researcher", "automation", "planner"]
    for spec in catalog:
        text = spec.render_prompt()
        assert "{{" not in text and "{%" not in text
        assert f"Tools available: {', '.join(sorted(spec.tools))}." in text
        graphs = {
            "planner": "plan_execute",
            "coding-assistant": "auto",
            "math-tutor": "auto",
            "researcher": "research",
        }
        assert spec.graph == graphs.get(spec.name, "react")
        module = "worked" if spec.graph == "auto" else spec.graph
        assert spec.graph_module().__name__ == f"graphs.{module}"
        assert "Answer in Esperanto." in spec.with_variables(language="Esperanto").render_prompt()
        assert "Answer in" not in text
    coder = catalog.get("coding-assistant")
    assert coder.tools == (("run_python", "search") if has_index else ("run_python",))
    assert ("Use search" in coder.render_prompt()) is has_index


def test_math_tutor_prompt_and_hint_mode() -> None:
    tutor = builtin_agents(has_index=False).get("math-tutor")
    assert tutor.tools == ("calculator", "symbolic") and tutor.think is True
    answer = tutor.render_prompt()
    assert "1. Analyse" in answer and "5. Final answer" in answer  # structured reasoning included
    assert "check it with a tool" in answer and "Do not state the final answer" not in answer
    hint = tutor.with_variables(mode="hint").render_prompt()
    assert hint != answer and "Do not state the final answer" in hint
    with pytest.raises(ConfigError, match="mode must be one of answer, hint"):
        tutor.with_variables(mode="solve")
    with pytest.raises(ConfigError, match="has no setting mode"):
        builtin_agents(has_index=False).get("researcher").with_variables(mode="hint")


def test_preset_tools_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(monkeypatch, tmp_path)
    for spec in builtin_agents(has_index=True):
        if "run_python" in spec.tools and bwrap_usable() is not None:
            continue
        with open_tools(spec.tools) as tools:
            assert sorted(t.name for t in tools) == sorted(spec.tools)


def test_catalog_and_spec_errors() -> None:
    catalog = builtin_agents(has_index=False)
    with pytest.raises(ConfigError, match="unknown agent 'nope': choose from math-tutor, coding-assistant"):
        catalog.get("nope")
    with pytest.raises(ConfigError, match="unknown tool shell"):
        AgentSpec(name="x", description="", tools=("shell",), prompt="react")
    with pytest.raises(ConfigError, match="unknown graph"):
        AgentSpec(name="x", description="", tools=(), prompt="react", graph="swarm")
    with pytest.raises(ConfigError, match="two agents"):
        AgentCatalog([catalog.get("automation"), catalog.get("automation")])
    with pytest.raises(ConfigError, match="unknown graph"):
        load_graph("swarm")


def test_missing_graph_module_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "graphs.plan_execute", None)  # as if the module were absent
    spec = AgentSpec(name="p", description="", tools=("calculator",), prompt="react", graph="plan_execute")
    with pytest.raises(ConfigError, match="graph 'plan_execute' is not available"):
        spec.graph_module()


# --- runs with a scripted model ---------------------------------------------------------------


def tutor_model() -> tuple[ChatQwen, ScriptedTransport]:
    fake = ScriptedTransport(
        [
            turn(
                thinking="Differentiate first.",
                tool=("symbolic", {"operation": "differentiate", "expression": POLY}),
            ),
            turn(tool=("symbolic", {"operation": "critical_points", "expression": POLY})),
            turn(ANSWER),
        ]
    )
    return ChatQwen(model="ollama:fake", transport=fake), fake


def test_math_tutor_uses_symbolic_for_each_step() -> None:
    model, fake = tutor_model()
    result = run_agent("math-tutor", PROMPT, chat_model=model, trace=False)
    results = [call.result for call in result.tool_calls]
    assert [call.name for call in result.tool_calls] == ["symbolic", "symbolic"]
    assert DERIVATIVE in results[0]
    assert "sqrt(19)" in results[1]
    assert result.answer == ANSWER
    system = fake.requests[0].messages[0]
    assert system["role"] == "system" and "patient math tutor" in system["content"]
    assert fake.requests[0].think is True
    assert sorted(t["function"]["name"] for t in fake.requests[0].tools) == ["calculator", "symbolic"]


def test_researcher_says_when_documents_lack_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(monkeypatch, tmp_path)
    fake = ScriptedTransport(
        [
            turn(tool=("search", {"query": "moon landing date"})),
            turn("The documents do not contain the answer."),
        ]
    )
    result = run_agent(
        "researcher", "When was the moon landing?", chat_model=ChatQwen(model="ollama:f", transport=fake)
    )
    assert result.tool_calls[0].name == "search"
    assert result.answer == "The documents do not contain the answer."
    assert "do not contain the" in fake.requests[0].messages[0]["content"]


# --- router -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "has_index", "agent", "model", "think", "rule"),
    [
        ("What does the refund policy say?", True, "researcher", None, True, "documents"),
        ("What does the refund policy say?", False, None, SMALL, False, "simple"),
        ("Write a Python function to reverse a list", True, "coding-assistant", CODER, False, "code"),
        (PROMPT, False, "math-tutor", None, True, "hard-math"),
        ("Explain why the sky is blue, step by step", False, None, None, True, "hard-reasoning"),
        ("hello", False, None, SMALL, False, "simple"),
        ("tell me " * 20, False, None, None, "auto", "default"),
    ],
)  # fmt: skip
def test_router_rules(
    text: str, has_index: bool, agent: str | None, model: str | None, think: object, rule: str
) -> None:
    decision = route_request(text, has_index=has_index)
    assert (decision.agent, decision.model_hint, decision.think) == (agent, model, think)
    assert decision.reason.startswith(f"{rule}: ")


def test_custom_rules_override_the_defaults() -> None:
    mine = [
        Rule(
            "always-tutor",
            lambda req: "?" in req.text,
            Choice("math-tutor", "ollama:qwen3:32b", True, "mine"),
        )
    ]
    decision = route_request("Write Python code?", has_index=False, rules=mine)
    assert decision.agent == "math-tutor" and decision.model_hint == "ollama:qwen3:32b"
    assert decision.reason == "always-tutor: mine"
    assert route_request("no question", has_index=False, rules=mine).reason.startswith("fallback")
    assert (
        route_request("Write Python code?", has_index=False, rules=DEFAULT_RULES).agent == "coding-assistant"
    )


def test_plan_run_precedence() -> None:
    plan = plan_run(PROMPT, agent="auto", has_index=False)
    assert plan.agent == "math-tutor" and plan.reason and plan.reason.startswith("hard-math")
    explicit = plan_run(
        PROMPT, agent="math-tutor", tools=["calculator"], think=False, max_steps=3, has_index=False
    )
    assert (explicit.tools, explicit.think, explicit.max_steps) == (("calculator",), False, 3)
    assert explicit.system_prompt and "Tools available: calculator." in explicit.system_prompt
    plain = plan_run("hi", has_index=False, language="German")
    assert plain.agent is None and plain.tools == ("calculator",)
    assert (plain.graph, plain.language, plain.system_prompt, plain.max_steps) == (
        "auto",
        "German",
        None,
        None,
    )
    assert plan_run("hi", has_index=False, graph="react").graph == "react"
    with pytest.raises(ConfigError, match="unknown graph 'swarm' for a plain run"):
        plan_run("hi", has_index=False, graph="swarm")
    with pytest.raises(ConfigError, match="--graph is for plain runs"):
        plan_run("hi", agent="math-tutor", has_index=False, graph="react")
    with pytest.raises(ConfigError, match="--mode needs"):
        plan_run("hi", mode="hint", has_index=False)


# --- CLI --------------------------------------------------------------------------------------


def tutor_script(body: dict[str, Any]) -> Turn:
    """Differentiate, then find critical points, then answer with what the tools said."""
    results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
    if not results:
        return Turn(
            thinking="Plan.", tool_calls=[("symbolic", {"operation": "differentiate", "expression": POLY})]
        )
    if len(results) == 1:
        return Turn(tool_calls=[("symbolic", {"operation": "critical_points", "expression": POLY})])
    return Turn(content=f"Derivative: {results[0].splitlines()[0]}. Critical points: {results[1]}")


def test_cli_run_agent_math_tutor_json() -> None:
    with VLLMServer(tutor_script) as server:
        result = cli(
            "run", PROMPT, "--agent", "math-tutor", "--model", "openai:Qwen/Qwen3-8B",
            "--base-url", server.base_url, "--json", "--language", "English",
        )  # fmt: skip
        first = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert [c["name"] for c in out["tool_calls"]] == ["symbolic", "symbolic"]
    assert DERIVATIVE in out["tool_calls"][0]["result"] and "sqrt(19)" in out["tool_calls"][1]["result"]
    assert DERIVATIVE in out["answer"] and "sqrt(19)" in out["answer"]
    assert sorted(t["function"]["name"] for t in first["tools"]) == ["calculator", "symbolic"]
    assert first["chat_template_kwargs"] == {"enable_thinking": True}
    system = message_text(first["messages"][0]["content"])
    assert "patient math tutor" in system and system.endswith("Answer in English.")


def test_cli_hint_mode_changes_the_prompt() -> None:
    with VLLMServer([Turn(content="Hint: differentiate term by term.")]) as server:
        result = cli(
            "run", PROMPT, "--agent", "math-tutor", "--mode", "hint", "--model", "openai:Qwen/Qwen3-8B",
            "--base-url", server.base_url, "--json",
        )  # fmt: skip
        system = message_text(server.chat_requests[0]["messages"][0]["content"])
    assert result.exit_code == 0, result.stderr
    assert "Do not state the final answer" in system


def test_cli_agent_auto_prints_the_reason() -> None:
    with VLLMServer(tutor_script) as server:
        result = cli(
            "run", PROMPT, "--agent", "auto", "--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url
        )
    assert result.exit_code == 0, result.stderr
    assert "agent: math-tutor (hard-math:" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "nope"], "unknown agent 'nope': choose from math-tutor"),
        (["--mode", "hint"], "--mode needs"),
        (["--agent", "math-tutor", "--mode", "solve"], "mode must be one of answer, hint"),
    ],
)
def test_cli_agent_errors(args: list[str], message: str) -> None:
    result = cli("run", "hi", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_a_routed_local_model_that_is_not_installed_is_passed_over(monkeypatch) -> None:
    from agents.agent_run import pick_model

    monkeypatch.delenv("QWENGRAPH_MODEL", raising=False)
    assert pick_model(None, "local:qwen2.5-coder-0.5b") == "local:qwen2.5-coder-1.5b"
    assert pick_model(None, "ollama:qwen3:8b") == "ollama:qwen3:8b"
    assert pick_model("openai:Qwen/Qwen3-8B", "local:qwen2.5-coder-0.5b") == "openai:Qwen/Qwen3-8B"

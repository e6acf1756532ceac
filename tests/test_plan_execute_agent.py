"""Agents on the plan_execute graph: ``agents.runner.run``, ``run_agent`` and ``qwengraph run --agent``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from servers import Turn as ServerTurn
from servers import VLLMServer, message_text
from typer.testing import CliRunner

from agents.agent_run import plan_run, run_agent
from agents.cli import app
from agents.runner import Event, run
from agents.spec import AgentSpec, builtin_agents
from graphs.errors import ConfigError
from graphs.memory.trace_query import get_run, list_runs
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, Turn, turn
from tools import calculator

REQUEST = "What is 17*23, plus 9?"
PLAN = {
    "steps": [
        {"id": 1, "goal": "multiply 17 by 23", "tool_hint": "calculator"},
        {"id": 2, "goal": "add 9 to the product", "tool_hint": "calculator"},
    ]
}
ANSWER = "17*23 + 9 = 400."
VERDICT = json.dumps({"accept": True, "answer": ANSWER})
TOOL_CALLS = [
    ("calculator", {"expression": "17*23"}, "391"),
    ("calculator", {"expression": "391+9"}, "400"),
]
SPEC = AgentSpec(
    name="stepwise",
    description="plans, then works each step",
    tools=("calculator",),
    prompt="planner",
    graph="plan_execute",
    max_steps=12,
)


def script() -> list[Turn]:
    return [
        turn(json.dumps(PLAN), thinking="Two steps: multiply, then add."),
        turn(tool=("calculator", {"expression": "17*23"})),
        turn("17*23 = 391."),
        turn(tool=("calculator", {"expression": "391+9"})),
        turn("391 + 9 = 400."),
        turn(VERDICT, thinking="Both results check out."),
    ]


def scripted(turns: list[Turn] | None = None) -> tuple[ChatQwen, ScriptedTransport]:
    fake = ScriptedTransport(turns if turns is not None else script())
    return ChatQwen(model="ollama:qwen3:8b", transport=fake), fake


def calls(summary: Any) -> list[tuple[str, dict[str, Any], str]]:
    return [(c.name, c.args, c.result) for c in summary.tool_calls]


def test_run_agent_with_a_plan_execute_spec_end_to_end() -> None:
    model, fake = scripted()
    events: list[Event] = []
    summary = run_agent(SPEC, REQUEST, chat_model=model, on_event=events.append, trace_content=True)
    assert summary.answer == ANSWER and summary.stopped is None
    assert calls(summary) == TOOL_CALLS
    assert summary.steps == 6
    assert summary.thinking == ["Two steps: multiply, then add.", "Both results check out."]
    assert summary.usage["input_tokens"] == 60
    # The display gets thinking, tool results and progress lines; the planner's and the verifier's
    # JSON is never shown as answer text, the accepted answer is (once).
    assert [e.text for e in events if e.kind == "text"] == [ANSWER]
    assert [e.text for e in events if e.kind == "progress"] == [
        "plan: 1. multiply 17 by 23; 2. add 9 to the product",
        "step 1: 17*23 = 391.",
        "step 2: 391 + 9 = 400.",
    ]
    assert [(e.name, e.args, e.text) for e in events if e.kind == "tool"] == TOOL_CALLS
    assert "Two steps: multiply, then add." in "".join(e.text for e in events if e.kind == "thinking")
    # The agent's prompt reaches the executor and the verifier, and --max-steps is the spec's.
    executor_system = fake.requests[1].messages[0]["content"]
    assert "exact value the tool returned" in executor_system
    assert "exact value the tool returned" in fake.requests[5].messages[0]["content"]
    assert "exact value the tool returned" not in fake.requests[0].messages[0]["content"]
    # Traced like a ReAct run: six model calls, two tool calls, the answer.
    [listed] = list_runs()
    trace = get_run(listed["run_id"])
    assert (listed["model_calls"], listed["tool_calls"]) == (6, 2)
    assert trace.run["outcome"] == "ok" and trace.run["answer"] == ANSWER


def test_runner_threads_approval_and_resume() -> None:
    saver = InMemorySaver()
    model, fake = scripted()
    options: dict[str, Any] = {
        "chat_model": model,
        "tools": [calculator],
        "thread": "pe",
        "checkpointer": saver,
        "approve": ["calculator"],
        "trace": False,
        "spec": SPEC,
    }
    with pytest.raises(ConfigError, match="thread 'pe' is waiting for a tool approval"):
        run(REQUEST, **options)
    assert len(fake.requests) == 2, "stopped before the first calculator call"
    asked: list[dict[str, Any]] = []

    def approver(request: dict[str, Any]) -> dict[str, Any]:
        asked.append(request)
        return {"action": "approve"}

    events: list[Event] = []
    summary = run(None, approver=approver, on_event=events.append, **options)
    assert [(r["name"], r["args"]) for r in asked] == [(n, a) for n, a, _ in TOOL_CALLS]
    assert summary.answer == ANSWER and calls(summary) == TOOL_CALLS
    assert len(fake.requests) == 6, "the resumed run repeats no model call"
    progress = [e.text for e in events if e.kind == "progress"]
    assert progress == ["step 1: 17*23 = 391.", "step 2: 391 + 9 = 400."], "the old plan is not repeated"
    with pytest.raises(ConfigError, match="no unfinished run"):
        run(None, approver=approver, **options)


def test_a_second_request_in_the_thread_plans_afresh() -> None:
    saver = InMemorySaver()
    second = [
        turn(json.dumps({"steps": [{"id": 1, "goal": "double 400"}]})),
        turn(tool=("calculator", {"expression": "400*2"})),
        turn("800"),
        turn(json.dumps({"accept": True, "answer": "800"})),
    ]
    model, _ = scripted(script() + second)
    options: dict[str, Any] = {"chat_model": model, "thread": "t", "checkpointer": saver, "trace": False}
    assert run(REQUEST, spec=SPEC, **options).answer == ANSWER
    events: list[Event] = []
    again = run("Double it.", spec=SPEC, on_event=events.append, **options)
    assert again.answer == "800" and calls(again) == [("calculator", {"expression": "400*2"}, "800")]
    assert again.steps == 4, "the summary covers this request only"
    assert [e.text for e in events if e.kind == "progress"] == ["plan: 1. double 400", "step 1: 800"]


def test_step_limit_and_planner_failure_end_the_run_with_stopped() -> None:
    model, _ = scripted()
    limited = run(REQUEST, chat_model=model, spec=SPEC, max_steps=3, trace=False)
    assert limited.stopped == "step_limit" and limited.steps == 3
    assert limited.answer.startswith("Stopped after 3 model calls")
    assert calls(limited) == TOOL_CALLS[:1]
    model, _ = scripted([turn("400, I think"), turn("still no JSON")])
    failed = run(REQUEST, chat_model=model, spec=SPEC, trace=False)
    assert failed.stopped == "plan_error" and failed.steps == 2 and not failed.tool_calls
    assert failed.answer.startswith("Could not make a plan")


def test_the_planner_preset_runs_on_plan_execute() -> None:
    planner = builtin_agents(has_index=False).get("planner")
    assert planner.graph == "plan_execute" and planner.graph_module().__name__ == "graphs.plan_execute"
    plan = plan_run(REQUEST, agent="planner", has_index=False)
    assert (plan.graph, plan.tools, plan.max_steps) == ("plan_execute", ("calculator", "symbolic"), 16)
    assert plan_run(REQUEST, has_index=False).graph == "auto"
    model, fake = scripted()
    summary = run_agent("planner", REQUEST, chat_model=model, trace=False)
    assert summary.answer == ANSWER and calls(summary) == TOOL_CALLS
    assert sorted(t["function"]["name"] for t in fake.requests[1].tools) == ["calculator", "symbolic"]


# --- CLI: ``qwengraph run --agent planner`` against a loopback vLLM -----------------------------


def server_script() -> list[ServerTurn]:
    return [
        ServerTurn(thinking="Two steps.", content=json.dumps(PLAN)),
        ServerTurn(tool_calls=[("calculator", {"expression": "17*23"})]),
        ServerTurn(content="17*23 = 391."),
        ServerTurn(tool_calls=[("calculator", {"expression": "391+9"})]),
        ServerTurn(content="391 + 9 = 400."),
        ServerTurn(thinking="Checks out.", content=VERDICT),
    ]


def cli(server: VLLMServer, *args: str) -> Any:
    base = ["run", REQUEST, "--agent", "planner", "--model", "openai:Qwen/Qwen3-8B"]
    return CliRunner().invoke(app, [*base, "--base-url", server.base_url, *args], catch_exceptions=False)


def test_cli_run_agent_planner_json() -> None:
    with VLLMServer(server_script()) as server:
        result = cli(server, "--json", "--language", "English")
        requests = server.chat_requests
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"] == ANSWER and "stopped" not in out
    assert [(c["name"], c["args"], c["result"]) for c in out["tool_calls"]] == [
        (n, a, r) for n, a, r in TOOL_CALLS
    ]
    assert out["steps"] == 6 and out["thinking"] == ["Two steps.", "Checks out."]
    assert len(requests) == 6
    assert requests[0]["chat_template_kwargs"] == {"enable_thinking": True}, "the planner thinks"
    assert requests[1]["chat_template_kwargs"] == {"enable_thinking": False}, "the executor does not"
    assert "tools" not in requests[0] and requests[1]["tools"]
    executor_system = message_text(requests[1]["messages"][0]["content"])
    assert executor_system.endswith("Answer in English.")


def test_cli_run_agent_planner_shows_progress_and_the_answer() -> None:
    with VLLMServer(server_script()) as server:
        result = cli(server, "--no-trace")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "plan: 1. multiply 17 by 23; 2. add 9 to the product" in out
    assert '→ calculator({"expression": "17*23"}) = 391' in out and "step 2: 391 + 9 = 400." in out
    assert out.rstrip().endswith(ANSWER)
    assert '"steps"' not in out and '"accept"' not in out, "the planner's and verifier's JSON is not shown"


def test_cli_planner_step_limit_exits_1() -> None:
    with VLLMServer(server_script()) as server:
        result = cli(server, "--json", "--max-steps", "2")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["stopped"] == "step_limit" and out["steps"] == 2
    assert out["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]


def test_cli_resume_rebuilds_the_agent_the_thread_records(tmp_path) -> None:
    """A planner run waiting for approval resumes from the CLI without naming the agent again."""
    from agents.runner import thread_origin
    from graphs.memory import open_checkpointer

    uri = f"sqlite:///{tmp_path / 'threads.db'}"
    with VLLMServer(server_script()) as server:
        with open_checkpointer(uri) as saver, pytest.raises(ConfigError, match="waiting for a tool approval"):
            run_agent(
                "planner",
                REQUEST,
                model="openai:Qwen/Qwen3-8B",
                base_url=server.base_url,
                thread="p1",
                checkpointer=saver,
                approve=["calculator"],
                trace=False,
            )
        with open_checkpointer(uri) as saver:
            assert thread_origin(saver, "p1") == ("plan_execute", "planner")
        args = ["resume", "--thread", "p1", "--memory", uri, "--model", "openai:Qwen/Qwen3-8B"]
        args += ["--base-url", server.base_url, "--approve", "calculator", "--json"]
        result = CliRunner().invoke(app, args, input="a\na\n", catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["answer"] == ANSWER
    assert [(c["name"], c["args"], c["result"]) for c in out["tool_calls"]][-1] == TOOL_CALLS[-1]

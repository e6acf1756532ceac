"""Every Python-API knob has its flag: sampling, thinking, the soft switch, the sandbox, the search
index, long-term memory in ``run``, and ``chat --agent``. Each test checks what reaches the (loopback)
model server or which tools the model is offered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import Turn, VLLMServer, message_text
from typer.testing import CliRunner

from agents.cli import app
from tools.code_runner.gvisor import gvisor_usable

MODEL = ("--model", "openai:Qwen/Qwen3-8B")


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def offered(body: dict) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", [])]


def test_sampling_flags_and_the_soft_switch_reach_the_server() -> None:
    with VLLMServer() as server:
        result = cli(
            "run",
            "What is 17*23?",
            *MODEL,
            "--base-url",
            server.base_url,
            "--json",
            "--temperature",
            "0.3",
            "--seed",
            "7",
            "--max-tokens",
            "99",
            "--think",
            "off",
            "--soft-switch",
        )
        body = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.3, 7, 99)
    assert message_text(body["messages"][-1]["content"]).endswith("/no_think")  # the switch is in the prompt
    assert "chat_template_kwargs" not in body


def test_think_on_off_auto_map_to_the_template_switch() -> None:
    switches = {}
    for flag in (["--think", "on"], ["--no-think"], ["--think", "auto"]):
        with VLLMServer() as server:
            result = cli("run", "What is 17*23?", *MODEL, "--base-url", server.base_url, "--json", *flag)
            assert result.exit_code == 0, result.stderr
            switches[" ".join(flag)] = server.chat_requests[0]["chat_template_kwargs"]["enable_thinking"]
    assert switches["--think on"] is True and switches["--no-think"] is False
    assert isinstance(switches["--think auto"], bool)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--think", "maybe"], "--think must be on, off or auto"),
        (["--think", "on", "--no-think"], "--no-think contradicts --think on"),
        (["--sandbox", "docker"], "--sandbox must be one of auto, bwrap, gvisor"),
        (["--thinking-budget", "0"], "Invalid value for '--thinking-budget'"),
        (["--temperature", "3"], "Invalid value for '--temperature'"),
    ],
)
def test_bad_flag_values_are_one_clear_error(flags: list[str], message: str) -> None:
    result = cli("run", "hi", *MODEL, "--base-url", "http://127.0.0.1:9/v1", "--tools", "run_python", *flags)
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_thinking_budget_reaches_the_model() -> None:
    with VLLMServer() as server:
        result = cli(
            "run",
            "What is 17*23?",
            *MODEL,
            "--base-url",
            server.base_url,
            "--json",
            "--thinking-budget",
            "64",
        )
        body = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    assert body["thinking_token_budget"] == 64  # vLLM's own budget field


@pytest.mark.skipif(
    gvisor_usable() is None, reason="gVisor works here; the refusal path needs a machine without it"
)
def test_sandbox_gvisor_fails_closed_when_runsc_is_missing() -> None:
    result = cli(
        "run",
        "hi",
        *MODEL,
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--tools",
        "run_python",
        "--sandbox",
        "gvisor",
    )
    assert result.exit_code == 6 and "runsc" in result.stderr


def test_db_points_the_search_tool_at_another_index(tmp_path: Path) -> None:
    index = tmp_path / "docs.db"
    docs = Path(__file__).parent / "fixtures" / "docs"
    assert cli("ingest", str(docs), "--db", str(index)).exit_code == 0

    def script(body: dict) -> Turn:
        results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
        if not results:
            return Turn(tool_calls=[("search", {"query": "refund policy"})])
        return Turn(content="See: " + results[-1].splitlines()[0])

    with VLLMServer(script) as server:
        missing = cli("run", "Refunds?", *MODEL, "--base-url", server.base_url, "--tools", "search")
        assert missing.exit_code == 2 and "no document index" in missing.stderr  # the default index is empty
        result = cli(
            "run",
            "Refunds?",
            *MODEL,
            "--base-url",
            server.base_url,
            "--tools",
            "search",
            "--db",
            str(index),
            "--json",
        )
    assert result.exit_code == 0, result.stderr
    assert "billing.py:" in json.loads(result.stdout)["answer"]


def test_user_gives_run_long_term_memory() -> None:
    def remember(body: dict) -> Turn:
        if any(m.get("role") == "tool" for m in body["messages"]):
            return Turn(content="Noted.")
        return Turn(tool_calls=[("remember", {"fact": "Ada prefers answers in French."})])

    with VLLMServer(remember) as server:
        first = cli(
            "run",
            "Remember: I prefer French.",
            *MODEL,
            "--base-url",
            server.base_url,
            "--user",
            "ada",
            "--json",
        )
        tools_first = offered(server.chat_requests[0])
    assert first.exit_code == 0, first.stderr
    assert {"remember", "recall"} <= set(tools_first)

    with VLLMServer(lambda body: Turn(content="Bonjour.")) as server:
        second = cli(
            "run",
            "Which language do I prefer for answers?",
            *MODEL,
            "--base-url",
            server.base_url,
            "--user",
            "ada",
            "--json",
        )
        system = message_text(server.chat_requests[0]["messages"][0]["content"])
    assert second.exit_code == 0, second.stderr
    assert "Ada prefers answers in French." in system  # recalled into the system prompt


def test_chat_with_an_agent_and_thinking_off() -> None:
    with VLLMServer(lambda body: Turn(content="Hello!")) as server:
        result = cli(
            "chat",
            "--agent",
            "math-tutor",
            "--no-think",
            *MODEL,
            "--base-url",
            server.base_url,
            stdin="hi\n/exit\n",
        )
        body = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    assert "with math-tutor" in result.stdout and "Hello!" in result.stdout
    assert sorted(offered(body)) == ["calculator", "symbolic"]
    assert body["chat_template_kwargs"]["enable_thinking"] is False

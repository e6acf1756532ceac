"""``qwengraph run`` end to end against loopback servers speaking Ollama's and vLLM's wire formats."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from servers import CALC_ANSWER, OllamaServer, Turn, VLLMServer
from typer.testing import CliRunner

from agents.cli import app

PROMPT = "What is 17*23? Use the calculator."


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def run_json(*args: str) -> dict:
    result = cli("run", PROMPT, "--json", *args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "--json prints exactly one JSON object"
    return json.loads(lines[0])


def assert_calculator_run(out: dict) -> None:
    assert set(out) == {"answer", "thinking", "tool_calls", "steps", "usage"}
    assert "391" in out["answer"]
    assert out["answer"] == CALC_ANSWER
    assert out["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]
    assert len(out["thinking"]) == 2 and "calculator" in out["thinking"][0]
    assert not any("<think>" in t for t in out["thinking"])
    assert out["steps"] == 2
    assert out["usage"]["input_tokens"] > 0 and out["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("stream", [True, False])
def test_ollama_native(ollama_server: OllamaServer, stream: bool) -> None:
    flags = [] if stream else ["--no-stream"]
    out = run_json("--model", "ollama:qwen3:8b", "--base-url", ollama_server.url, *flags)
    assert_calculator_run(out)
    first, second = ollama_server.chat_requests
    assert first["think"] is True and first["stream"] is stream
    assert first["options"]["temperature"] == 0.6 and first["options"]["top_k"] == 20
    assert first["tools"][0]["function"]["name"] == "calculator"
    tool_message = second["messages"][-1]
    assert tool_message == {"role": "tool", "content": "391", "tool_name": "calculator"}
    assistant = second["messages"][-2]
    assert assistant["tool_calls"][0]["function"]["arguments"] == {"expression": "17*23"}
    # the call belongs to the current turn: its own thinking goes back in Ollama's field, not the text
    assert "calculator tool" in assistant["thinking"] and "calculator tool" not in assistant.get(
        "content", ""
    )


@pytest.mark.parametrize("style", ["reasoning", "reasoning_content", "both"])
@pytest.mark.parametrize("stream", [True, False])
def test_vllm(stream: bool, style: str) -> None:
    with VLLMServer(reasoning_style=style) as server:
        flags = [] if stream else ["--no-stream"]
        out = run_json("--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url, *flags)
        requests = server.chat_requests
    assert_calculator_run(out)
    assert requests[0]["chat_template_kwargs"] == {"enable_thinking": True}
    assert requests[0]["stream"] is stream
    call = requests[1]["messages"][-2]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"expression": "17*23"}
    assert requests[1]["messages"][-1]["tool_call_id"] == call["id"]
    assert "calculator tool" in requests[1]["messages"][-2]["reasoning"]  # this turn's own thinking


def test_no_think_is_sent_to_both_servers(ollama_server: OllamaServer) -> None:
    run_json("--model", "ollama:qwen3:8b", "--base-url", ollama_server.url, "--no-think")
    assert ollama_server.chat_requests[0]["think"] is False
    assert ollama_server.chat_requests[0]["options"]["temperature"] == 0.7
    with VLLMServer() as server:
        run_json("--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url, "--no-think")
        assert server.chat_requests[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_human_output_streams_thinking_tool_and_answer(ollama_server: OllamaServer) -> None:
    result = cli("run", PROMPT, "--model", "ollama:qwen3:8b", "--base-url", ollama_server.url)
    assert result.exit_code == 0, result.stderr
    assert "I should use the calculator tool" in result.stdout
    assert 'calculator({"expression": "17*23"}) = 391' in result.stdout
    assert CALC_ANSWER in result.stdout


def test_base_url_from_environment(ollama_server: OllamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_BASE_URL", ollama_server.url)
    monkeypatch.setenv("QWENGRAPH_MODEL", "ollama:qwen3:8b")
    assert_calculator_run(run_json())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_one_line_error(result, code: int, *phrases: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    for phrase in phrases:
        assert phrase in err


def test_dead_server_fails_with_one_line_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("run", PROMPT, "--json", "--model", "ollama:qwen3:8b", "--base-url", url)
    assert_one_line_error(result, 3, "cannot reach Ollama", "gave up after 3 attempts")
    result = cli("run", PROMPT, "--json", "--model", "openai:Qwen/Qwen3-8B", "--base-url", url + "/v1")
    assert_one_line_error(result, 3, "cannot reach", "gave up after 3 attempts")


def test_unknown_ollama_model_suggests_pull(ollama_server: OllamaServer) -> None:
    result = cli("run", PROMPT, "--model", "ollama:qwen3:99b", "--base-url", ollama_server.url)
    assert_one_line_error(result, 3, "ollama pull qwen3:99b", "not found")
    assert len(ollama_server.chat_requests) == 1, "a 404 is not retried"


def test_unknown_vllm_model(vllm_server: VLLMServer) -> None:
    result = cli("run", PROMPT, "--model", "openai:Qwen/Qwen3-99B", "--base-url", vllm_server.base_url)
    assert_one_line_error(result, 3, "does not serve model 'Qwen/Qwen3-99B'")


@pytest.mark.parametrize("kind", ["ollama", "vllm"])
def test_5xx_is_retried_then_succeeds(kind: str) -> None:
    server = OllamaServer() if kind == "ollama" else VLLMServer()
    with server:
        server.fail_next(2, status=503)
        if kind == "ollama":
            out = run_json("--model", "ollama:qwen3:8b", "--base-url", server.url)
        else:
            out = run_json("--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url)
    assert_calculator_run(out)


def test_persistent_5xx_gives_up(vllm_server: VLLMServer) -> None:
    vllm_server.fail_next(10, status=500)
    result = cli("run", PROMPT, "--model", "openai:Qwen/Qwen3-8B", "--base-url", vllm_server.base_url)
    assert_one_line_error(result, 3, "HTTP 500", "gave up after 3 attempts")
    assert len(vllm_server.chat_requests) == 3


def test_timeout_gives_up(ollama_server: OllamaServer) -> None:
    ollama_server.delay = 1.0
    args = ["--model", "ollama:qwen3:8b", "--base-url", ollama_server.url, "--timeout", "0.2"]
    result = cli("run", PROMPT, *args)
    assert_one_line_error(result, 3, "timed out")


def test_dropped_connection_is_retried(ollama_server: OllamaServer) -> None:
    ollama_server.drop_next(1)
    assert_calculator_run(run_json("--model", "ollama:qwen3:8b", "--base-url", ollama_server.url))


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (["--model", "gpt4"], 2, "invalid model 'gpt4'"),
        (["--model", "ollama:"], 2, "invalid model"),
        (["--model", "ollama:q", "--base-url", "localhost:1"], 2, "must start with http"),
        (["--record", "a.json", "--replay", "b.json"], 2, "cannot be used together"),
        (["--replay", "/nonexistent/cassette.json"], 2, "no cassette at"),
    ],
)
def test_bad_flags_are_one_line_errors(args: list[str], code: int, phrase: str) -> None:
    assert_one_line_error(cli("run", PROMPT, *args), code, phrase)


def test_out_of_range_flags_are_rejected_by_the_parser() -> None:
    result = cli("run", PROMPT, "--max-steps", "0")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert cli("run", "   ").exit_code == 2


def test_step_limit_exits_non_zero_with_a_message(ollama_server: OllamaServer) -> None:
    ollama_server.script = lambda body: Turn(tool_calls=[("calculator", {"expression": "1+1"})])
    result = cli(
        "run", PROMPT, "--model", "ollama:qwen3:8b", "--base-url", ollama_server.url, "--max-steps", "2"
    )
    assert result.exit_code == 1
    assert "Stopped after 2 model calls" in result.stderr


def test_record_then_replay_offline(tmp_path) -> None:
    cassette = tmp_path / "run.json"
    with VLLMServer() as server:
        url = server.base_url
        live = run_json("--model", "openai:Qwen/Qwen3-8B", "--base-url", url, "--record", str(cassette))
    recorded = json.loads(cassette.read_text())
    assert [i["request"]["path"] for i in recorded["interactions"]] == ["/v1/chat/completions"] * 2
    replayed = run_json("--model", "openai:Qwen/Qwen3-8B", "--base-url", url, "--replay", str(cassette))
    assert replayed == live


def test_replay_drift_is_a_clean_error(tmp_path) -> None:
    cassette = tmp_path / "run.json"
    with OllamaServer() as server:
        run_json("--model", "ollama:qwen3:8b", "--base-url", server.url, "--record", str(cassette))
    result = cli("run", "What is 18*23?", "--model", "ollama:qwen3:8b", "--replay", str(cassette))
    assert result.exit_code == 4 and result.stdout == ""
    first, *diff = result.stderr.strip().splitlines()
    assert first.startswith("error: cassette") and "interactions[0]" in first
    assert "json.messages[1].content" in first
    assert '+        "content": "What is 18*23?",' in diff
    assert "Traceback" not in result.stderr


def test_console_script_in_a_real_process(ollama_server: OllamaServer, tmp_path) -> None:
    """The installed entry point, as a user runs it: one JSON object on stdout, exit 0."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents",
            "run",
            PROMPT,
            "--model",
            "ollama:qwen3:8b",
            "--base-url",
            ollama_server.url,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "QWENGRAPH_HOME": str(tmp_path)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert_calculator_run(json.loads(proc.stdout))


def test_too_long_input_is_refused_before_any_request(ollama_server: OllamaServer) -> None:
    prompt = "x" * 40_000
    result = cli("run", prompt, "--model", "ollama:qwen3:8b", "--base-url", ollama_server.url)
    assert_one_line_error(result, 2, "too long")
    assert ollama_server.chat_requests == []

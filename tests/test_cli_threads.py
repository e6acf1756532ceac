"""Threads that survive restarts, approval at the terminal, and resume after a SIGKILLed CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from servers import CALC_ANSWER, OllamaServer, Turn, calculator_script, message_text
from typer.testing import CliRunner

from agents.cli import app

PROMPT = "What is 17*23? Use the calculator."


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    monkeypatch.delenv("QWENGRAPH_MEMORY", raising=False)
    return tmp_path


def cli(*args: str, stdin: str = ""):
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def echo_script(body: dict) -> Turn:
    users = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "user"]
    return Turn(content=f"I have seen: {' | '.join(users)}")


def test_chat_keeps_the_conversation_across_restarts() -> None:
    with OllamaServer(echo_script) as server:
        args = ["chat", "--thread", "notes", "--model", "ollama:qwen3:8b", "--base-url", server.url]
        first = cli(*args, stdin="my name is Ada\n/exit\n")
        second = cli(*args, stdin="what is my name?\n")
    assert first.exit_code == 0 and second.exit_code == 0, (first.stderr, second.stderr)
    assert "I have seen: my name is Ada" in first.stdout
    assert "I have seen: my name is Ada | what is my name?" in second.stdout
    assert "(2 messages)" in second.stdout


def test_threads_list_show_delete() -> None:
    empty = cli("threads", "list")
    assert empty.exit_code == 0 and empty.stdout.startswith("no saved threads yet")
    with OllamaServer(echo_script) as server:
        cli("run", "hello there", "--thread", "a", "--model", "ollama:qwen3:8b", "--base-url", server.url)
    listing = cli("threads", "list")
    assert listing.exit_code == 0
    header, row = (line for line in listing.stdout.splitlines() if "│" in line or "┃" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")] == ["thread", "last activity (UTC)", "messages"]
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[0] == "a" and cells[2] == "2" and len(cells[1]) == 19
    as_json = json.loads(cli("threads", "list", "--json").stdout)
    assert [(t["thread"], t["messages"]) for t in as_json] == [("a", 2)]
    shown = cli("threads", "show", "a")
    assert "human> hello there" in shown.stdout and "ai> I have seen: hello there" in shown.stdout
    assert cli("threads", "delete", "a").stdout == "deleted thread a\n"
    missing = cli("threads", "show", "a")
    assert missing.exit_code == 2 and "no thread named 'a'" in missing.stderr


@pytest.mark.parametrize(
    ("answer", "tool_content"),
    [
        ("a\n", "391"),
        ("r\n", "rejected this calculator call (rejected by the user)"),
        ("", "standard input is closed"),
    ],
    ids=["approve", "reject", "stdin-closed"],
)
def test_approve_asks_before_the_tool_runs(answer: str, tool_content: str) -> None:
    with OllamaServer() as server:
        result = cli(
            "run",
            PROMPT,
            "--model",
            "ollama:qwen3:8b",
            "--base-url",
            server.url,
            "--approve",
            "calculator",
            "--json",
            stdin=answer,
        )
        tool_message = server.chat_requests[1]["messages"][-1]
    assert result.exit_code == 0, result.stderr
    assert 'approve calculator({"expression": "17*23"})?' in result.stderr
    assert tool_content in tool_message["content"]
    json.loads(result.stdout)  # stdout stays one JSON object


def test_edit_changes_the_arguments() -> None:
    with OllamaServer() as server:
        cli(
            "run",
            PROMPT,
            "--model",
            "ollama:qwen3:8b",
            "--base-url",
            server.url,
            "--approve",
            "calculator",
            stdin='e\n{"expression": "18*23"}\n',
        )
        assert server.chat_requests[1]["messages"][-1]["content"] == "414"


def test_resume_with_nothing_to_resume_is_a_clean_error() -> None:
    result = cli("resume", "--thread", "nope", "--model", "ollama:qwen3:8b")
    assert result.exit_code == 2 and "no unfinished run" in result.stderr


@pytest.mark.slow
def test_killed_cli_run_resumes_to_the_clean_answer(home: Path) -> None:
    hold = threading.Event()

    def script(body: dict) -> Turn:
        tool_seen = any(m.get("role") == "tool" for m in body["messages"])
        if tool_seen and not hold.is_set():
            hold.set()
            time.sleep(60)  # the first run waits here for its second model call: it gets killed
        return calculator_script(body)

    with OllamaServer(script) as server:
        env = {
            **os.environ,
            "QWENGRAPH_HOME": str(home),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        args = ["--model", "ollama:qwen3:8b", "--base-url", server.url]
        proc = subprocess.Popen(
            [sys.executable, "-m", "agents", "run", PROMPT, "--thread", "job", "--json", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not hold.is_set():
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        resumed = subprocess.run(
            [sys.executable, "-m", "agents", "resume", "--thread", "job", "--json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        requests = server.chat_requests
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["answer"] == CALC_ANSWER
    assert out["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]
    assert len(requests) == 3, "first call, the killed second call, and the resumed second call"
    assert requests[2]["messages"] == requests[1]["messages"], "resume continues from the saved step"


def test_chat_user_memory_is_recalled_in_a_later_session() -> None:
    def script(body: dict) -> Turn:
        system = message_text(body["messages"][0].get("content"))
        last = message_text(body["messages"][-1].get("content"))
        if body["messages"][-1].get("role") == "tool":
            return Turn(content="Noted.")
        if last.startswith("remember"):
            return Turn(tool_calls=[("remember", {"fact": "The user's favourite number is 17."})])
        return Turn(content="favourite number 17" if "favourite number is 17" in system else "I do not know.")

    with OllamaServer(script) as server:
        args = ["chat", "--user", "ada", "--model", "ollama:qwen3:8b", "--base-url", server.url]
        first = cli(*args, "--thread", "one", stdin="remember my favourite number is 17\n")
        second = cli(*args, "--thread", "two", stdin="what is my favourite number?\n")
        tools = [t["function"]["name"] for t in server.chat_requests[0]["tools"]]
    assert first.exit_code == 0 and second.exit_code == 0, (first.stderr, second.stderr)
    assert tools == ["calculator", "remember", "recall"]
    assert "favourite number 17" in second.stdout

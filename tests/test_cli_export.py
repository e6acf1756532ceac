"""``qwengraph export``: threads saved by real runs become ChatML training examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from langchain_core.utils.function_calling import convert_to_openai_tool
from typer.testing import CliRunner

from agents.cli_export import register
from agents.runner import run
from graphs.memory import open_checkpointer
from graphs.models.chat import ChatQwen
from graphs.models.chatml import render_chatml
from graphs.models.qwen import ToolCall
from graphs.models.testing import ScriptedTransport, Turn, turn
from tools import calculator

PROMPT = "What is 17*23?"
CALC_SCHEMA = convert_to_openai_tool(calculator)  # what bind_tools shows the model


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    monkeypatch.delenv("QWENGRAPH_MEMORY", raising=False)
    return tmp_path


def app() -> typer.Typer:
    cli = typer.Typer()
    cli.callback()(lambda: None)
    register(cli)
    return cli


def export(*args: str):
    return CliRunner().invoke(app(), ["export", *args], catch_exceptions=False)


def calc_turn() -> Turn:
    call = ToolCall(name="calculator", args={"expression": "17*23"}, id="call_1")
    return Turn(thinking="Multiply with the tool.", tool_calls=[call])


def save_thread(uri: str, thread: str, *turns: Turn, prompt: str = PROMPT, max_steps: int = 8) -> None:
    model = ChatQwen(model="ollama:qwen3:8b", transport=ScriptedTransport(list(turns)))
    with open_checkpointer(uri) as saver:
        run(prompt, chat_model=model, thread=thread, checkpointer=saver, max_steps=max_steps, trace=False)


@pytest.fixture
def memory(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path}/threads.db"
    save_thread(uri, "good", calc_turn(), turn("17 × 23 = 391.", thinking="The tool says 391."))
    save_thread(uri, "limited", calc_turn(), max_steps=1)
    return uri


EXPECTED = {
    "messages": [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "17*23"}'},
                }
            ],
        },
        {"role": "tool", "content": "391", "tool_call_id": "call_1", "name": "calculator"},
        {"role": "assistant", "content": "17 × 23 = 391."},
    ],
    "tools": [CALC_SCHEMA],
}


def test_successful_thread_becomes_one_exact_jsonl_line(memory: str) -> None:
    result = export("--format", "chatml-jsonl", "--all-threads", "--memory", memory)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == EXPECTED
    assert CALC_SCHEMA["function"]["parameters"]["required"] == ["expression"]
    assert "skipped thread limited: a run stopped (step_limit)" in result.stderr
    assert "exported 1 of 2 thread(s)" in result.stderr


def test_thinking_is_included_only_when_asked(memory: str, tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    result = export("--thread", "good", "--with-thinking", "--memory", memory, "--out", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"exported 1 of 1 thread(s) to {out}" in result.stderr
    example = json.loads(out.read_text(encoding="utf-8"))
    contents = [m["content"] for m in example["messages"] if m["role"] == "assistant"]
    assert contents == [
        "<think>\nMultiply with the tool.\n</think>\n\n",
        "<think>\nThe tool says 391.\n</think>\n\n17 × 23 = 391.",
    ]
    plain = export("--thread", "good", "--memory", memory)
    assert "Multiply" not in plain.stdout and "<think>" not in plain.stdout


def test_text_writes_the_rendered_chatml(memory: str) -> None:
    result = export("--thread", "good", "--text", "--system", "You are a tutor.", "--memory", memory)
    assert result.exit_code == 0, result.stderr
    text = json.loads(result.stdout)["text"]
    call = {"id": "call_1", "name": "calculator", "args": {"expression": "17*23"}}
    expected_messages = [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "391", "tool_call_id": "call_1", "name": "calculator"},
        {"role": "assistant", "content": "17 × 23 = 391."},
    ]  # fmt: skip
    assert text == render_chatml(
        expected_messages, [CALC_SCHEMA], add_generation_prompt=False, family="qwen3"
    )
    assert text.startswith("<|im_start|>system\nYou are a tutor.\n\n# Tools")
    assert '<tool_call>\n{"name": "calculator", "arguments": {"expression": "17*23"}}\n</tool_call>' in text
    assert "<tool_response>\n391\n</tool_response>" in text
    assert text.endswith("17 × 23 = 391.<|im_end|>\n")


def test_tools_option_lists_the_same_tools_in_every_example(memory: str, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/threads.db"
    save_thread(uri, "chat", turn("Hello!"), prompt="hi")
    result = export("--all-threads", "--tools", "calculator,symbolic", "--memory", uri)
    examples = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(examples) == 2
    assert all([t["function"]["name"] for t in e["tools"]] == ["calculator", "symbolic"] for e in examples)
    auto = export("--thread", "chat", "--memory", uri)
    assert json.loads(auto.stdout) == {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}],
        "tools": [],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all-threads", "--format", "alpaca"], "unknown format 'alpaca'; choose from chatml-jsonl"),
        ([], "name threads with --thread NAME (repeatable) or pass --all-threads"),
        (["--thread", "good", "--all-threads"], "name threads with --thread NAME"),
        (["--thread", "nope"], "no thread named 'nope'"),
        (["--thread", "limited"], "no successful conversation to export among 1 thread(s)"),
        (["--all-threads", "--text", "--family", "qwen4"], "unknown chat template family 'qwen4'"),
        (["--all-threads", "--tools", "hammer"], "unknown tool hammer"),
    ],
)
def test_clear_errors(memory: str, args: list[str], message: str) -> None:
    result = export(*args, "--memory", memory)
    assert result.exit_code == 2  # bad input, per the exit-code table (1 is a run that stopped early)
    assert message in " ".join(result.stderr.split())

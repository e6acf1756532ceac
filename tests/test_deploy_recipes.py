"""The documented deployment recipes (docs/deployment.md), run: Foundry Local through ``openai:``
against a loopback server.

The command is read from the documentation's Foundry Local recipe itself (only the port changes: Foundry
Local picks its own), so the documented line is the one that is tested.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from servers.foundry import FoundryLocalServer
from typer.testing import CliRunner

from agents.cli import app

README = (Path(__file__).resolve().parents[1] / "docs" / "deployment.md").read_text(encoding="utf-8")


def recipe(heading: str) -> list[str]:
    """The ``qwengraph run`` command in the documentation's section under ``heading``, as arguments."""
    section = README.split(heading, 1)[1].split("\n## ", 1)[0]
    line = next(line for line in section.splitlines() if line.startswith("qwengraph run "))
    return shlex.split(line)[1:]


@pytest.mark.parametrize("stream", [True, False])
def test_the_foundry_local_recipe_runs_a_calculator_turn(stream: bool) -> None:
    args = recipe("## Foundry Local")
    base = args.index("--base-url") + 1
    assert re.fullmatch(r"http://localhost:\d+/v1", args[base]), "the recipe names Foundry Local's /v1 URL"
    with FoundryLocalServer() as server:
        args[base] = server.base_url
        flags = ["--json"] + ([] if stream else ["--no-stream"])
        result = CliRunner().invoke(app, [*args, *flags], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        out = json.loads(result.stdout)
        first, second = server.chat_requests
    assert out["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]
    assert "391" in out["answer"]  # the script answers 391 only when the tool message said 391
    assert first["model"] == "qwen2.5-0.5b-instruct-generic-cpu" and first["stream"] is stream
    assert first["tools"][0]["function"]["name"] == "calculator"
    # the call came back as JSON text in content; qwengraph sent it back as a structured call
    assistant, tool = second["messages"][-2:]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"expression": "17*23"}
    assert tool["role"] == "tool" and tool["content"] == "391"


def test_an_unloaded_foundry_model_is_one_line() -> None:
    args = recipe("## Foundry Local")
    with FoundryLocalServer(models=["phi-4-mini-instruct-generic-cpu"]) as server:
        args[args.index("--base-url") + 1] = server.base_url
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "qwen2.5-0.5b-instruct-generic-cpu" in result.stderr

"""The CLI starts light: help, --version and completion import neither LangChain nor LangGraph.

Startup time itself is a figure for ``tests/bench/cli_startup.py``; what is asserted here is the
cause of a slow start: which heavy packages a command's help pulls in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agents.cli import app
from agents.cli_lazy import LAZY_COMMANDS, load_command

HEAVY = ("langchain_core", "langgraph", "sqlite_utils", "httpx", "ollama", "sympy", "jinja2", "respx", "mcp")

PROBE = """
import json, sys
sys.argv = ["qwengraph", *json.loads(sys.argv[1])]
from agents.cli import main
try:
    main()
except SystemExit:
    pass
print("\\nLOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded_after(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"COLUMNS": "100", "PATH": ""},
    )
    out, _, modules = done.stdout.rpartition("\nLOADED ")
    return out, set(json.loads(modules))


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["run", "--help"], ["chat", "--help"], ["resume", "--help"]]
)
def test_help_imports_no_heavy_package(args: list[str]) -> None:
    out, modules = loaded_after(*args)
    assert out.strip(), "the command printed nothing"
    assert not modules & set(HEAVY), f"{' '.join(args)} imported {sorted(modules & set(HEAVY))}"


def test_the_top_level_help_lists_commands_in_groups_run_first() -> None:
    out, _ = loaded_after("--help")
    assert "<bool>" not in out and "{prompt}" not in out
    panels = [line.strip("╭─ ").split(" ─")[0] for line in out.splitlines() if line.startswith("╭─")]
    assert panels == [
        "Options",
        "Run agents",
        "Threads and traces",
        "Documents, tools and workflows",
        "Models and setup",
    ]
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("╭─ Run agents"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("╰"))
    names = [line.split()[1] for line in lines[start + 1 : end] if line[2:3].strip()]
    assert names == ["run", "chat", "resume"]


def test_run_help_shows_clean_placeholders() -> None:
    out, _ = loaded_after("run", "--help")
    assert "Usage: qwengraph run [OPTIONS] PROMPT" in out
    assert "<bool>" not in out and "<str>" not in out and "{prompt}" not in out
    for flag in (
        "--thinking-budget",
        "--soft-switch",
        "--temperature",
        "--seed",
        "--max-tokens",
        "--sandbox",
        "--user",
        "--db",
        "--index",
        "--mcp",
        "--otel",
    ):
        assert flag in out


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"qwengraph {version('qwengraph')}\n"


def test_completion_is_installable() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"], env={"SHELL": "/bin/bash"})
    assert result.exit_code == 0 and "_QWENGRAPH_COMPLETE" in result.stdout


@pytest.mark.parametrize("entry", LAZY_COMMANDS, ids=[e.name for e in LAZY_COMMANDS])
def test_each_lazy_entry_loads_its_command(entry) -> None:
    command = load_command(entry)
    assert command.name == entry.name and (command.help or "").strip()

"""The README documents every CLI command, option and built-in tool; our ``agents`` is the one imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

import agents
from agents.cli import app
from agents.runner import default_tools
from agents.toolbox import TOOL_NAMES
from tools import calculator, symbolic

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: Any, prefix: str = "qwengraph") -> list[tuple[str, Any]]:
    """Every leaf command with its full name (typer may use its own click, so duck-typed)."""
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(commands(command, path))
        else:
            found.append((path, command))
    return found


ALL = commands(typer.main.get_group(app))


def test_the_cli_has_the_commands_we_expect() -> None:
    names = {path for path, _ in ALL}
    assert {"qwengraph run", "qwengraph models list", "qwengraph models install"} <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[p for p, _ in ALL])
def test_every_command_and_option_is_in_the_readme(path: str, command: Any) -> None:
    assert path in README, f"`{path}` is not documented in README.md"
    for param in command.params:
        for flag in [*param.opts, *param.secondary_opts]:
            if flag.startswith("--") and flag != "--help":
                assert flag in README, f"{path} {flag} is not documented in README.md"


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_built_in_tool_has_a_readme_section(name: str) -> None:
    assert f"### `{name}`" in README


def test_the_toolbox_names_are_the_tools_names() -> None:
    """The name a user passes to --tools is the name the model sees."""
    assert {t.name for t in default_tools()} <= set(TOOL_NAMES)
    assert {calculator.name, symbolic.name} == {"calculator", "symbolic"}


def test_agents_is_our_package_not_the_pypi_one() -> None:
    """Another PyPI project also installs an import package named `agents`."""
    assert Path(agents.__file__).resolve().parent == ROOT / "agents"

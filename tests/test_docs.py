"""The documentation (README.md and docs/*.md) covers every CLI command (named in the README), option
and built-in tool, and every Python example in it runs; our ``agents`` is the one imported."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from docs_scripts import SCRIPTS
from servers import OllamaServer, VLLMServer

import agents
from agents.cli import app
from agents.runner import default_tools
from agents.toolbox import TOOL_NAMES
from graphs.models.cassette import record, replay
from tools import calculator, symbolic
from tools.code_runner.bwrap import bwrap_usable

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = "".join(path.read_text(encoding="utf-8") for path in DOC_FILES)


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
                assert flag in DOCS, f"{path} {flag} is not documented in README.md or docs/"


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_built_in_tool_has_a_readme_section(name: str) -> None:
    assert f"## `{name}`" in DOCS


def test_the_toolbox_names_are_the_tools_names() -> None:
    """The name a user passes to --tools is the name the model sees."""
    assert {t.name for t in default_tools()} <= set(TOOL_NAMES)
    assert {calculator.name, symbolic.name} == {"calculator", "symbolic"}


def test_agents_is_our_package_not_the_pypi_one() -> None:
    """Another PyPI project also installs an import package named `agents`."""
    assert Path(agents.__file__).resolve().parent == ROOT / "agents"


# --------------------------------------------------------------------------- README examples run

FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"<!-- test: ([^>]*?) -->\s*$")
SERVER_URLS = ("http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://localhost:11434")


@dataclass(frozen=True)
class Example:
    """One ```python block of README.md or docs/*.md and how it runs (the ``<!-- test: ... -->`` line
    above it)."""

    file: str
    line: int
    code: str
    mode: str  # offline | ollama | vllm | sandbox | replay
    arg: str = ""

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def readme_examples() -> list[Example]:
    found = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = MARK.search(before)
            mode, _, arg = (mark.group(1).strip() if mark else "offline").partition(" ")
            found.append(Example(name, line, match.group(1), mode, arg.strip()))
    return found


EXAMPLES = readme_examples()


def test_the_readme_has_examples_and_marks_only_known_modes() -> None:
    fences = [line for line in DOCS.splitlines() if line.startswith("```python")]
    assert len(EXAMPLES) == len(fences) >= 18  # every fenced Python block is an example that runs
    assert {e.mode for e in EXAMPLES} <= {"offline", "ollama", "vllm", "sandbox", "replay"}
    assert all(e.arg in SCRIPTS for e in EXAMPLES if e.mode in ("ollama", "vllm") and e.arg)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_every_readme_python_example_runs(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each example runs as written: offline, against a loopback server (server URLs in the code are
    pointed at it), or replaying a recording of the real local model; in a fresh folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "fixtures" / "plugins"))  # the README's mypkg
    code = example.code
    with ExitStack() as stack:
        if example.mode in ("ollama", "vllm"):
            script = SCRIPTS[example.arg or "calculator"]
            server = stack.enter_context(
                OllamaServer(script) if example.mode == "ollama" else VLLMServer(script)
            )
            url = server.url if example.mode == "ollama" else f"{server.url}/v1"
            for real in SERVER_URLS:
                code = code.replace(real, url)
            monkeypatch.setenv("QWENGRAPH_BASE_URL", url)
        elif example.mode == "sandbox" and (problem := bwrap_usable()):
            pytest.skip(f"no usable sandbox here: {problem}")
        elif example.mode == "replay":
            stack.enter_context(replay(ROOT / example.arg))
        namespace: dict[str, Any] = {"__name__": "__readme__"}
        compiled = compile(code, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)  # top-level await runs as in `python -m asyncio`
        if inspect.iscoroutine(result):
            asyncio.run(result)
        for name, value in list(namespace.items()):  # pytest-style examples: run them with the fixture
            if name.startswith("test_") and inspect.isfunction(value):
                value(qwen_cassette=lambda path: record(tmp_path / "cassettes" / path))
    assert "Traceback" not in capsys.readouterr().err

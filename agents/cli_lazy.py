"""Commands whose modules load only when the command runs, so ``qwengraph --help`` stays fast.

Most commands need LangChain, LangGraph, sqlite-utils or the model layer, which take seconds to
import; listing them must not. :class:`LazyGroup` knows each command by an explicit table
(:data:`LAZY_COMMANDS`: name, ``module:attribute``, one-line help, help panel) and imports the
module only when the command is resolved (run, its own ``--help``, shell completion). The top-level
help is drawn from the table alone.

The table is a plain tuple written here, not a registry filled at import time; a test checks that
each entry's one-line help matches its command's own.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
import typer.main

AGENTS = "Run agents"
HISTORY = "Threads and traces"
TOOLS = "Documents, tools and workflows"
SETUP = "Models and setup"
PANELS = (AGENTS, HISTORY, TOOLS, SETUP)


@dataclass(frozen=True)
class LazyCommand:
    """A command known by name before its module is imported."""

    name: str
    target: str  # "module:attribute": a Typer app, or a command function
    help: str
    panel: str


LAZY_COMMANDS = (
    LazyCommand(
        "chat", "agents.cli_threads:chat_command", "Chat in a thread that survives restarts.", AGENTS
    ),
    LazyCommand(
        "resume",
        "agents.cli_threads:resume_command",
        "Continue an interrupted run from its last step.",
        AGENTS,
    ),
    LazyCommand(
        "batch",
        "agents.cli_batch:batch_command",
        "Run an agent over TASKS (JSON lines): concurrent, resumable, with a results database.",
        AGENTS,
    ),
    LazyCommand(
        "serve",
        "agents.cli_serve:serve_command",
        "Offer agents over an OpenAI-compatible API (/v1/models, /v1/chat/completions, /metrics).",
        AGENTS,
    ),
    LazyCommand(
        "threads", "agents.cli_threads:threads_app", "List, show and delete saved conversations.", HISTORY
    ),
    LazyCommand(
        "trace", "agents.cli_trace:trace_app", "Inspect recorded runs: list, show, stats, browse.", HISTORY
    ),
    LazyCommand(
        "export",
        "agents.cli_export:export_command",
        "Write good conversations as ChatML training data.",
        HISTORY,
    ),
    LazyCommand("ingest", "agents.cli_retrieval:ingest_command", "Index files for the search tool.", TOOLS),
    LazyCommand("search", "agents.cli_retrieval:search_command", "Search the indexed documents.", TOOLS),
    LazyCommand(
        "indexes",
        "agents.cli_retrieval:indexes_command",
        "List the document indexes under $QWENGRAPH_HOME.",
        TOOLS,
    ),
    LazyCommand(
        "workflow", "agents.cli_workflow:workflow_app", "Run and check scripted workflows (YAML).", TOOLS
    ),
    LazyCommand("mcp", "agents.cli_mcp:mcp_app", "Offer qwengraph's tools to MCP clients.", TOOLS),
    LazyCommand(
        "graph", "agents.cli_graph:graph_app", "Draw an agent's or a workflow's graph (offline).", TOOLS
    ),
    LazyCommand(
        "models",
        "agents.cli_models:models_app",
        "Install and manage the embedded local models; show a model's profile.",
        SETUP,
    ),
    LazyCommand("doctor", "agents.cli_doctor:doctor_command", "Check this machine for the main job.", SETUP),
    LazyCommand(
        "eval",
        "agents.eval.cli:eval_app",
        "Measure tool calling: BFCL and your own task sets, stored, compared, replayable.",
        SETUP,
    ),
)


def load_command(entry: LazyCommand) -> Any:
    """Import the command's module and build its click command (a group for a Typer app)."""
    module_name, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(entry.name)(target)
        command = typer.main.get_command(single)
    command.name = entry.name
    return command


_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE"}


def _option_type(self: Any, ctx: Any) -> str | None:
    """An option's value column: its metavar, an upper-case type name, nothing for a flag."""
    if self.is_flag or self.count:
        return None
    if self.metavar is not None:
        return str(self.metavar)
    label = str(self.display_type(ctx) or "")
    match = re.fullmatch(r"<(\w+)( range)?>", label)
    return _TYPE_NAMES.get(match.group(1), match.group(1).upper()) if match else label or None


def _no_type(self: Any, ctx: Any) -> None:
    """Arguments show their name only."""


def _argument_usage(self: Any) -> str:
    """An argument in the usage line: ``PROMPT``, or ``[NAME]`` when optional (no braces)."""
    name = str(self.metavar or self.name or "").upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


@contextmanager
def clean_help() -> Iterator[None]:
    """While the CLI runs, draw help without typer's ``<bool>``/``<str>`` types and ``{arg}`` braces.

    Typer renders every parameter's Python type in angle brackets and required arguments in braces;
    for a command line that reads as noise. The two methods are swapped only for the duration of
    one CLI call, so other Typer apps in the same process are not affected.
    """
    option, argument = typer.core.TyperOption, typer.core.TyperArgument
    saved = (option.display_type_rich, argument.display_type_rich, argument._usage_display_name)
    option.display_type_rich = _option_type  # type: ignore[method-assign]
    argument.display_type_rich = _no_type  # type: ignore[method-assign]
    argument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    try:
        yield
    finally:
        option.display_type_rich, argument.display_type_rich, argument._usage_display_name = saved  # type: ignore[method-assign]


class LazyGroup(typer.core.TyperGroup):
    """A Typer group whose :data:`LAZY_COMMANDS` load on first use (see the module docstring)."""

    lazy: tuple[LazyCommand, ...] = LAZY_COMMANDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._eager: dict[str, Any] = {}
        self._loaded: dict[str, Any] = {}
        self._listing = False
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, Any]:
        """Every command, loading the lazy ones (what tests and tools walking the tree see)."""
        for entry in self.lazy:
            self._load(entry.name)
        return {**self._eager, **self._loaded}

    @commands.setter
    def commands(self, value: MutableMapping[str, Any]) -> None:
        self._eager = dict(value)

    def add_command(self, cmd: Any, name: str | None = None) -> None:
        """Register an eager command."""
        self._eager[name or cmd.name] = cmd

    def list_commands(self, ctx: Any) -> list[str]:
        """Eager commands first (``run``), then the table's order."""
        return [*self._eager, *(e.name for e in self.lazy if e.name not in self._eager)]

    def _load(self, name: str) -> Any:
        if name not in self._loaded:
            entry = next(e for e in self.lazy if e.name == name)
            self._loaded[name] = load_command(entry)
        return self._loaded[name]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command; while the group's own help is drawn, a stub made from the table."""
        if cmd_name in self._eager:
            return self._eager[cmd_name]
        entry = next((e for e in self.lazy if e.name == cmd_name), None)
        if entry is None:
            return None
        if self._listing:
            stub = typer.core.TyperCommand(name=entry.name, help=entry.help, short_help=entry.help)
            stub.rich_help_panel = entry.panel
            return stub
        return self._load(cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI with clean help text (see :func:`clean_help`)."""
        with clean_help():
            return super().main(*args, **kwargs)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Draw the help from the table (no command module is imported)."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

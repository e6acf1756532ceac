"""``qwengraph export``: saved conversations as fine-tuning data (Qwen ChatML, one JSON object a line).

Conversations come from the thread checkpointer (``--memory``, as for ``qwengraph threads``), which
keeps every message: requests, thinking, tool calls and their results, answers. Only successful
conversations are written (see :func:`graphs.export.failure_reason`); each skipped thread is named
on stderr with the reason, and a count ends the output there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO, cast

import typer
from langchain_core.messages import AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.cli_common import clean_errors, fail
from agents.cli_threads import MEMORY_HELP, memory_uri, thread_ids, thread_messages
from agents.toolbox import TOOL_NAMES, open_tools, parse_tool_names
from graphs.errors import ConfigError
from graphs.exit_codes import ExitCode
from graphs.export import chatml_example, chatml_text, failure_reason, tool_schemas, tools_called
from graphs.memory import open_checkpointer
from graphs.models.chatml import Family

FORMATS = ("chatml-jsonl",)
FAMILIES = ("qwen3", "qwen2.5")


def export_command(
    fmt: Annotated[str, typer.Option("--format", help="Output format: chatml-jsonl.")] = "chatml-jsonl",
    threads: Annotated[
        list[str] | None, typer.Option("--thread", help="Thread to export (repeat for several).")
    ] = None,
    all_threads: Annotated[bool, typer.Option("--all-threads", help="Export every saved thread.")] = False,
    memory: Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
    with_thinking: Annotated[
        bool, typer.Option("--with-thinking", help="Keep thinking as <think>…</think> in assistant turns.")
    ] = False,
    text: Annotated[
        bool, typer.Option("--text", help='Write {"text": "<rendered ChatML>"} per example instead.')
    ] = False,
    family: Annotated[
        str, typer.Option("--family", help="Chat template for --text: qwen3 or qwen2.5.")
    ] = "qwen3",
    tool_names: Annotated[
        str | None,
        typer.Option("--tools", help="Tools every example lists (default: the tools each one called)."),
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="System message to put first in every example.")
    ] = None,
) -> None:
    """Write successful conversations as Qwen ChatML training examples (JSON lines)."""
    with clean_errors():
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        if family not in FAMILIES:
            raise ConfigError(f"unknown chat template family {family!r}; choose from {', '.join(FAMILIES)}")
        if bool(threads) == all_threads:
            raise ConfigError("name threads with --thread NAME (repeatable) or pass --all-threads")
        fixed = parse_tool_names(tool_names) if tool_names is not None else None
        with open_checkpointer(memory_uri(memory)) as saver:
            conversations = _load(saver, threads or [], all_threads)
        lines, skipped = _examples(conversations, fixed, with_thinking, text, cast(Family, family), system)
        for name, reason in skipped:
            sys.stderr.write(f"skipped thread {name}: {reason}\n")
        if not lines:
            raise fail(
                f"no successful conversation to export among {len(conversations)} thread(s)", ExitCode.USAGE
            )
        with _output(out) as stream:
            stream.writelines(line + "\n" for line in lines)
        where = f" to {out}" if out else ""
        sys.stderr.write(f"exported {len(lines)} of {len(conversations)} thread(s){where}\n")


def _load(
    saver: BaseCheckpointSaver[Any], names: Sequence[str], every: bool
) -> list[tuple[str, list[AnyMessage]]]:
    chosen = list(thread_ids(saver)) if every else list(dict.fromkeys(names))
    return [(name, thread_messages(saver, name)) for name in chosen]


def _examples(
    conversations: Sequence[tuple[str, list[AnyMessage]]],
    fixed: list[str] | None,
    with_thinking: bool,
    text: bool,
    family: Family,
    system: str | None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The JSON lines of the successful conversations, and ``(thread, reason)`` for the others."""
    verdicts = [(name, messages, failure_reason(messages)) for name, messages in conversations]
    good = [(name, messages) for name, messages, reason in verdicts if reason is None]
    skipped = [(name, reason) for name, _, reason in verdicts if reason is not None]
    wanted = fixed if fixed is not None else [t for _, m in good for t in tools_called(m) if t in TOOL_NAMES]
    with open_tools(list(dict.fromkeys(wanted))) as opened:
        schemas = {t.name: s for t, s in zip(opened, tool_schemas(opened), strict=True)}
    lines = []
    for _, messages in good:
        names = fixed if fixed is not None else [t for t in tools_called(messages) if t in schemas]
        tools = [schemas[t] for t in names]
        if text:
            rendered = chatml_text(messages, tools, with_thinking=with_thinking, system=system, family=family)
            record: dict[str, Any] = {"text": rendered}
        else:
            record = chatml_example(messages, tools, with_thinking=with_thinking, system=system)
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines, skipped


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8") as stream:
        yield stream


def register(app: typer.Typer) -> None:
    """Add ``export`` to the main app."""
    app.command("export")(export_command)

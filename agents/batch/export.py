"""``batch --export chatml-jsonl``: a batch's successful trajectories as fine-tuning data.

Each ``ok`` task keeps its conversation in the results database (``trajectory``); this writes
them with :mod:`graphs.export`, the same examples ``qwengraph export`` writes from threads: one
``{"messages": [...], "tools": [...]}`` per line in the OpenAI / Qwen chat format, listing the
tools the conversation called. Conversations :func:`graphs.export.failure_reason` rejects (cut
off, ending on a tool call) are left out and counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from langchain_core.messages import AnyMessage, messages_from_dict

from agents.toolbox import TOOL_NAMES, open_tools
from graphs.errors import ConfigError, MemoryError_
from graphs.export import chatml_example, failure_reason, tool_schemas, tools_called

EXPORT_FORMATS = ("chatml-jsonl",)


@dataclass(frozen=True)
class ExportReport:
    """How many trajectories were written, and how many successful tasks were left out."""

    written: int
    left_out: int
    path: Path


def check_format(fmt: str) -> str:
    """``fmt`` when it is a known export format, else :class:`ConfigError`."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose from {', '.join(EXPORT_FORMATS)}")
    return fmt


def _conversation(row: Mapping[str, Any]) -> list[AnyMessage]:
    raw = row.get("trajectory")
    if not raw:
        return []
    data = json.loads(raw) if isinstance(raw, str) else raw
    return cast(list[AnyMessage], messages_from_dict(data.get("messages", [])))


def export_rows(
    rows: Sequence[Mapping[str, Any]], path: Path, *, with_thinking: bool = False, system: str | None = None
) -> ExportReport:
    """Write the ``ok`` rows' trajectories to ``path`` as ChatML JSON lines.

    Raises:
        MemoryError_: the file cannot be written.
    """
    good: list[list[AnyMessage]] = []
    left_out = 0
    for row in rows:
        if row.get("status") != "ok":
            continue
        messages = _conversation(row)
        if not messages or failure_reason(messages) is not None:
            left_out += 1
            continue
        good.append(messages)
    wanted = list(dict.fromkeys(t for m in good for t in tools_called(m) if t in TOOL_NAMES))
    with open_tools(wanted) as opened:
        schemas = {t.name: s for t, s in zip(opened, tool_schemas(opened), strict=True)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as stream:
            for messages in good:
                tools = [schemas[name] for name in tools_called(messages) if name in schemas]
                example = chatml_example(messages, tools, with_thinking=with_thinking, system=system)
                stream.write(json.dumps(example, ensure_ascii=False) + "\n")
    except OSError as err:
        raise MemoryError_(f"cannot write {path}: {err.strerror or err}") from err
    return ExportReport(written=len(good), left_out=left_out, path=path)

"""Batch tasks: one JSON object a line, read and checked before anything runs.

A line::

    {"id": "q17", "prompt": "What is 17*23?", "thread": "student-4", "variables": {"mode": "hint"}}

- ``prompt`` (string): the request; required unless the batch runs a workflow (``--workflow``).
- ``id`` (string or integer, optional): the task's name in the results; unique in the file. Without
  one, the id is derived from the task's content (``t-`` and 12 hex digits of its SHA-256, with
  ``~2``, ``~3``... for repeats), so it stays the same when lines are added, removed or reordered
  and a rerun can tell which tasks are done.
- ``thread`` (string, optional): the conversation the task continues; tasks on one thread run one
  after the other, in file order, and see each other's turns.
- ``variables`` (object, optional): for an agent, its settings ``mode`` and ``language``; for a
  workflow, its inputs.

Blank lines and lines starting with ``#`` are skipped. Every problem is reported with its line
number, all of them at once, as one :class:`~graphs.errors.ConfigError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphs.errors import ConfigError

AGENT_VARIABLES = ("mode", "language")
"""Task variables an agent run takes (the agent's settings); workflows take their declared inputs."""
KNOWN_FIELDS = ("id", "prompt", "thread", "variables")
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class Task:
    """One line of a tasks file."""

    id: str
    prompt: str
    line: int = 0
    thread: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The task as a JSON object (what a worker receives)."""
        data: dict[str, Any] = {"id": self.id, "prompt": self.prompt, "line": self.line}
        if self.thread is not None:
            data["thread"] = self.thread
        if self.variables:
            data["variables"] = self.variables
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        """The inverse of :meth:`to_json`."""
        return cls(
            id=str(data["id"]),
            prompt=str(data.get("prompt", "")),
            line=int(data.get("line", 0)),
            thread=data.get("thread"),
            variables=dict(data.get("variables") or {}),
        )


def content_id(data: dict[str, Any]) -> str:
    """``t-`` and the first 12 hex digits of the SHA-256 of the task's canonical JSON."""
    canonical = json.dumps(
        {k: data.get(k) for k in ("prompt", "thread", "variables")}, sort_keys=True, ensure_ascii=False
    )
    return "t-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _check(data: Any, *, workflow: bool) -> list[str]:
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {type(data).__name__}"]
    problems = [
        f"unknown field {k!r} (fields: {', '.join(KNOWN_FIELDS)})" for k in data if k not in KNOWN_FIELDS
    ]
    prompt = data.get("prompt")
    if prompt is None and not workflow:
        problems.append('missing "prompt"')
    elif prompt is not None and (not isinstance(prompt, str) or (not workflow and not prompt.strip())):
        problems.append('"prompt" must be a non-empty string')
    if "id" in data and (isinstance(data["id"], bool) or not isinstance(data["id"], str | int)):
        problems.append('"id" must be a string or an integer')
    elif "id" in data and not str(data["id"]).strip():
        problems.append('"id" is empty')
    if data.get("thread") is not None and (not isinstance(data["thread"], str) or not data["thread"].strip()):
        problems.append('"thread" must be a non-empty string')
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        problems.append('"variables" must be an object')
    elif variables and not workflow:
        unknown = [k for k in variables if k not in AGENT_VARIABLES]
        if unknown:
            problems.append(
                f"variables {', '.join(map(repr, unknown))} are not agent settings "
                f"(an agent takes {', '.join(AGENT_VARIABLES)}; workflow inputs need --workflow)"
            )
    return problems


def parse_tasks(lines: Iterable[str], *, source: str = "tasks", workflow: bool = False) -> list[Task]:
    """Parse task lines (see the module docstring).

    Raises:
        ConfigError: every problem found (up to :data:`MAX_PROBLEMS`), one per line, with its
            line number; or no task at all.
    """
    tasks: list[Task] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    repeats: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            data = json.loads(text)
        except ValueError as err:
            problems.append(f"{source}:{number}: not valid JSON ({err})")
            continue
        found = _check(data, workflow=workflow)
        if found:
            problems.extend(f"{source}:{number}: {p}" for p in found)
            continue
        if "id" in data:
            task_id = str(data["id"]).strip()
        else:
            base = content_id(data)
            repeats[base] = repeats.get(base, 0) + 1
            task_id = base if repeats[base] == 1 else f"{base}~{repeats[base]}"
        if task_id in seen:
            problems.append(f"{source}:{number}: duplicate id {task_id!r} (first on line {seen[task_id]})")
            continue
        seen[task_id] = number
        tasks.append(
            Task(
                id=task_id,
                prompt=data.get("prompt") or "",
                line=number,
                thread=data.get("thread"),
                variables=dict(data.get("variables") or {}),
            )
        )
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"... and {more} more problem(s)"] if more > 0 else [])
        raise ConfigError("; ".join(shown) if len(shown) == 1 else "bad tasks file:\n  " + "\n  ".join(shown))
    if not tasks:
        raise ConfigError(f'{source}: no tasks (one JSON object per line, e.g. {{"prompt": "..."}})')
    return tasks


def load_tasks(path: str | Path, *, workflow: bool = False) -> list[Task]:
    """Read and check a tasks file (JSON lines, UTF-8); see :func:`parse_tasks`.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8, or has bad lines.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no tasks file at {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a tasks file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_tasks(text.splitlines(), source=path.name, workflow=workflow)


def chains(tasks: Sequence[Task]) -> list[list[Task]]:
    """Tasks grouped into what must run in order: one list per thread (in file order, placed
    where the thread first appears), one per threadless task."""
    out: list[list[Task]] = []
    threads: dict[str, list[Task]] = {}
    for task in tasks:
        if task.thread is None:
            out.append([task])
        elif task.thread not in threads:
            threads[task.thread] = [task]
            out.append(threads[task.thread])
        else:
            threads[task.thread].append(task)
    return out

"""Your own task sets: a JSONL file of prompts, each scored by simple declarative checks.

One task per line::

    {"id": "discount", "prompt": "A shirt costs $45 ... sale price?", "category": "percent",
     "checks": [{"number": 36}, {"tool_called": "calculator"}]}

``id`` defaults to the line number and ``category`` to ``tasks``. Every check must pass:

- ``{"number": 36}`` or ``{"number": [4.0227, 4022714]}``: some number written in the answer is
  within ``rel_tol`` (default 0.005, relative to ``max(1, |value|)``) or ``abs_tol`` of the value
  (of any of the values); thousands separators are read (``4,022,714``);
- ``{"regex": "^\\\\d+$", "flags": "im"}``: the pattern matches somewhere in the answer;
- ``{"contains": "Paris", "case_sensitive": false}``: the answer holds the text;
- ``{"tool_called": "calculator"}``: the run called that tool (at least once);
- ``{"python": "my_checks:is_prime_answer"}``: ``function(answer, summary, task)`` from an
  importable module returns true (or ``(ok, reason)``); ``summary`` is the run's
  :class:`~graphs.summary.RunSummary`, ``task`` the task's JSON object.

A file that does not parse fails before any model call, naming the line and what is wrong.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphs.errors import ConfigError
from graphs.summary import RunSummary

CHECK_KINDS = ("number", "regex", "contains", "tool_called", "python")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@dataclass(frozen=True)
class Task:
    """One task: a prompt, its checks, and where it came from."""

    id: str
    prompt: str
    checks: list[dict[str, Any]]
    category: str = "tasks"
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """Whether a task's answer passed, and the first failed check's reason."""

    passed: bool
    reason: str = ""
    failed: str | None = None  # the kind of the first failed check


def load_tasks(path: Path) -> list[Task]:
    """Read and validate a task file (every problem is a ConfigError naming the line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no task file at {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"task file {path} cannot be read: {err}") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path.name} line {number}"
        try:
            item = json.loads(line)
        except ValueError as err:
            raise ConfigError(f"{where}: not JSON: {err}") from None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("prompt"), str)
            or not item["prompt"].strip()
        ):
            raise ConfigError(f'{where}: a task is an object with a non-empty "prompt"')
        checks = item.get("checks")
        if not isinstance(checks, list) or not checks:
            raise ConfigError(f'{where}: "checks" must be a non-empty list')
        for check in checks:
            _validate(check, where)
        task_id = str(item.get("id", number))
        if task_id in seen:
            raise ConfigError(f"{where}: duplicate task id {task_id!r}")
        seen.add(task_id)
        category = str(item.get("category") or "tasks")
        tasks.append(Task(task_id, item["prompt"], checks, category, item))
    if not tasks:
        raise ConfigError(f"task file {path} holds no tasks")
    return tasks


def _validate(check: Any, where: str) -> None:
    kinds = [k for k in CHECK_KINDS if isinstance(check, dict) and k in check]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: each check needs exactly one of {', '.join(CHECK_KINDS)}: {check!r}")
    kind, value = kinds[0], check[kinds[0]]
    if kind == "number":
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ConfigError(f"{where}: number check needs a number or a list of numbers: {value!r}")
        for tol in ("rel_tol", "abs_tol"):
            if tol in check and (not isinstance(check[tol], int | float) or check[tol] < 0):
                raise ConfigError(f"{where}: {tol} must be a number >= 0")
    elif kind == "regex":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: regex check needs a pattern string")
        try:
            re.compile(value, _flags(check.get("flags", ""), where))
        except re.error as err:
            raise ConfigError(f"{where}: bad regex {value!r}: {err}") from None
    elif kind in ("contains", "tool_called"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {kind} check needs a non-empty string")
    elif not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{where}: python check needs 'module:function', got {value!r}")


def _flags(text: Any, where: str) -> int:
    if not isinstance(text, str) or any(c not in _FLAGS for c in text):
        raise ConfigError(f"{where}: regex flags are letters from {''.join(_FLAGS)}, got {text!r}")
    flags = 0
    for letter in text:
        flags |= _FLAGS[letter]
    return flags


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (thousands separators allowed)."""
    found = []
    for match in NUMBER.findall(text):
        try:
            found.append(float(match.replace(",", "")))
        except ValueError:
            continue
    return found


def load_function(ref: str) -> Callable[..., Any]:
    """``module:function`` as a callable; ConfigError when it cannot be imported."""
    module_name, _, name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"python check {ref!r} cannot be loaded: {err}") from None
    if not callable(function):
        raise ConfigError(f"python check {ref!r} is not callable")
    return function  # type: ignore[no-any-return]


def run_checks(task: Task, summary: RunSummary) -> CheckResult:
    """Apply every check of ``task`` to a run's summary; stop at the first that fails."""
    answer = summary.answer
    for check in task.checks:
        kind = next(k for k in CHECK_KINDS if k in check)
        ok, reason = _one(kind, check, answer, summary, task)
        if not ok:
            return CheckResult(False, reason, kind)
    return CheckResult(True)


def _one(kind: str, check: dict[str, Any], answer: str, summary: RunSummary, task: Task) -> tuple[bool, str]:
    value = check[kind]
    if kind == "number":
        wanted = value if isinstance(value, list) else [value]
        rel, absolute = float(check.get("rel_tol", 0.005)), float(check.get("abs_tol", 0.0))
        numbers = numbers_in(answer)
        ok = any(abs(n - w) <= max(rel * max(1.0, abs(w)), absolute) for n in numbers for w in wanted)
        return ok, "" if ok else f"no number near {' or '.join(map(str, wanted))} in the answer"
    if kind == "regex":
        ok = re.search(value, answer, _flags(check.get("flags", ""), task.id)) is not None
        return ok, "" if ok else f"answer does not match /{value}/"
    if kind == "contains":
        sensitive = bool(check.get("case_sensitive", False))
        ok = value in answer if sensitive else value.lower() in answer.lower()
        return ok, "" if ok else f"answer does not contain {value!r}"
    if kind == "tool_called":
        ok = any(call.name == value for call in summary.tool_calls)
        return ok, "" if ok else f"tool {value!r} was not called"
    outcome = load_function(value)(answer, summary, task.raw)
    if isinstance(outcome, tuple):
        ok = bool(outcome[0])
        return ok, "" if ok else (str(outcome[1]) if len(outcome) > 1 else f"{value} failed")
    return bool(outcome), "" if outcome else f"{value} returned false"

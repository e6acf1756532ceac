"""Reading run traces back: the latest runs, one run as a tree, and figures over all runs.

These functions only read: a missing database means "no runs yet" (empty list, zero stats), and
:func:`get_run` raises :class:`~graphs.errors.TraceNotFound` for an unknown run id. Run ids may be
abbreviated to any unique prefix, as with git commits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graphs.errors import TraceNotFound
from graphs.memory.trace_store import default_db_path, open_db


@dataclass
class RunTrace:
    """One run and its calls in order; each call dict has ``kind`` ``"model"`` or ``"tool"``."""

    run: dict[str, Any]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict ``{"run": {...}, "calls": [...]}``."""
        return asdict(self)


@dataclass
class TraceStats:
    """Figures over every recorded run (latencies in milliseconds, model calls only)."""

    runs: int = 0
    runs_ok: int = 0
    runs_error: int = 0
    model_calls: int = 0
    model_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    thinking_tokens: int = 0
    latency_mean_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    tokens_per_s: float | None = None
    tool_calls: int = 0
    tool_errors: int = 0
    tool_error_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the figures."""
        return asdict(self)


def _path(db_path: str | Path | None) -> Path:
    return Path(db_path) if db_path is not None else default_db_path()


def list_runs(db_path: str | Path | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first, with their call counts and token totals."""
    path = _path(db_path)
    if not path.exists():
        return []
    db = open_db(path, create=False)
    try:
        if not db.table("runs").exists():
            return []
        sql = """
            SELECT r.run_id, r.started_at, r.duration_ms, r.model, r.outcome, r.error,
                   (SELECT count(*) FROM model_calls m WHERE m.run_id = r.run_id) AS model_calls,
                   (SELECT count(*) FROM tool_calls t WHERE t.run_id = r.run_id) AS tool_calls,
                   (SELECT coalesce(sum(m.prompt_tokens), 0) + coalesce(sum(m.completion_tokens), 0)
                      FROM model_calls m WHERE m.run_id = r.run_id) AS tokens
            FROM runs r ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?
        """
        return [dict(row) for row in db.query(sql, [max(0, limit)])]
    finally:
        db.close()


def get_run(run_id: str, db_path: str | Path | None = None) -> RunTrace:
    """One run with its model and tool calls in the order they started.

    Raises:
        TraceNotFound: no run has this id (or prefix), or the prefix is ambiguous.
    """
    path = _path(db_path)
    if not path.exists():
        raise TraceNotFound(f"no run {run_id!r}: no traces recorded yet ({path})", run_id=run_id)
    db = open_db(path, create=False)
    try:
        found = list(db.query("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        if not found and run_id:
            sql = "SELECT * FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 2"
            found = list(db.query(sql, [len(run_id), run_id]))
        if not found:
            raise TraceNotFound(f"no run {run_id!r} in {path}", run_id=run_id)
        if len(found) > 1:
            raise TraceNotFound(f"run id prefix {run_id!r} is ambiguous; give more characters", run_id=run_id)
        run = dict(found[0])
        calls: list[dict[str, Any]] = []
        for kind, table in (("model", "model_calls"), ("tool", "tool_calls")):
            for row in db.query(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY seq", [run["run_id"]]):  # noqa: S608 - fixed names
                calls.append({"kind": kind, **row})
        calls.sort(key=lambda c: (c["seq"], c["started_at"] or ""))
        return RunTrace(run=run, calls=calls)
    finally:
        db.close()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100) by linear interpolation between closest ranks; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(db_path: str | Path | None = None) -> TraceStats:
    """Counts, token totals, model latency (mean, p50, p95), tokens/s and the tool error rate."""
    path = _path(db_path)
    result = TraceStats()
    if not path.exists():
        return result
    db = open_db(path, create=False)
    try:
        if not db.table("runs").exists():
            return result
        for row in db.query("SELECT outcome, count(*) AS n FROM runs GROUP BY outcome"):
            result.runs += row["n"]
            if row["outcome"] == "ok":
                result.runs_ok = row["n"]
            elif row["outcome"] == "error":
                result.runs_error = row["n"]
        models = list(
            db.query(
                "SELECT latency_ms, prompt_tokens, completion_tokens, thinking_tokens, error FROM model_calls"
            )
        )
        tools = list(db.query("SELECT outcome FROM tool_calls"))
    finally:
        db.close()
    result.model_calls = len(models)
    result.model_errors = sum(1 for m in models if m["error"])
    result.prompt_tokens = sum(m["prompt_tokens"] or 0 for m in models)
    result.completion_tokens = sum(m["completion_tokens"] or 0 for m in models)
    result.thinking_tokens = sum(m["thinking_tokens"] or 0 for m in models)
    latencies = [m["latency_ms"] for m in models if m["latency_ms"] is not None]
    if latencies:
        result.latency_mean_ms = round(sum(latencies) / len(latencies), 3)
        result.latency_p50_ms = _round(percentile(latencies, 50))
        result.latency_p95_ms = _round(percentile(latencies, 95))
    timed = [m for m in models if m["completion_tokens"] and m["latency_ms"]]
    seconds = sum(m["latency_ms"] for m in timed) / 1000
    if seconds > 0:
        result.tokens_per_s = round(sum(m["completion_tokens"] for m in timed) / seconds, 2)
    result.tool_calls = len(tools)
    result.tool_errors = sum(1 for t in tools if t["outcome"] != "ok")
    if tools:
        result.tool_error_rate = round(result.tool_errors / len(tools), 4)
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

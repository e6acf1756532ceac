"""Storage of run traces: the SQLite schema, opening the database, digests and timestamps.

Tables (written by :mod:`graphs.memory.traces`, read by :mod:`graphs.memory.trace_query`)::

    runs         run_id PK; started_at, ended_at, duration_ms, model, outcome, error, ...
    model_calls  call_id PK, run_id -> runs.run_id; index (run_id, seq)
    tool_calls   call_id PK, run_id -> runs.run_id; index (run_id, seq), index (name)

Timestamps are ISO-8601 UTC text with milliseconds, durations milliseconds.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphs.errors import MemoryError_
from graphs.memory.sqlite_tuning import synchronous
from graphs.paths import home

if TYPE_CHECKING:  # loaded when a trace is first written or read (it brings numpy along)
    import sqlite_utils

TRACES_FILE = "traces.db"


def default_db_path() -> Path:
    """``$QWENGRAPH_HOME/traces.db`` (read at call time)."""
    return home() / TRACES_FILE


def digest(text: str) -> str:
    """The SHA-256 hex digest of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def iso(ts: float | None) -> str | None:
    """A Unix time as an ISO-8601 UTC string with milliseconds."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


_SCHEMA: dict[str, dict[str, type]] = {
    "runs": {
        "run_id": str, "started_at": str, "ended_at": str, "duration_ms": float, "model": str,
        "outcome": str, "error": str, "error_message": str, "prompt_sha256": str, "prompt_chars": int,
        "prompt": str, "answer_sha256": str, "answer_chars": int, "answer": str, "store_content": int,
        "meta": str,
    },
    "model_calls": {
        "call_id": str, "run_id": str, "seq": int, "node": str, "model": str, "started_at": str,
        "ended_at": str, "latency_ms": float, "prompt_tokens": int, "completion_tokens": int,
        "thinking_tokens": int, "thinking_chars": int, "tokens_per_s": float, "finish_reason": str,
        "error": str, "error_message": str, "notes": str,
    },
    "tool_calls": {
        "call_id": str, "run_id": str, "seq": int, "name": str, "started_at": str, "ended_at": str,
        "duration_ms": float, "outcome": str, "error": str, "error_message": str, "args_sha256": str,
        "args_chars": int, "args": str, "result_sha256": str, "result_chars": int, "result": str,
    },
}  # fmt: skip


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open the traces database (WAL, foreign keys on), creating tables and indexes when needed."""
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    import sqlite_utils  # noqa: PLC0415

    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA synchronous={synchronous()}")  # see graphs.memory.sqlite_tuning
    if not create:
        return db
    if not db.table("runs").exists():
        db.enable_wal()
        with db.atomic():
            db.table("runs").create(_SCHEMA["runs"], pk="run_id", if_not_exists=True)
            for table in ("model_calls", "tool_calls"):
                db.table(table).create(
                    _SCHEMA[table],
                    pk="call_id",
                    foreign_keys=[("run_id", "runs", "run_id")],
                    if_not_exists=True,
                )
                db.table(table).create_index(["run_id", "seq"], if_not_exists=True)
            db.table("runs").create_index(["started_at"], if_not_exists=True)
            db.table("tool_calls").create_index(["name"], if_not_exists=True)
    return db


MODEL_FIELDS = ("node", "model", "latency_ms", "prompt_tokens", "completion_tokens", "thinking_tokens",
                "thinking_chars", "tokens_per_s", "finish_reason", "error", "error_message",
                "notes")  # fmt: skip
"""``notes``: comma-separated marks of a model call (``planned_call_retry``, ``think_ignored``,
``recovered:<how>``); databases written before the column existed get it on the next write."""


def write_trace(
    path: str | Path,
    run: Mapping[str, Any],
    model_calls: Sequence[Mapping[str, Any]],
    tool_calls: Sequence[Mapping[str, Any]],
) -> None:
    """Upsert one run row and insert its new call rows, all in one transaction.

    Raises:
        MemoryError_: the database could not be opened or written; nothing was written.
    """
    try:
        db = open_db(path)
        try:
            with db.atomic():
                db.table("runs").upsert(dict(run), pk="run_id")
                if model_calls:
                    db.table("model_calls").insert_all(
                        [dict(r) for r in model_calls], pk="call_id", alter=True
                    )
                if tool_calls:
                    db.table("tool_calls").insert_all([dict(r) for r in tool_calls], pk="call_id")
        finally:
            db.close()
    except (sqlite3.Error, OSError) as err:
        raise MemoryError_(f"cannot write trace to {path}: {err}") from err


def call_notes(note: str | None, response_metadata: Mapping[str, Any]) -> str | None:
    """The marks of one model call for the trace: the graph's note and the response's own flags."""
    marks = [note] if note else []
    if response_metadata.get("think_ignored"):
        marks.append("think_ignored")
    if response_metadata.get("recovered"):
        marks.append(f"recovered:{response_metadata['recovered']}")
    return ",".join(marks) or None

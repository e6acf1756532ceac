"""Storage of run traces: the SQLite schema, opening the database, digests and timestamps.

Tables (written by :mod:`graphs.memory.traces`, read by :mod:`graphs.memory.trace_query`)::

    runs         run_id PK; started_at, ended_at, duration_ms, model, outcome, error, ...
    model_calls  call_id PK, run_id -> runs.run_id; index (run_id, seq)
    tool_calls   call_id PK, run_id -> runs.run_id; index (run_id, seq), index (name)

Timestamps are ISO-8601 UTC text with milliseconds, durations milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sqlite3
import time
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


BUSY_TIMEOUT_S = 10.0
"""How long one write waits for another process's write to finish (SQLite's busy timeout)."""

WRITE_ATTEMPTS = 6
"""Writes tried before a trace is given up (each waits up to :data:`BUSY_TIMEOUT_S`)."""


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open the traces database (WAL, foreign keys on), creating tables and indexes when needed.

    The connection is in autocommit mode: writers open their own ``BEGIN IMMEDIATE`` transaction,
    so that they wait for each other (busy timeout) instead of failing on a lock upgrade.
    """
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    import sqlite_utils  # noqa: PLC0415

    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA synchronous={synchronous()}")  # see graphs.memory.sqlite_tuning
    if create and not db.table("runs").exists():
        _create_schema(db)
    elif create:
        _add_missing_columns(db)
    return db


_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "FLOAT"}


def _add_missing_columns(db: sqlite_utils.Database) -> None:
    """Columns added since a database was created (``model_calls.notes``...) are added now."""
    for table, columns in _SCHEMA.items():
        missing = [c for c in columns if c not in db.table(table).columns_dict]
        for column in missing:
            try:
                db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {_SQL_TYPES[columns[column]]}')
            except sqlite3.OperationalError as err:
                if "duplicate column" not in str(err):  # another writer added it first
                    raise


def _create_schema(db: sqlite_utils.Database) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN IMMEDIATE")
    try:
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
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


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
    *,
    attempts: int = WRITE_ATTEMPTS,
) -> None:
    """Upsert one run row and insert its new call rows, all in one transaction.

    Concurrent writers (many runs on one home) wait for each other: each attempt takes the write
    lock up front (``BEGIN IMMEDIATE``, waiting up to :data:`BUSY_TIMEOUT_S`), and a busy database
    is tried again, ``attempts`` times in all, with a growing random pause in between.

    Raises:
        MemoryError_: the database could not be opened or written; nothing was written.
    """
    pause = 0.05
    for attempt in range(1, attempts + 1):
        try:
            _write_once(path, run, model_calls, tool_calls)
            return
        except sqlite3.OperationalError as err:
            if attempt >= attempts or not _busy(err):
                raise MemoryError_(f"cannot write trace to {path}: {err}") from err
        except (sqlite3.Error, OSError) as err:
            raise MemoryError_(f"cannot write trace to {path}: {err}") from err
        time.sleep(pause * (0.5 + random.random()))  # noqa: S311 - jitter, not cryptography
        pause = min(pause * 2, 2.0)


def _busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _write_once(
    path: str | Path,
    run: Mapping[str, Any],
    model_calls: Sequence[Mapping[str, Any]],
    tool_calls: Sequence[Mapping[str, Any]],
) -> None:
    db = open_db(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            _upsert(db.conn, "runs", run, "run_id")
            _insert(db.conn, "model_calls", model_calls)
            _insert(db.conn, "tool_calls", tool_calls)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
    finally:
        db.close()


def _upsert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any], pk: str) -> None:
    columns = list(row)
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != pk)
    conn.execute(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT("{pk}") DO UPDATE SET {updates}',  # noqa: S608
        [row[c] for c in columns],
    )


def _insert(conn: sqlite3.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    conn.executemany(
        f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})',  # noqa: S608 - names from our schema
        [[r.get(c) for c in columns] for r in rows],
    )


def call_notes(note: str | None, response_metadata: Mapping[str, Any]) -> str | None:
    """The marks of one model call for the trace: the graph's note and the response's own flags."""
    marks = [note] if note else []
    if response_metadata.get("think_ignored"):
        marks.append("think_ignored")
    if response_metadata.get("recovered"):
        marks.append(f"recovered:{response_metadata['recovered']}")
    return ",".join(marks) or None

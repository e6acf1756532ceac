"""The results database of ``qwengraph batch``: one row per task, written as each task ends.

Chosen by URI like the thread memory: ``sqlite:///ABS/PATH`` or ``sqlite:relative/path`` (default
``$QWENGRAPH_HOME/batches.db``), ``postgres://…`` / ``postgresql://…`` (needs the ``postgres``
extra), ``memory://`` (throwaway). Two tables, the same on both backends::

    batches        batch PK; tasks_file, settings (JSON), created_at, updated_at, total
    batch_results  (batch, task_id) PK; line, status, prompt, thread, answer, stopped, tool_calls
                   (JSON), steps, input_tokens, output_tokens, reasoning_tokens, total_tokens,
                   started_at, ended_at, seconds, trace_id, error_type, error, attempts, worker,
                   model, trajectory (JSON: the conversation, for --export)

``status`` is ``ok``, ``stopped`` (the graph stopped the run: step limit...) or ``failed``. Each
:meth:`ResultStore.save` is one transaction, so a batch killed at any moment keeps every task it
had recorded and a rerun skips exactly those.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from graphs.errors import ConfigError, MemoryError_
from graphs.memory.backends import parse_uri
from graphs.memory.postgres import CONNECT_TIMEOUT_S

COLUMNS: tuple[tuple[str, str], ...] = (
    ("line", "INTEGER"), ("status", "TEXT"), ("prompt", "TEXT"), ("thread", "TEXT"), ("answer", "TEXT"),
    ("stopped", "TEXT"), ("tool_calls", "TEXT"), ("steps", "INTEGER"), ("input_tokens", "INTEGER"),
    ("output_tokens", "INTEGER"), ("reasoning_tokens", "INTEGER"), ("total_tokens", "INTEGER"),
    ("started_at", "TEXT"), ("ended_at", "TEXT"), ("seconds", "REAL"), ("trace_id", "TEXT"),
    ("error_type", "TEXT"), ("error", "TEXT"), ("attempts", "INTEGER"), ("worker", "TEXT"),
    ("model", "TEXT"), ("trajectory", "TEXT"),
)  # fmt: skip
FIELDS = ("batch", "task_id", *(name for name, _ in COLUMNS))
STATUSES = ("ok", "stopped", "failed")
DEFAULT_FILE = "batches.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS batches (batch TEXT PRIMARY KEY, tasks_file TEXT, settings TEXT, "
    "created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION, total INTEGER)",
    "CREATE TABLE IF NOT EXISTS batch_results (batch TEXT NOT NULL, task_id TEXT NOT NULL, "
    + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    + ", PRIMARY KEY (batch, task_id))",
    "CREATE INDEX IF NOT EXISTS batch_results_status ON batch_results (batch, status)",
)


class ResultStore(Protocol):
    """Where a batch's per-task results go (SQLite or PostgreSQL, same tables)."""

    where: str

    def begin(
        self, batch: str, *, tasks_file: str, settings: Mapping[str, Any], total: int
    ) -> dict[str, Any]:
        """Record the batch (or update it); return its saved settings (the first run's)."""
        ...

    def statuses(self, batch: str) -> dict[str, str]:
        """``task_id -> status`` of every task recorded for ``batch``."""
        ...

    def attempts(self, batch: str) -> dict[str, int]:
        """``task_id -> attempts`` so far."""
        ...

    def save(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace result rows (keys: :data:`FIELDS`), in one transaction."""
        ...

    def rows(self, batch: str) -> list[dict[str, Any]]:
        """Every result row of ``batch``, in task-file order."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class SqlResults:
    """:class:`ResultStore` on a DB-API connection: sqlite3 (``?``) or psycopg (``%s``)."""

    def __init__(self, conn: Any, *, where: str, placeholder: str, upsert: str) -> None:
        self.conn = conn
        self.where = where
        self._p = placeholder
        self._upsert = upsert
        with self._tx() as cur:
            for statement in _SCHEMA:
                cur.execute(statement)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        try:
            cur = self.conn.cursor()
            try:
                yield cur
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
            finally:
                cur.close()
        except (sqlite3.Error, OSError) as err:
            raise MemoryError_(f"results database {self.where}: {err}") from err
        except Exception as err:
            if type(err).__module__.startswith("psycopg"):
                raise MemoryError_(f"results database {self.where}: {_first_line(err)}") from err
            raise

    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            cur.execute(sql.replace("?", self._p), args)
            return list(cur.fetchall())

    def begin(
        self, batch: str, *, tasks_file: str, settings: Mapping[str, Any], total: int
    ) -> dict[str, Any]:
        now = time.time()
        found = self._query("SELECT settings FROM batches WHERE batch = ?", batch)
        text = json.dumps(dict(settings), sort_keys=True)
        with self._tx() as cur:
            if found:
                sql = "UPDATE batches SET updated_at = ?, total = ?, tasks_file = ? WHERE batch = ?"
                cur.execute(sql.replace("?", self._p), (now, total, tasks_file, batch))
            else:
                sql = "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?)"
                cur.execute(sql.replace("?", self._p), (batch, tasks_file, text, now, now, total))
        saved: dict[str, Any] = json.loads(found[0][0]) if found and found[0][0] else dict(settings)
        return saved

    def statuses(self, batch: str) -> dict[str, str]:
        return {
            str(t): str(s)
            for t, s in self._query("SELECT task_id, status FROM batch_results WHERE batch = ?", batch)
        }

    def attempts(self, batch: str) -> dict[str, int]:
        rows = self._query("SELECT task_id, attempts FROM batch_results WHERE batch = ?", batch)
        return {str(t): int(a or 0) for t, a in rows}

    def save(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = ", ".join(FIELDS)
        marks = ", ".join([self._p] * len(FIELDS))
        sql = f"{self._upsert} INTO batch_results ({columns}) VALUES ({marks})"
        if self._upsert == "INSERT":  # PostgreSQL
            updates = ", ".join(f"{name} = EXCLUDED.{name}" for name, _ in COLUMNS)
            sql += f" ON CONFLICT (batch, task_id) DO UPDATE SET {updates}"
        with self._tx() as cur:
            cur.executemany(sql, [tuple(encode_cell(row.get(name)) for name in FIELDS) for row in rows])

    def rows(self, batch: str) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(FIELDS)} FROM batch_results WHERE batch = ? ORDER BY line, task_id"  # noqa: S608 - constant column names
        found = self._query(sql, batch)
        return [dict(zip(FIELDS, row, strict=True)) for row in found]

    def close(self) -> None:
        self.conn.close()


def encode_cell(value: Any) -> Any:
    """A value as stored: lists and objects as JSON text."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _sqlite(path: str) -> SqlResults:
    where = path
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
    except (sqlite3.Error, OSError) as err:
        raise MemoryError_(f"cannot open the results database {where}: {err}") from err
    return SqlResults(conn, where=where, placeholder="?", upsert="INSERT OR REPLACE")


def _postgres(dsn: str) -> SqlResults:
    try:
        import psycopg  # noqa: PLC0415
    except ImportError as err:
        raise MemoryError_(
            "a PostgreSQL results database needs the postgres extra: pip install 'qwengraph[postgres]'"
        ) from err
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

    try:
        info = conninfo_to_dict(dsn)
        where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"  # never the password
    except psycopg.Error:
        where = "the PostgreSQL server"
    try:
        conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as err:
        raise MemoryError_(f"cannot connect to PostgreSQL at {where}: {_first_line(err)}") from None
    return SqlResults(conn, where=f"PostgreSQL at {where}", placeholder="%s", upsert="INSERT")


def open_results(uri: str | None = None) -> ResultStore:
    """Open the results database for ``uri`` (see the module docstring); close it when done.

    Raises:
        MemoryError_: bad URI, unreachable server, missing extra, unopenable file.
    """
    try:
        parsed = parse_uri(uri, default_file=DEFAULT_FILE)
    except MemoryError_ as err:
        raise ConfigError(f"--results: {err}") from None
    if parsed.kind == "memory":
        return _sqlite(":memory:")
    if parsed.kind == "sqlite":
        return _sqlite(parsed.target)
    return _postgres(parsed.target)


def decode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as a JSON-ready result: tool calls decoded, the trajectory left out."""
    out = {
        "id": row["task_id"],
        **{k: v for k, v in row.items() if k not in ("batch", "task_id", "trajectory")},
    }
    out["tool_calls"] = json.loads(row["tool_calls"]) if row.get("tool_calls") else []
    return out

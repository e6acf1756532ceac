"""Every eval case in SQLite: ``$QWENGRAPH_HOME/evals.db`` (written with sqlite-utils).

Two tables, meant to be queried by users too:

- ``runs``: ``id`` (8 hex digits), ``kind`` (``bfcl`` / ``tasks``), ``model``, ``status``
  (``running``, ``done``, ``interrupted``, ``failed``), ``created``/``updated`` (UTC), ``total``
  (cases planned, readings included) and ``config`` (JSON: everything needed to resume the run);
- ``cases``: one row per case and reading (``qwengraph``, ``harness``, or ``task``) with the
  inputs, the expected answer, the raw model output, the decoded calls, the verdict (``valid``,
  ``error_type``, ``error``), thinking, model calls, tokens and wall time.

A case is written as soon as it is scored, so an interrupted run loses nothing that finished and
resumes with the cases it lacks. Run ids may be abbreviated to any unique prefix.
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from graphs import paths
from graphs.errors import EvalRunNotFound

Status = str  # "running" | "done" | "interrupted" | "failed"


@dataclass
class CaseResult:
    """One scored case in one reading."""

    case_id: str
    category: str
    reading: str
    valid: bool
    error_type: str | None = None
    error: str = ""
    input: Any = None
    expected: Any = None
    raw_output: str = ""
    decoded: Any = None
    thinking: str = ""
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    thinking_tokens: int | None = None
    seconds: float = 0.0

    def row(self, run_id: str) -> dict[str, Any]:
        """The ``cases`` row (JSON columns encoded)."""
        row = asdict(self)
        for key in ("input", "expected", "decoded"):
            row[key] = json.dumps(row[key], ensure_ascii=False, default=str)
        row["valid"] = int(self.valid)
        return {"run_id": run_id, **row, "created": _now()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CaseResult:
        """Read a ``cases`` row back."""
        data = {k: row[k] for k in cls.__dataclass_fields__ if k in row}
        for key in ("input", "expected", "decoded"):
            data[key] = json.loads(data[key]) if data.get(key) else None
        data["valid"] = bool(data["valid"])
        return cls(**data)


@dataclass
class RunRecord:
    """A stored run: its settings and state (cases are read separately)."""

    id: str
    kind: str
    model: str
    status: Status
    created: str
    updated: str
    total: int
    config: dict[str, Any] = field(default_factory=dict)


def default_path() -> Path:
    """``$QWENGRAPH_HOME/evals.db``."""
    return paths.home() / "evals.db"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EvalStore:
    """The eval database; pass ``path`` for another file (tests, ``--db``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        self.db = sqlite_utils.Database(connection)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL sync: a stored case survives a crash of the process (Ctrl-C, kill -9);
        # only a power cut can lose the last ones, which `eval resume` runs again
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._create()

    def _create(self) -> None:
        if "runs" not in self.db.table_names():
            self.db.table("runs").create(
                {
                    "id": str, "kind": str, "model": str, "status": str, "created": str,
                    "updated": str, "total": int, "config": str,
                },
                pk="id",
            )  # fmt: skip
        if "cases" not in self.db.table_names():
            self.db.table("cases").create(
                {
                    "run_id": str, "case_id": str, "category": str, "reading": str, "valid": int,
                    "error_type": str, "error": str, "input": str, "expected": str, "raw_output": str,
                    "decoded": str, "thinking": str, "model_calls": int, "prompt_tokens": int,
                    "completion_tokens": int, "thinking_tokens": int, "seconds": float, "created": str,
                },
                pk=("run_id", "case_id", "reading"),
                foreign_keys=[("run_id", "runs", "id")],
            )  # fmt: skip
            self.db.table("cases").create_index(["run_id", "category"])

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()

    def create_run(self, kind: str, model: str, config: dict[str, Any], total: int) -> RunRecord:
        """Start a run record (status ``running``)."""
        now = _now()
        record = RunRecord(secrets.token_hex(4), kind, model, "running", now, now, total, config)
        row = asdict(record) | {"config": json.dumps(config, ensure_ascii=False)}
        self.db.table("runs").insert(row)
        return record

    def set_status(self, run_id: str, status: Status) -> None:
        """Mark a run ``done``, ``interrupted``, ``failed`` or ``running`` again."""
        self.db.table("runs").update(run_id, {"status": status, "updated": _now()})

    def add_case(self, run_id: str, result: CaseResult) -> None:
        """Store one scored case (replacing an earlier row for the same case and reading)."""
        row = result.row(run_id)  # one prepared statement (sqlite-utils' insert costs ~5 queries)
        with self.db.conn:
            self.db.conn.execute(_insert_case(tuple(row)), list(row.values()))

    def done_keys(self, run_id: str) -> set[tuple[str, str]]:
        """``(case_id, reading)`` of every stored case of a run."""
        rows = self.db.execute("select case_id, reading from cases where run_id = ?", [run_id]).fetchall()
        return {(r[0], r[1]) for r in rows}

    def get_run(self, ref: str) -> RunRecord:
        """The run with id ``ref`` or the only one starting with it; ``latest`` is the newest."""
        ref = ref.strip()
        if ref == "latest":
            rows = list(self.db.table("runs").rows_where(order_by="created desc, rowid desc", limit=1))
        else:
            rows = list(self.db.table("runs").rows_where("id like ?", [ref.replace("%", "") + "%"], limit=2))
        if not ref or not rows:
            raise EvalRunNotFound(
                f"no eval run {ref!r} in {self.path} (see `qwengraph eval list`)", run_id=ref
            )
        if len(rows) > 1:
            raise EvalRunNotFound(f"eval run id {ref!r} is ambiguous: give more of it", run_id=ref)
        return _record(rows[0])

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs first."""
        rows = self.db.table("runs").rows_where(order_by="created desc, rowid desc", limit=limit)
        return [_record(r) for r in rows]

    def cases(self, run_id: str) -> list[CaseResult]:
        """A run's cases in the order they were stored."""
        rows = self.db.table("cases").rows_where("run_id = ?", [run_id], order_by="rowid")
        return [CaseResult.from_row(r) for r in rows]


@functools.cache
def _insert_case(columns: tuple[str, ...]) -> str:
    names, marks = ", ".join(columns), ", ".join("?" * len(columns))
    return f"insert or replace into cases ({names}) values ({marks})"  # noqa: S608 - our own column names


def _record(row: dict[str, Any]) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        model=row["model"],
        status=row["status"],
        created=row["created"],
        updated=row["updated"],
        total=row["total"] or 0,
        config=json.loads(row["config"] or "{}"),
    )

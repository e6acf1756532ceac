"""Drive a batch: skip what is done, run the rest at a bounded concurrency, record every result.

:func:`run_batch` is the same whichever executor runs the tasks (in this process, or on Ray):

1. the batch is recorded in the results database; a rerun must use the same agent and model;
2. tasks already recorded are skipped (``retry_failed``: ``failed`` and ``stopped`` ones run again);
3. the rest run as chains (a thread's tasks one after the other, in file order), at most
   ``concurrency`` tasks at once; one failing task never stops the batch;
4. each result is saved as it arrives: rows in the results database (one transaction per group
   of results that arrived together), a line appended to the JSONL output, the run's trace in
   ``traces.db``; so a batch killed at any moment (even ``kill -9``) keeps every recorded task;
5. at the end (and at the start of a rerun) the JSONL output is rewritten from the database: one
   line per task, in file order.

Ctrl-C stops the batch: running tasks are cancelled and not recorded; a rerun runs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

from agents.batch.results import STATUSES, ResultStore, decode_row, encode_cell
from agents.batch.tasks import Task, chains
from agents.batch.worker import Outcome, TaskWorker, failed_outcome
from graphs.errors import ConfigError, MemoryError_
from graphs.memory.trace_store import default_db_path, write_trace

SETTINGS_CHECKED = ("agent", "tools", "graph", "model", "workflow")
"""Settings a rerun of a batch must keep: other ones would mix two experiments in one batch."""


class Executor(Protocol):
    """Runs tasks somewhere: :meth:`submit` is awaited concurrently, up to the batch's concurrency."""

    label: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def submit(self, task: Mapping[str, Any]) -> Outcome:
        """Run one task and return its outcome (see :mod:`agents.batch.worker`)."""
        ...


class LocalExecutor:
    """Tasks run in this process, on one worker's event loop (async model calls, warm tools)."""

    label = "local"

    def __init__(self, worker: TaskWorker) -> None:
        self.worker = worker

    async def __aenter__(self) -> Self:
        await self.worker.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.__aexit__(*exc)

    async def submit(self, task: Mapping[str, Any]) -> Outcome:
        """Run the task on the worker."""
        return await self.worker.run(task)


class Progress(Protocol):
    """What shows a batch's progress (the CLI's progress bar; nothing in the Python API)."""

    def start(self, *, total: int, skipped: int, batch: str) -> None:
        """``total`` tasks will run now; ``skipped`` were done before."""
        ...

    def advance(self, status: str) -> None:
        """One task ended with ``status``."""
        ...

    def stop(self) -> None:
        """The batch ended (or was interrupted)."""
        ...


@dataclass
class BatchReport:
    """What a batch run did."""

    batch: str
    total: int  # tasks in the file
    skipped: int  # recorded before this run, not run again
    ran: int = 0  # recorded by this run
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "stopped": 0, "failed": 0})
    batch_counts: dict[str, int] = field(default_factory=dict)  # every recorded task of the batch, by status
    seconds: float = 0.0
    results: str = ""  # where the rows are
    out: Path | None = None
    trace_errors: int = 0
    interrupted: bool = False

    @property
    def failed(self) -> int:
        """Tasks of this run that did not end with an answer (``failed`` or ``stopped``)."""
        return self.counts["failed"] + self.counts["stopped"]

    def line(self) -> str:
        """One line for the terminal."""
        if not self.ran and not self.interrupted:
            return f"batch {self.batch}: nothing to run: all {self.total} task(s) are recorded"
        rate = f" ({self.ran / self.seconds:.1f} tasks/s)" if self.seconds > 0 and self.ran else ""
        parts = [f"{self.counts['ok']} ok", f"{self.counts['failed']} failed"]
        if self.counts["stopped"]:
            parts.insert(1, f"{self.counts['stopped']} stopped")
        done = f", {self.skipped} done before (skipped)" if self.skipped else ""
        head = "interrupted after" if self.interrupted else "ran"
        took = f"{head} {self.ran} task(s) in {self.seconds:.1f} s{rate}"
        return f"batch {self.batch}: {took}: {', '.join(parts)}{done}"


def check_settings(batch: str, saved: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """A rerun must keep the batch's agent, tools, graph, model and workflow (:class:`ConfigError`)."""
    changed = [k for k in SETTINGS_CHECKED if saved.get(k) != now.get(k)]
    if changed:
        was = ", ".join(f"{k}={saved.get(k)!r}" for k in changed)
        raise ConfigError(
            f"batch {batch!r} was started with {was}: rerun it with the same settings, "
            "or give this run its own name with --batch NAME"
        )


def pending(tasks: Sequence[Task], statuses: Mapping[str, str], *, retry_failed: bool) -> list[Task]:
    """Tasks to run: not recorded yet, or (``retry_failed``) recorded as failed or stopped."""
    again = ("failed", "stopped") if retry_failed else ()
    return [t for t in tasks if t.id not in statuses or statuses[t.id] in again]


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace ``path`` with one JSON line per row (atomically: a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("w", encoding="utf-8") as stream:
            stream.writelines(json.dumps(decode_row(row), ensure_ascii=False) + "\n" for row in rows)
        temporary.replace(path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise MemoryError_(f"cannot write the results file {path}: {err.strerror or err}") from err


class _Recorder:
    """Saves outcomes as they arrive, in a worker thread, in groups (one transaction per group)."""

    def __init__(
        self, store: ResultStore, batch: str, attempts: Mapping[str, int], *, out: Path | None, trace: bool
    ) -> None:
        self.store = store
        self.batch = batch
        self.attempts = dict(attempts)
        self.out = out
        self.trace_db = default_db_path() if trace else None
        self.trace_errors = 0
        self.queue: asyncio.Queue[Outcome | None] = asyncio.Queue()

    def _save(self, outcomes: list[Outcome]) -> list[str]:
        rows = []
        for outcome in outcomes:
            row = dict(outcome["row"], batch=self.batch)
            row["attempts"] = self.attempts.get(row["task_id"], 0) + 1
            rows.append(row)
        self.store.save(rows)
        if self.out is not None:
            with self.out.open("a", encoding="utf-8") as stream:
                for row in rows:
                    encoded = {k: encode_cell(v) for k, v in row.items()}
                    stream.write(json.dumps(decode_row(encoded), ensure_ascii=False) + "\n")
        for outcome in outcomes:
            if self.trace_db is not None and outcome.get("trace"):
                run_row, model_rows, tool_rows = outcome["trace"]
                try:
                    write_trace(self.trace_db, run_row, model_rows, tool_rows)
                except MemoryError_:
                    self.trace_errors += 1  # the result is what matters; the count is reported
        return [row["status"] for row in rows]

    async def run(self, progress: Progress | None, report: BatchReport) -> None:
        """Save until the ``None`` sentinel arrives; every outcome queued before it is saved."""
        done = False
        while not done:
            group = [await self.queue.get()]
            while not self.queue.empty():
                group.append(self.queue.get_nowait())
            done = None in group
            outcomes = [o for o in group if o is not None]
            if not outcomes:
                continue
            statuses = await asyncio.to_thread(self._save, outcomes)
            for status in statuses:
                report.ran += 1
                report.counts[status] = report.counts.get(status, 0) + 1
                if progress is not None:
                    progress.advance(status)


async def run_batch(
    tasks: Sequence[Task],
    executor: Executor,
    store: ResultStore,
    *,
    batch: str,
    tasks_file: str = "",
    settings: Mapping[str, Any] | None = None,
    concurrency: int = 4,
    retry_failed: bool = False,
    out: Path | None = None,
    progress: Progress | None = None,
    trace: bool = True,
) -> BatchReport:
    """Run the batch (see the module docstring) and return what it did.

    ``executor`` is entered here, and only when some task is pending.

    Raises:
        ConfigError: the batch was started with other settings.
        MemoryError_: the results database or the JSONL file cannot be written.
    """
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    settings = dict(settings or {})
    saved = await asyncio.to_thread(
        store.begin, batch, tasks_file=tasks_file, settings=settings, total=len(tasks)
    )
    check_settings(batch, saved, settings)
    statuses = await asyncio.to_thread(store.statuses, batch)
    attempts = await asyncio.to_thread(store.attempts, batch)
    todo = pending(tasks, statuses, retry_failed=retry_failed)
    report = BatchReport(
        batch=batch, total=len(tasks), skipped=len(tasks) - len(todo), results=store.where, out=out
    )
    if out is not None:  # the file as the database has it, before anything is appended
        await asyncio.to_thread(write_jsonl, out, await asyncio.to_thread(store.rows, batch))
    if todo:
        async with executor:  # opened only when there is work: a finished batch starts no worker
            recorder = _Recorder(store, batch, attempts, out=out, trace=trace)
            await _run(todo, executor, recorder, report, concurrency=concurrency, progress=progress)
    if out is not None:
        await asyncio.to_thread(write_jsonl, out, await asyncio.to_thread(store.rows, batch))
    final = await asyncio.to_thread(store.statuses, batch)
    report.batch_counts = {s: n for s in STATUSES if (n := sum(v == s for v in final.values()))}
    return report


async def _run(
    todo: Sequence[Task],
    executor: Executor,
    recorder: _Recorder,
    report: BatchReport,
    *,
    concurrency: int,
    progress: Progress | None,
) -> None:
    """Run the pending tasks as chains, at most ``concurrency`` at once, recording each result."""
    limit = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    if progress is not None:
        progress.start(total=len(todo), skipped=report.skipped, batch=report.batch)
    writer = asyncio.create_task(recorder.run(progress, report))

    async def run_chain(chain: list[Task]) -> None:
        for task in chain:
            async with limit:
                try:
                    outcome = await executor.submit(task.to_json())
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception as err:  # noqa: BLE001 - the executor lost the task (a worker died): a failed row
                    outcome = failed_outcome(task, err, worker=executor.label, model="")
            await recorder.queue.put(outcome)

    try:
        await asyncio.gather(*(run_chain(chain) for chain in chains(todo)))
    except (asyncio.CancelledError, KeyboardInterrupt):
        report.interrupted = True
        raise
    finally:
        await recorder.queue.put(None)
        await asyncio.shield(writer)
        report.seconds = time.perf_counter() - started
        report.trace_errors = recorder.trace_errors
        if progress is not None:
            progress.stop()

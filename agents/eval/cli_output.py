"""What ``qwengraph eval`` prints: the live progress bar, run tables, run lists, JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.eval.report import Report, build_report, report_table
from agents.eval.store import CaseResult, RunRecord


class Progressor:
    """A progress bar over a run's results with live accuracy per reading (stderr; off when piped)."""

    def __init__(self, console: Console, run: RunRecord, already: Sequence[CaseResult] = ()) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[score]}"),
            console=console,
            disable=not console.is_terminal,
            transient=False,
        )
        self.counts: dict[str, list[int]] = {}
        for result in already:
            self._count(result)
        self.task = self.progress.add_task(
            f"{run.kind} {run.id}", total=run.total, completed=len(already), score=self._score()
        )

    def _count(self, result: CaseResult) -> None:
        tally = self.counts.setdefault(result.reading, [0, 0])
        tally[0] += int(result.valid)
        tally[1] += 1

    def _score(self) -> str:
        return " · ".join(
            f"{name} {ok}/{n} {100 * ok / n:.0f}%" for name, (ok, n) in self.counts.items() if n
        )

    def add(self, result: CaseResult) -> None:
        """Count one stored result."""
        self._count(result)
        self.progress.update(self.task, advance=1, score=self._score())

    def __enter__(self) -> Progressor:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 200  # pipes and logs: keep table rows whole
    return console


def _settings(run: RunRecord) -> str:
    config = run.config
    keys: tuple[str, ...] = (
        "categories", "limit", "sample", "seed", "think", "profile", "max_tokens", "temperature",
    )  # fmt: skip
    if run.kind == "tasks":
        keys = ("file", "agent", "graph", "think", "max_steps")
    parts = []
    for key in keys:
        value = config.get(key)
        if value is None or value == []:
            continue
        parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " ".join(parts)


def print_run(
    run: RunRecord,
    cases: Sequence[CaseResult],
    *,
    as_json: bool = False,
    failures: bool = False,
    cases_in_json: bool = False,
) -> None:
    """A run's table (or JSON: settings, figures and, with ``cases_in_json``, every case)."""
    report = build_report(cases)
    if as_json:
        payload: dict[str, Any] = {
            "id": run.id, "kind": run.kind, "model": run.model, "status": run.status,
            "created": run.created, "config": run.config, **report.to_json(),
        }  # fmt: skip
        if cases_in_json:
            payload["cases"] = [c.__dict__ for c in cases]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        return
    console = _console()
    done = f"{len(cases)}/{run.total}" if run.total else str(len(cases))
    title = f"eval {run.id} · {run.kind} · {run.model} · {run.status} ({done} results) · {_settings(run)}"
    console.print(report_table(report, escape(title)))
    if failures:
        _print_failures(console, cases)


def _print_failures(console: Console, cases: Sequence[CaseResult]) -> None:
    failed = [c for c in cases if not c.valid]
    console.print(f"\n{len(failed)} failed:")
    for case in failed:
        calls = json.dumps(case.decoded, ensure_ascii=False) if case.decoded is not None else "(undecodable)"
        console.print(
            f" {escape(case.case_id)} [{case.reading}] {escape(case.error_type or '')}: "
            f"{escape(case.error)} · {escape(calls[:160])}",
            soft_wrap=True,
        )


def print_runs(runs: Sequence[RunRecord], reports: dict[str, Report], *, as_json: bool = False) -> None:
    """The run list: id, when, kind, model, status, results, headline scores per reading."""
    if as_json:
        rows = [
            {
                "id": r.id,
                "created": r.created,
                "kind": r.kind,
                "model": r.model,
                "status": r.status,
                "total": r.total,
                "summary": reports[r.id].summary,
            }
            for r in runs
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title="eval runs (newest first)", title_justify="left")
    for name in ("id", "created", "kind", "model", "status", "results", "score"):
        table.add_column(name)
    for run in runs:
        report = reports[run.id]
        results = sum(f.cases for c in report.categories for f in c.readings.values())
        headline = report.summary.get("non-live AST") or report.summary.get("all cases") or {}
        score = " · ".join(f"{name} {value:.1f}%" for name, value in headline.items())
        table.add_row(
            run.id, run.created.replace("T", " ")[:16], run.kind, escape(run.model), run.status,
            f"{results}/{run.total}", score,
        )  # fmt: skip
    _console().print(table)

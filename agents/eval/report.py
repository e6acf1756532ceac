"""Stored eval cases as per-category figures, rich tables and run-to-run comparisons.

Per category and reading: cases, correct, accuracy and BFCL's error types; per category: model
calls, tokens, thinking tokens, summed wall time and generation speed. Summary rows: BFCL's
non-live AST score (the unweighted mean of simple_python, multiple, parallel and
parallel_multiple, when all four ran), the live AST score (weighted by cases), irrelevance
(both irrelevance categories pooled) and all cases pooled.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from agents.eval.bfcl_data import CATEGORIES, NON_LIVE_AST
from agents.eval.store import CaseResult, RunRecord

LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")


@dataclass
class ReadingFigures:
    """One reading's score in one category."""

    cases: int = 0
    correct: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Correct / cases, in percent (0 for no cases)."""
        return 100.0 * self.correct / self.cases if self.cases else 0.0


@dataclass
class CategoryFigures:
    """One category: a score per reading, and the cost of producing them (all readings)."""

    category: str
    readings: dict[str, ReadingFigures] = field(default_factory=dict)
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    thinking_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Completion tokens per second of model wall time."""
        return self.completion_tokens / self.seconds if self.seconds else 0.0


@dataclass
class Report:
    """A run's figures: categories in run order, readings in first-seen order, summary scores."""

    categories: list[CategoryFigures]
    readings: list[str]
    summary: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "readings": self.readings,
            "categories": [
                asdict(c)
                | {
                    "tokens_per_second": round(c.tokens_per_second, 2),
                    "accuracy": {r: round(f.accuracy, 2) for r, f in c.readings.items()},
                }
                for c in self.categories
            ],
            "summary": self.summary,
        }


def build_report(cases: Iterable[CaseResult]) -> Report:
    """Aggregate stored cases."""
    by_category: dict[str, CategoryFigures] = {}
    readings: list[str] = []
    for case in cases:
        figures = by_category.setdefault(case.category, CategoryFigures(case.category))
        if case.reading not in readings:
            readings.append(case.reading)
        reading = figures.readings.setdefault(case.reading, ReadingFigures())
        reading.cases += 1
        reading.correct += int(case.valid)
        if not case.valid and case.error_type:
            reading.errors[case.error_type] = reading.errors.get(case.error_type, 0) + 1
        figures.model_calls += case.model_calls
        figures.prompt_tokens += case.prompt_tokens
        figures.completion_tokens += case.completion_tokens
        figures.thinking_tokens += case.thinking_tokens or 0
        figures.seconds += case.seconds
    ordered = sorted(by_category.values(), key=lambda f: _order(f.category))
    return Report(ordered, readings, _summary(ordered, readings))


def _order(category: str) -> tuple[int, str]:
    names = list(CATEGORIES)
    return (names.index(category), "") if category in names else (len(names), category)


def _summary(categories: Sequence[CategoryFigures], readings: Sequence[str]) -> dict[str, dict[str, float]]:
    found = {c.category: c for c in categories}
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for reading in readings:
        scores = [found[n].readings.get(reading) for n in NON_LIVE_AST if n in found]
        if len(scores) == len(NON_LIVE_AST) and all(scores):
            out["non-live AST"][reading] = round(sum(s.accuracy for s in scores if s) / len(scores), 2)
        for label, names in (("live AST", LIVE_AST), ("irrelevance", IRRELEVANCE)):
            pooled = _pool(found[n].readings.get(reading) for n in names if n in found)
            if pooled.cases:
                out[label][reading] = round(pooled.accuracy, 2)
        every = _pool(c.readings.get(reading) for c in categories)
        if every.cases:
            out["all cases"][reading] = round(every.accuracy, 2)
    return dict(out)


def _pool(parts: Iterable[ReadingFigures | None]) -> ReadingFigures:
    total = ReadingFigures()
    for part in parts:
        if part is not None:
            total.cases += part.cases
            total.correct += part.correct
    return total


def _errors(figures: ReadingFigures | None, top: int = 2) -> str:
    if figures is None or not figures.errors:
        return ""
    common = Counter(figures.errors).most_common(top)
    return ", ".join(f"{name.split(':')[-1]} {count}" for name, count in common)


def _pct(figures: ReadingFigures | None) -> str:
    return (
        "-"
        if figures is None or not figures.cases
        else f"{figures.correct}/{figures.cases} {figures.accuracy:.1f}%"
    )


def report_table(report: Report, title: str = "") -> Table:
    """The per-category table: accuracy per reading side by side, errors, calls, tokens, time."""
    table = Table(title=title or None, title_justify="left")
    table.add_column("category")
    for reading in report.readings:
        table.add_column(reading, justify="right")
    table.add_column(f"errors ({report.readings[0]})" if report.readings else "errors", overflow="fold")
    for name in ("calls", "tokens in/out", "think tok", "time s", "tok/s"):
        table.add_column(name, justify="right")
    for c in report.categories:
        table.add_row(
            c.category,
            *(_pct(c.readings.get(r)) for r in report.readings),
            _errors(c.readings.get(report.readings[0])) if report.readings else "",
            f"{c.model_calls:,}",
            f"{c.prompt_tokens:,}/{c.completion_tokens:,}",
            f"{c.thinking_tokens:,}" if c.thinking_tokens else "-",
            f"{c.seconds:,.1f}",
            f"{c.tokens_per_second:.1f}",
        )
    if report.summary:
        table.add_section()
        for label, scores in report.summary.items():
            cells = [f"{scores[r]:.1f}%" if r in scores else "-" for r in report.readings]
            table.add_row(f"[bold]{label}[/]", *cells, "", "", "", "", "", "")
    return table


@dataclass
class Change:
    """A case whose verdict differs between two runs."""

    case_id: str
    category: str
    reading: str
    before: str
    after: str


def verdict_label(case: CaseResult) -> str:
    """``ok`` or the error type."""
    return "ok" if case.valid else (case.error_type or "wrong")


def changed_cases(a: Sequence[CaseResult], b: Sequence[CaseResult]) -> list[Change]:
    """Cases present in both runs whose verdict changed (same case id and reading)."""
    before = {(c.case_id, c.reading): c for c in a}
    changes = []
    for case in b:
        old = before.get((case.case_id, case.reading))
        if old is not None and old.valid != case.valid:
            changes.append(
                Change(case.case_id, case.category, case.reading, verdict_label(old), verdict_label(case))
            )
    return changes


def compare_table(run_a: RunRecord, a: Report, run_b: RunRecord, b: Report) -> Table:
    """Accuracy per category and reading in both runs, and the difference."""
    table = Table(title=f"{run_a.id} ({run_a.model}) → {run_b.id} ({run_b.model})", title_justify="left")
    table.add_column("category")
    readings = [r for r in a.readings if r in b.readings]
    for reading in readings:
        table.add_column(f"{reading} A", justify="right")
        table.add_column(f"{reading} B", justify="right")
        table.add_column("Δ", justify="right")
    found_b = {c.category: c for c in b.categories}
    for cat in a.categories:
        other = found_b.get(cat.category)
        if other is None:
            continue
        cells: list[str] = []
        for reading in readings:
            fa, fb = cat.readings.get(reading), other.readings.get(reading)
            cells += [_pct(fa), _pct(fb), _delta(fa.accuracy if fa else None, fb.accuracy if fb else None)]
        table.add_row(cat.category, *cells)
    labels = [label for label in a.summary if label in b.summary]
    if labels:
        table.add_section()
    for label in labels:
        cells = []
        for reading in readings:
            va, vb = a.summary[label].get(reading), b.summary[label].get(reading)
            cells += [
                "-" if va is None else f"{va:.1f}%",
                "-" if vb is None else f"{vb:.1f}%",
                _delta(va, vb),
            ]
        table.add_row(f"[bold]{label}[/]", *cells)
    return table


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    diff = b - a
    colour = "green" if diff > 0 else "red" if diff < 0 else "dim"
    return f"[{colour}]{diff:+.1f}[/]"

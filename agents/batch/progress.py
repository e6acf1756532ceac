"""The batch's progress on the terminal: a live bar with rate, ETA and failures, or log lines.

On a terminal, :class:`BarProgress` draws ``batch tasks ━━━━━━╸━━━  120/200  31.2 tasks/s  ETA 0:00:03
2 failed`` on stderr (rich). When stderr is not a terminal (CI, ``nohup``, a log file), it
prints a plain line every :data:`LINE_EVERY_S` seconds and at the end instead, so logs show
progress without control characters.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

LINE_EVERY_S = 10.0


class RateColumn(ProgressColumn):
    """Tasks per second, over the recent window rich keeps."""

    def render(self, task: Task) -> Text:
        """``31.2 tasks/s`` (``-`` until there is a rate)."""
        speed = task.finished_speed or task.speed
        return Text("- tasks/s" if speed is None else f"{speed:.1f} tasks/s", style="cyan")


class FailedColumn(ProgressColumn):
    """How many tasks failed (or were stopped) so far, red when any."""

    def render(self, task: Task) -> Text:
        """``0 failed`` / ``3 failed``."""
        failed = int(task.fields.get("failed", 0))
        return Text(f"{failed} failed", style="bold red" if failed else "dim")


class BarProgress:
    """:class:`agents.batch.driver.Progress` for the terminal (see the module docstring)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self.failed = 0
        self.done = 0
        self.total = 0
        self._last_line = 0.0
        self._started = 0.0
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            FailedColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("batch", total=None, failed=0, start=False)

    def start(self, *, total: int, skipped: int, batch: str) -> None:
        """Show the bar (or the first line)."""
        self.total = total
        self._started = self._last_line = time.monotonic()
        if skipped:
            self.console.print(f"{skipped} task(s) already done in this batch: skipped", style="dim")
        if self.live:
            self._bar.update(self._task, total=total, description=f"batch {_short(batch)}")
            self._bar.start_task(self._task)
            self._bar.start()
        else:
            self.console.print(f"batch {batch}: {total} task(s) to run", markup=False)

    def advance(self, status: str) -> None:
        """Count one task."""
        self.done += 1
        if status != "ok":
            self.failed += 1
        if self.live:
            self._bar.update(self._task, advance=1, failed=self.failed)
            return
        now = time.monotonic()
        if now - self._last_line >= LINE_EVERY_S:
            self._last_line = now
            self.console.print(self._plain(now), markup=False)

    def _plain(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        eta = f"{(self.total - self.done) / rate:.0f} s" if rate > 0 else "-"
        return (
            f"{self.done}/{self.total} tasks, {rate:.1f} tasks/s, ETA {eta}, "
            f"{self.failed} failed, {elapsed:.0f} s elapsed"
        )

    def stop(self) -> None:
        """Leave the final bar (or line) on screen."""
        if self.live:
            self._bar.stop()
        else:
            self.console.print(self._plain(time.monotonic()), markup=False)


def _short(batch: str, width: int = 40) -> str:
    return batch if len(batch) <= width else "…" + batch[-(width - 1) :]

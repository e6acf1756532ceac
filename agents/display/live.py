"""Live run displays: one output updated in place in Jupyter, the CLI's streaming text in a terminal.

:class:`NotebookDisplay` is an ``on_event`` callback for :func:`agents.runner.run` (and anything that
yields the runner's events or LangGraph stream items, through :meth:`NotebookDisplay.feed`). It
shows one output with IPython's display machinery (``display(..., display_id=True)``) and updates
that same output as events arrive, at most every ``min_interval`` seconds and once more at the end.
:class:`TerminalDisplay` is the CLI's own display, unchanged. :func:`live_display` picks one:
the notebook display inside a Jupyter kernel, the terminal one elsewhere.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from agents.display.html import render_html, render_text
from agents.display.stream import StreamReader
from agents.display.view import RunView
from agents.runner import Event
from graphs.summary import RunSummary

MIN_INTERVAL = 0.1
"""Seconds between two updates of a notebook display while events stream in (the last is always shown)."""


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab).

    IPython is never imported here: a kernel has already imported it. A terminal IPython has no
    kernel, so it keeps the terminal display.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveDisplay(Protocol):
    """What :func:`live_display` returns: an event callback with a start and a finish."""

    def __call__(self, event: Event) -> None:
        """Show one event."""
        ...

    def feed(self, item: Any) -> None:
        """Show one LangGraph stream item (or runner event)."""
        ...

    def finish(self, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        """The run is over: show the rest (and the summary or error)."""
        ...

    def __enter__(self) -> LiveDisplay: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class _Base:
    """Stream reading and the context-manager protocol shared by both displays."""

    def __init__(self) -> None:
        self.reader = StreamReader()
        self.result: Callable[[], RunSummary | None] = self.reader.summary  # the summary shown at the end
        self._done = False

    def __call__(self, event: Event) -> None:
        raise NotImplementedError

    def feed(self, item: Any) -> None:
        """Show one LangGraph stream item (see :mod:`agents.display.stream`) or runner event."""
        for event in self.reader.events(item):
            self(event)

    def finish(self, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done:
            self.finish(self.result() if exc is None else None, exc)


class NotebookDisplay(_Base):
    """One Jupyter output for a run, updated in place: thinking, tool cards, answer, footer.

    Args:
        title: a line shown above the run (e.g. the prompt or the model).
        min_interval: seconds between two updates of the output while events stream in
            (default :data:`MIN_INTERVAL`).
        clock: the time source (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        title: str = "",
        min_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.view = RunView(title=title)
        self.min_interval = MIN_INTERVAL if min_interval is None else min_interval
        self._clock = clock
        self._started = clock()
        self._shown_at: float | None = None
        self._handle: Any = None
        self._dirty = False

    def bundle(self) -> dict[str, str]:
        """The output as MIME types: ``text/html`` and ``text/plain``."""
        return {"text/html": render_html(self.view), "text/plain": render_text(self.view) or "(running)"}

    def _show(self) -> None:
        from IPython.display import display  # noqa: PLC0415 - only in a kernel, where it is loaded

        if self._handle is None:
            self._handle = display(self.bundle(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(self.bundle(), raw=True)
        self._shown_at, self._dirty = self._clock(), False

    def start(self) -> None:
        """Show the (empty, running) output now, so it appears before the first event."""
        if self._handle is None:
            self._show()

    def __call__(self, event: Event) -> None:
        self.view.add(event)
        self._dirty = True
        if self._shown_at is None or self._clock() - self._shown_at >= self.min_interval:
            self._show()

    def finish(self, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        """Mark the run finished (thinking folds, footer shows) and update the output a last time."""
        self.view.finished, self.view.summary = True, summary
        self.view.seconds = self._clock() - self._started
        if error is not None:
            self.view.error = str(error).splitlines()[0] if str(error) else type(error).__name__
        self._done = True
        self._show()

    def __enter__(self) -> NotebookDisplay:
        self.start()
        return self


class TerminalDisplay(_Base):
    """The CLI's streaming text display (thinking dimmed, ``→ tool(args) = result``), for terminals."""

    def __init__(self, console: Any = None) -> None:
        super().__init__()
        from rich.console import Console  # noqa: PLC0415

        from agents.cli_common import Display  # noqa: PLC0415 - the CLI's display, exactly as it is

        self.console = console or Console(highlight=False)
        self._display = Display(self.console)

    def __call__(self, event: Event) -> None:
        self._display(event)

    def finish(self, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        """End the streamed line."""
        self._done = True
        self.console.print()


def live_display(*, title: str = "", notebook: bool | None = None) -> NotebookDisplay | TerminalDisplay:
    """A display for one run: :class:`NotebookDisplay` in a Jupyter kernel, else :class:`TerminalDisplay`.

    ``notebook`` forces the choice (``None``: detect with :func:`in_notebook`).
    """
    if notebook if notebook is not None else in_notebook():
        return NotebookDisplay(title=title)
    return TerminalDisplay()

"""Live displays of agent runs: in Jupyter one output updated in place, in a terminal the CLI's text.

In a Jupyter kernel, :func:`agents.runner.run` shows its run live by itself when it is given no
``on_event`` (``display=False`` turns that off). :func:`display_run` does it explicitly, for a
prompt (through ``run``, or ``run_agent`` with ``agent=``), for LangGraph's own streaming
(``graph.stream(...)``), and :func:`adisplay_run` for async streams (``graph.astream(...)``).

Example:
    >>> from agents.display import display_run
    >>> result = display_run("What is 17*23?", model="ollama:qwen3:8b")  # doctest: +SKIP
    >>> display_run(graph.stream(inputs, stream_mode=["messages", "values"]))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from agents.display.html import markdown_html, render_html, render_text
from agents.display.live import LiveDisplay, NotebookDisplay, TerminalDisplay, in_notebook, live_display
from agents.display.stream import StreamReader
from agents.display.view import RunView, Segment
from graphs.summary import RunSummary

__all__ = [
    "LiveDisplay",
    "NotebookDisplay",
    "RunView",
    "Segment",
    "StreamReader",
    "TerminalDisplay",
    "adisplay_run",
    "display_run",
    "in_notebook",
    "live_display",
    "markdown_html",
    "render_html",
    "render_text",
]


def display_run(
    source: str | Iterable[Any] | None,
    /,
    *,
    agent: Any = None,
    title: str | None = None,
    notebook: bool | None = None,
    **options: Any,
) -> RunSummary | None:
    """Run and show live, or show a run that is already streaming; return its summary.

    Args:
        source: a prompt (``None``: resume ``thread=``), run with :func:`agents.runner.run`, or with
            :func:`agents.agent_run.run_agent` when ``agent`` is given; or an iterable of LangGraph
            stream items (``graph.stream(inputs, stream_mode=...)``, any mode) or runner events.
        agent: an agent name or :class:`~agents.spec.AgentSpec` (prompts only).
        title: the line above the run (default: the prompt).
        notebook: force the notebook (``True``) or terminal (``False``) display; ``None`` detects.
        **options: passed to ``run`` / ``run_agent`` (``model``, ``tools``, ``thread``, ...).

    Returns:
        The run's :class:`RunSummary` (for a stream: of the messages it carried; ``None`` if it
        carried none).
    """
    if source is None or isinstance(source, str):
        shown = live_display(title=source or "" if title is None else title, notebook=notebook)
        with shown:
            if agent is not None:
                from agents.agent_run import run_agent  # noqa: PLC0415 - agent_run imports the runner

                summary = run_agent(agent, source or "", on_event=shown, display=False, **options)
            else:
                from agents.runner import run  # noqa: PLC0415

                summary = run(source, on_event=shown, display=False, **options)
            shown.finish(summary)
        return summary
    if agent is not None or options:
        raise TypeError("display_run: agent and run options go with a prompt, not with a stream")
    shown = live_display(title=title or "", notebook=notebook)
    with shown:
        for item in source:
            shown.feed(item)
        result = shown.reader.summary()
        shown.finish(result)
    return result


async def adisplay_run(
    source: AsyncIterable[Any], /, *, title: str = "", notebook: bool | None = None
) -> RunSummary | None:
    """:func:`display_run` for an async stream: ``await adisplay_run(graph.astream(inputs, ...))``."""
    shown = live_display(title=title, notebook=notebook)
    with shown:
        async for item in source:
            shown.feed(item)
        result = shown.reader.summary()
        shown.finish(result)
    return result

"""What a run display shows, as data: the run's events folded into segments, in order.

:class:`RunView` takes the runner's :class:`~agents.runner.Event` objects (the same ones the CLI's
terminal display prints) and keeps them as segments: consecutive thinking pieces become one thinking
block, consecutive answer pieces one text block, each tool call a card, each progress line a line.
A worked solution's tool values go into the text where the graph wrote them (and are kept as cards
too, so the display can list them). Rendering is elsewhere (:mod:`agents.display.html`), so the
same view serves HTML, plain text and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agents.runner import Event
from graphs.summary import RunSummary

SegmentKind = Literal["thinking", "text", "tool", "progress"]
VALUE_START, VALUE_END = "\ue000", "\ue001"
"""Private-use characters around a tool value inside answer text, so the HTML can highlight it."""


def _mark(value: str) -> str:
    """A one-line value between the markers (its surrounding blanks outside them); others as they are."""
    core = value.strip()
    if not core or "\n" in core:
        return value
    start = value.index(core)
    return f"{value[:start]}{VALUE_START}{core}{VALUE_END}{value[start + len(core) :]}"


def plain(text: str) -> str:
    """Text without the value markers."""
    return text.replace(VALUE_START, "").replace(VALUE_END, "")


@dataclass
class Segment:
    """One block of the display: a thinking block, answer text, a tool card or a progress line."""

    kind: SegmentKind
    text: str
    name: str = ""
    args: dict[str, Any] | None = None


@dataclass
class RunView:
    """Everything shown so far about one run; :meth:`add` folds in one event."""

    title: str = ""
    segments: list[Segment] = field(default_factory=list)
    values: list[Segment] = field(default_factory=list)  # tool values written into the answer text
    finished: bool = False
    error: str | None = None
    summary: RunSummary | None = None
    seconds: float | None = None

    def add(self, event: Event) -> None:
        """Fold one runner event into the segments (mirrors the terminal display's rules)."""
        last = self.segments[-1] if self.segments else None
        if event.kind == "value":
            card = Segment("tool", event.text, event.name, event.args)
            self.values.append(card)
            if last is None or last.kind == "text":  # inside the answer: the value goes where it was written
                self._append("text", _mark(event.text))
            else:
                self.segments.append(card)
        elif event.kind in ("thinking", "text"):
            self._append(event.kind, event.text)
        elif event.kind == "progress":
            self.segments.append(Segment("progress", event.text))
        elif event.kind in ("tool_call", "summary"):  # the card comes with the result; the footer at the end
            return
        else:
            self.segments.append(Segment("tool", event.text, event.name, event.args))

    def _append(self, kind: Literal["thinking", "text"], text: str) -> None:
        last = self.segments[-1] if self.segments else None
        if last is not None and last.kind == kind:
            last.text += text
        elif text:
            self.segments.append(Segment(kind, text))

    @property
    def answer(self) -> str:
        """The text shown last (the answer, once the run has finished)."""
        texts = [s.text for s in self.segments if s.kind == "text"]
        return plain(texts[-1]).strip() if texts else ""

    def tools(self) -> list[Segment]:
        """Every tool card, in order (a worked solution's values included)."""
        cards = [s for s in self.segments if s.kind == "tool"]
        return cards + [v for v in self.values if all(v is not c for c in cards)]

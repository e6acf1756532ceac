"""Join stream deltas once an answer gets large, so a huge reply costs linear time, not quadratic.

LangChain adds every streamed chunk to the message so far (``chunk + chunk``), copying the text each
time: a 10 MB answer in 1,000 pieces cost about 8 s of copying here. Up to :data:`LARGE` characters
every delta passes through unchanged (what users see of normal answers does not change). Beyond it,
consecutive text-only (or thinking-only) deltas are joined until the joined part reaches an eighth of
what has arrived, or :data:`FLUSH_S` has passed since the last delta went out, so the number of
chunks grows with the logarithm of the size and the display never lags by more than that interval
(checked as deltas arrive). Deltas with tool calls, a finish reason or usage always flush.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator

from graphs.errors import ModelError
from graphs.models.transports.base import Delta

LARGE = 64 * 1024
FLUSH_S = 0.1


class _Joiner:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.total = 0
        self.pending: Delta | None = None  # the first held delta; the others' pieces are in parts
        self.parts: list[str] = []
        self.held = 0
        self.last = clock()

    def add(self, delta: Delta) -> list[Delta]:
        """The deltas to emit now, given one more."""
        size = len(delta.text) + len(delta.thinking)
        kind = _kind(delta)
        out: list[Delta] = []
        if self.pending is not None and (kind is None or kind != _kind(self.pending)):
            out.append(self._take())
        self.total += size
        if kind is None or self.total - size < LARGE:
            out.append(delta)
        else:
            if self.pending is None:
                self.pending = delta
            self.parts.append(delta.text or delta.thinking)
            self.held += size
            if self.held >= self.total // 8 or self.clock() - self.last >= FLUSH_S:
                out.append(self._take())
        if out:
            self.last = self.clock()
        return out

    def flush(self) -> list[Delta]:
        return [self._take()] if self.pending is not None else []

    def _take(self) -> Delta:
        assert self.pending is not None
        joined = "".join(self.parts)
        kind = _kind(self.pending)
        self.pending, self.parts, self.held = None, [], 0
        return Delta(text=joined) if kind == "text" else Delta(thinking=joined)


def _kind(delta: Delta) -> str | None:
    """``"text"`` or ``"thinking"`` for a delta carrying only that; ``None`` for anything else."""
    if delta.tool_calls or delta.bad_tool_calls or delta.finish_reason or delta.usage:
        return None
    if delta.thinking_budget_hit or delta.stop_sequence or (delta.text and delta.thinking):
        return None
    return "text" if delta.text else "thinking"


def coalesce(deltas: Iterator[Delta], clock: Callable[[], float] = time.monotonic) -> Iterator[Delta]:
    """``deltas`` with large answers joined into fewer pieces (see the module docstring)."""
    joiner = _Joiner(clock)
    try:
        for delta in deltas:
            yield from joiner.add(delta)
    except ModelError:
        yield from joiner.flush()  # what arrived before the failure is shown, then the error
        raise
    yield from joiner.flush()


async def acoalesce(
    deltas: AsyncIterator[Delta], clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[Delta]:
    """Async twin of :func:`coalesce`."""
    joiner = _Joiner(clock)
    try:
        async for delta in deltas:
            for out in joiner.add(delta):
                yield out
    except ModelError:
        for out in joiner.flush():
            yield out
        raise
    for out in joiner.flush():
        yield out

"""Client-side stop strings: cut streamed text at the first stop string and say which one it was.

Servers that apply stop strings themselves mostly do not report which string matched, and a reply
that ended at a stop string then looks like one that ended on its own. Transports that see the raw
text (the in-process ``local`` one) cut it here instead, so the caller learns
``Delta.stop_sequence``. Text that might be the start of a stop string is held back until the next
piece shows whether it is.

Example:
    >>> scan = StopScanner(["\\\\approx", "="])
    >>> scan.feed("x \\\\app"), scan.feed("rox 2"), scan.hit
    ('x ', '', '\\\\approx')
"""

from __future__ import annotations

from collections.abc import Iterable


class StopScanner:
    """Finds the first stop string in streamed text."""

    def __init__(self, stops: Iterable[str], *, include: bool = False) -> None:
        """``include``: the matched stop string is passed on as the end of the text."""
        self.stops = [s for s in dict.fromkeys(stops) if s]
        self.include = include
        self.held = ""
        self.hit: str | None = None

    def feed(self, text: str) -> str:
        """Take the next piece; return the text that is safe to pass on (none once a stop is hit)."""
        if self.hit is not None:
            return ""
        buffer = self.held + text
        found = [(buffer.find(s), -len(s), s) for s in self.stops if s in buffer]
        if found:
            index, _, stop = min(found)
            self.hit, self.held = stop, ""
            return buffer[: index + len(stop)] if self.include else buffer[:index]
        keep = max(
            (n for s in self.stops for n in range(1, len(s)) if buffer.endswith(s[:n])),
            default=0,
        )
        self.held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of the stream (it did not become a stop string)."""
        held, self.held = self.held, ""
        return held

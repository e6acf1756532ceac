"""Something is always visibly happening while a model works: a live status line on the terminal.

:class:`Activity` is a LangChain callback handler that counts model calls and streamed tokens (and,
for whole answers, the tokens the model reports). :class:`StatusLine` draws ``model call 3 · 142
tokens · 38.5 tok/s · 12 s`` on stderr whenever the screen has been idle for a moment at the start
of a line — during model loading, forced tool calls, hidden work — and erases it before anything
else is printed, so the streamed answer is never disturbed. It draws only on a terminal; piped
output and ``--json`` stay clean.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

ERASE = "\r\x1b[2K"
WIDTH = 100


class Activity(BaseCallbackHandler):
    """Model calls and tokens of one run (updated from LangChain's callbacks, read by the status line)."""

    raise_error = False

    def __init__(self) -> None:
        self.calls = 0
        self.tokens = 0
        self.call_tokens = 0
        self.call_started: float | None = None
        self.stage: str | None = None  # set by the CLI around work that is not a model call
        self._lock = threading.Lock()

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[Any]], **kwargs: Any
    ) -> None:
        """A model call starts."""
        with self._lock:
            self.calls += 1
            self.call_tokens = 0
            self.call_started = time.monotonic()

    def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """One streamed piece (a token on the local engine, a delta on servers)."""
        with self._lock:
            self.tokens += 1
            self.call_tokens += 1

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A call ended; whole (not streamed) answers count the tokens the model reports."""
        with self._lock:
            if self.call_tokens == 0:
                for generations in response.generations:
                    for generation in generations:
                        usage = getattr(getattr(generation, "message", None), "usage_metadata", None) or {}
                        self.tokens += int(usage.get("output_tokens", 0) or 0)
            self.call_started = None

    def line(self) -> str:
        """The status text, e.g. ``model call 2 · 87 tokens · 41.0 tok/s · 3 s``."""
        with self._lock:
            if self.stage:
                return self.stage
            if self.call_started is None:
                return (
                    f"working · {self.calls} model calls, {self.tokens} tokens" if self.calls else "starting"
                )
            elapsed = time.monotonic() - self.call_started
            rate = f" · {self.call_tokens / elapsed:.1f} tok/s" if self.call_tokens and elapsed > 0.5 else ""
            return f"model call {self.calls} · {self.call_tokens} tokens{rate} · {elapsed:.0f} s"


class StatusLine:
    """Draws :meth:`Activity.line` on ``stream`` while the display is idle at the start of a line.

    The display calls :meth:`clear` before it prints and :meth:`printed` after, with the text it
    printed (so the status line knows whether the cursor is at the start of a line).
    """

    def __init__(
        self, activity: Activity, stream: TextIO | None = None, *, idle: float = 1.0, interval: float = 0.25
    ) -> None:
        self.activity = activity
        self.stream = stream if stream is not None else sys.stderr
        self.idle = idle
        self.interval = interval
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn: str | None = None  # the text on screen, if any
        self._at_line_start = True
        self._last_output = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StatusLine:
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, name="qwengraph-status", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.clear()

    def clear(self) -> None:
        """Erase the status line if it is drawn (call before printing anything)."""
        with self._lock:
            if self._drawn is not None:
                self.stream.write(ERASE)
                self.stream.flush()
                self._drawn = None

    def printed(self, text: str) -> None:
        """Note that the display printed ``text``."""
        with self._lock:
            self._last_output = time.monotonic()
            if text:
                self._at_line_start = text.endswith("\n")

    def draw_now(self) -> None:
        """Draw the status line if the display is idle at the start of a line (the loop's tick)."""
        with self._lock:
            quiet = time.monotonic() - self._last_output >= self.idle
            if not (quiet and self._at_line_start):
                return
            text = self.activity.line()[:WIDTH]
            if text == self._drawn:
                return
            self.stream.write(ERASE + "\x1b[2m" + text + "\x1b[0m")
            self.stream.flush()
            self._drawn = text

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.draw_now()


def warm_engine(chat_model: Any, activity: Activity) -> None:
    """Probe and load a local model before the run, showing the stage on the status line.

    Servers and replayed runs have nothing to warm.
    """
    warm = getattr(chat_model.get_transport(), "warm", None)
    if not callable(warm):
        return

    def stage(text: str) -> None:
        activity.stage = f"{text}…"

    try:
        warm(stage)
    finally:
        activity.stage = None

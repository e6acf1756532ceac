"""One run in progress on the async path: its events, its result, and a way to cancel it.

The run itself goes on in a worker thread (the sync runner); its events cross to the event loop
through a queue. Cancelling sets a flag a callback handler checks at every streamed model piece,
model call and tool call, so the model's stream is closed at once and nothing further starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from agents.runner import Event
from graphs.errors import RunCancelled

RunFn = Callable[[Callable[[Event], None] | None, threading.Event], Any]
"""Runs to the end in the calling thread: ``run(on_event, cancel_flag) -> result``."""


class _QuietCancel(logging.Filter):
    """LangChain logs a warning before re-raising a handler's exception; a cancel is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "RunCancelled" not in record.getMessage()


_QUIET = _QuietCancel()


def _quiet_cancels() -> None:
    """Install the filter once, when the first run starts (not at import)."""
    logger = logging.getLogger("langchain_core.callbacks.manager")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


class Canceller(BaseCallbackHandler):
    """Stops a run at the next streamed piece, model call or tool call once ``flag`` is set."""

    raise_error = True  # LangChain re-raises this handler's exception into the run

    def __init__(self, flag: threading.Event) -> None:
        self.flag = flag

    def _check(self) -> None:
        if self.flag.is_set():
            raise RunCancelled("the run was cancelled")

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        """A model call is about to start."""
        self._check()

    def on_llm_new_token(self, *args: Any, **kwargs: Any) -> None:
        """A streamed piece arrived."""
        self._check()

    def on_tool_start(self, *args: Any, **kwargs: Any) -> None:
        """A tool call is about to start."""
        self._check()


class RunHandle:
    """One run in progress on the async path (see the module docstring).

    Args:
        run: runs to the end in a worker thread: ``run(on_event, cancel_flag)`` returns the result.
        executor: the worker threads.
        events: forward the run's events (``False``: nobody reads them; :meth:`events` ends at once
            when the run ends).

    Example:
        >>> handle = agent.start("What is 17*23?")  # doctest: +SKIP
        >>> async for event in handle.events():  # doctest: +SKIP
        ...     print(event.kind, event.text)
        >>> record = await handle.result()  # doctest: +SKIP
    """

    def __init__(self, run: RunFn, executor: Executor, *, events: bool = True) -> None:
        _quiet_cancels()
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._cancel = threading.Event()

        def forward(event: Event) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, event)

        def work() -> Any:
            try:
                return run(forward if events else None, self._cancel)
            finally:
                loop.call_soon_threadsafe(self._queue.put_nowait, None)

        self._future = loop.run_in_executor(executor, work)

    async def events(self) -> AsyncIterator[Event]:
        """The run's events as they happen; ends when the run ends."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def cancel(self) -> None:
        """Ask the run to stop at its next model piece, model call or tool call."""
        if not self._future.done():
            self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called while the run was still going."""
        return self._cancel.is_set()

    async def result(self) -> Any:
        """The run's result once it has ended (shielded: awaiting it again after the awaiting task
        was cancelled still gives the result)."""
        return await asyncio.shield(self._future)

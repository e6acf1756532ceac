"""One run in progress as a task of the event loop: its events, its result, a way to cancel it.

A server streams a run's events to its client and must stop the run when the client goes away;
:class:`RunHandle` wraps the run (a coroutine) in a task, passes its events through a queue, and
keeps the record the run leaves when it is cancelled (``RunCancelled``), so the request can still
be logged and traced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agents.run_core import Event

Drive = Callable[[Callable[[Event], None], Callable[[Any], None]], Awaitable[Any]]
"""``drive(emit, keep)``: runs to the end, calling ``emit(event)`` for each event and, when
cancelled, ``keep(record)`` before re-raising the cancellation."""


class RunHandle:
    """One run in progress (see the module docstring).

    Example:
        >>> handle = agent.start("What is 17*23?")  # doctest: +SKIP
        >>> async for event in handle.events():  # doctest: +SKIP
        ...     print(event.kind, event.text)
        >>> record = await handle.result()  # doctest: +SKIP
    """

    def __init__(self, drive: Drive) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._kept: Any = None
        self._cancelled = False

        def keep(record: Any) -> None:
            self._kept = record

        async def main() -> Any:
            try:
                return await drive(self._queue.put_nowait, keep)
            finally:
                self._queue.put_nowait(None)

        self._task = asyncio.create_task(main())

    async def events(self) -> AsyncIterator[Event]:
        """The run's events as they happen; ends when the run ends."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def cancel(self) -> None:
        """Stop the run now (its model stream is closed, nothing further starts)."""
        if not self._task.done():
            self._cancelled = True
            self._task.cancel()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` stopped the run while it was going."""
        return self._cancelled

    async def result(self) -> Any:
        """The run's record once it has ended; after :meth:`cancel`, the record it left."""
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled() and self._kept is not None:
                return self._kept
            raise

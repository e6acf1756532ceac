"""Async HTTP clients for the transports: aiohttp underneath, one client per event loop.

**aiohttp underneath.** The async clients are httpx clients whose transport is
``httpx_aiohttp.AiohttpTransport``: the same httpx API, errors and hooks (respx mocks them, the
cassette recorder wraps them, the ``ollama`` client takes the transport as a keyword), with
aiohttp's connection handling. Measured here with ``tests/bench/overhead.py``: 50 concurrent
episodes at 50 ms latency took 65x the ideal wall time on httpx's own async pool and 9.4x on raw
aiohttp on a machine at load 20 (the issue's figures on a quieter machine: 7.7x and 1.2x).

**One client per event loop.** An async client's connections belong to the event loop that opened
them, so a model used from two loops (two ``asyncio.run`` calls, a notebook and a script, one test
after another) gets a client for each loop. A loop's client is closed when that loop shuts down its
async generators (``asyncio.run`` and pytest-asyncio do), so nothing is left unclosed.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import httpx

C = TypeVar("C")


def aiohttp_transport(limits: httpx.Limits | None = None) -> httpx.AsyncBaseTransport:
    """An httpx async transport on aiohttp (imported here: aiohttp costs start-up time)."""
    from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415

    return AiohttpTransport(limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=100))


async def _close_when_loop_ends(close: Callable[[], Awaitable[Any]]) -> AsyncIterator[None]:
    """Parked at its ``yield`` until the loop's ``shutdown_asyncgens`` closes it: then ``close``."""
    try:
        yield
    finally:
        await close()


class LoopClients(Generic[C]):
    """The client for the running event loop, made by ``make`` on first use in that loop.

    ``close`` releases a client (``client.aclose`` for httpx); it runs in the client's own loop
    as that loop shuts down.
    """

    def __init__(self, make: Callable[[], C], close: Callable[[C], Awaitable[Any]]) -> None:
        self._make = make
        self._close = close
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[C, object]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> C:
        """The running loop's client (must be called inside a running event loop)."""
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is not None:
            return found[0]
        client = self._make()
        closer = _close_when_loop_ends(lambda: self._close(client))
        step: Any = closer.__anext__()  # registers the generator with this loop's shutdown_asyncgens
        with contextlib.suppress(StopIteration):
            step.send(None)  # runs it to its yield at once: no await needed
        self._clients[loop] = (client, closer)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client now, if it has one."""
        found = self._clients.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[1].aclose()  # type: ignore[attr-defined]

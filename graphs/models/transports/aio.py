"""Async HTTP for the transports: httpx clients on aiohttp connections, one client per event loop.

**aiohttp underneath.** The async clients are ordinary ``httpx.AsyncClient`` objects whose
transport, :class:`AiohttpTransport`, sends each request over an ``aiohttp`` connection pool:
the same httpx API, errors and hooks (respx mocks them with ``using="httpx"``, the cassette
recorder wraps them, the ``ollama`` client takes the transport as a keyword argument), with
aiohttp's connection handling. Measured with ``tests/bench/overhead.py`` on this project's
machine at load ~20: 50 concurrent episodes at 50 ms latency took 65x the ideal wall time on
httpx's own async pool and 9.4x on raw aiohttp (the issue's figures on a quieter machine: 7.7x and
1.2x). This module is ours rather than the ``httpx-aiohttp`` package because LangSmith (imported
by every LangChain tool and chat model) imports that package whenever it is installed, which loads
aiohttp at every start of every program; here aiohttp loads with the first async request.

**One client per event loop.** An async client's connections belong to the event loop that opened
them, so a model used from two loops (two ``asyncio.run`` calls, one test after another) gets a
client for each loop. A loop's client is closed when that loop shuts down its async generators
(``asyncio.run`` and pytest-asyncio do), so nothing is left unclosed.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

if TYPE_CHECKING:
    import aiohttp

C = TypeVar("C")
POOL_LIMIT = 100
"""Connections one client keeps open at most (per event loop)."""


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it; closing it returns the connection to the pool."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's exceptions as the httpx ones the transports already handle."""
    import aiohttp  # noqa: PLC0415 - loaded only once a request is on its way

    try:
        yield
    except aiohttp.ConnectionTimeoutError as err:
        raise httpx.ConnectTimeout(str(err) or "connect timed out", request=request) from err
    except (aiohttp.ServerTimeoutError, TimeoutError) as err:
        raise httpx.ReadTimeout(str(err) or "read timed out", request=request) from err
    except aiohttp.ClientConnectorError as err:
        raise httpx.ConnectError(str(err), request=request) from err
    except aiohttp.ServerDisconnectedError as err:
        raise httpx.RemoteProtocolError(str(err) or "server disconnected", request=request) from err
    except aiohttp.ClientPayloadError as err:
        raise httpx.ReadError(str(err), request=request) from err
    except aiohttp.ClientError as err:
        raise httpx.NetworkError(str(err) or type(err).__name__, request=request) from err


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that sends requests over an aiohttp connection pool.

    The pool is created with the first request (in the running event loop) and closed by
    :meth:`aclose`. httpx's timeouts apply: ``connect`` to connecting, ``read`` to each read.
    Bodies are passed through undecoded; httpx decodes them as usual.
    """

    def __init__(self, limit: int = POOL_LIMIT) -> None:
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp  # noqa: PLC0415

        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response body streams from the connection."""
        import aiohttp  # noqa: PLC0415

        limits = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read")
        )
        with _httpx_errors(request):
            response = await self._open().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=timeout,
            )
        return httpx.Response(
            status_code=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


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
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[C, Any]] = (
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
            await found[1].aclose()

"""Use an MCP server's tools as ordinary LangChain tools (built on the ``mcp`` SDK, extra ``mcp``).

:func:`open_mcp_tools` connects to each configured server (:mod:`tools.mcp_config`), lists its
tools and yields one :class:`McpTool` per tool. They are plain ``BaseTool`` objects, so the graphs
give them what every tool gets: approval (``--approve NAME``), tracing (``traces.db``) and the
per-call timeout; on top, each call has the server's own ``timeout``. A server's failure to start
or answer becomes :class:`McpUnavailable`; a failing *call* becomes an ``Error: ...`` result the
model can read, as with the built-in tools.

Each server keeps one connection for the whole run (a stdio server stays one process, so a
stateful server keeps its state between calls). The SDK is async; a connection runs its own
event loop in a daemon thread, so the tools work from the synchronous graph runtime, from worker
threads and from async code alike.

Tool names: a server's tool keeps its name unless another tool already has it; then it becomes
``<server>_<tool>``. Names are cut to the characters OpenAI-style tool names allow.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import threading
from collections.abc import Collection, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from typing import Any, TextIO, TypeVar

from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from tools.errors import ToolError
from tools.mcp_config import McpServerConfig

__all__ = ["McpConnection", "McpTool", "McpUnavailable", "open_mcp_tools", "result_text"]

MAX_RESULT_CHARS = 20_000
"""A tool result longer than this is cut (with a note), so one answer cannot flood the context."""
CONNECT_TIMEOUT = 60.0
_T = TypeVar("_T")


class McpUnavailable(ToolError):
    """An MCP server could not be started, reached or listed (the message names it and says why)."""


def _import_mcp() -> Any:
    try:
        import mcp  # noqa: PLC0415 - optional dependency, loaded when an MCP server is used
    except ImportError:
        raise McpUnavailable(
            "MCP support is not installed: pip install 'qwengraph[mcp]' (the `mcp` SDK)"
        ) from None
    return mcp


class McpConnection:
    """One live connection to an MCP server, driven by a private event loop in a daemon thread.

    Use as a context manager (or :meth:`open` / :meth:`close`); :attr:`tools` holds the server's
    tool listing once open.
    """

    def __init__(self, server: McpServerConfig, *, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.server = server
        self.connect_timeout = connect_timeout
        self.tools: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._errlog: TextIO | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def open(self) -> McpConnection:
        """Start or reach the server and list its tools.

        Raises:
            McpUnavailable: the SDK is missing, or the server did not start, answer or list tools
                within ``connect_timeout`` seconds (with the server's last stderr lines for stdio).
        """
        _import_mcp()
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name=f"mcp-{self.server.name}", daemon=True)
        self._thread.start()
        reason = None
        if not self._ready.wait(self.connect_timeout):
            reason = f"no answer within {self.connect_timeout:g} s"
        elif self._failure is not None:
            reason, self._failure = _reason(self._failure), None
        if reason is not None:
            if self._thread is not None:
                self._thread.join(timeout=5)  # let a dead stdio server's stderr land in the log
            message = self._describe(reason)
            self.close()
            raise McpUnavailable(message)
        return self

    def close(self) -> None:
        """End the connection (a stdio server process is stopped)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def __enter__(self) -> McpConnection:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # noqa: BLE001 - reported to open(), which raises it as McpUnavailable
            self._failure = self._failure or err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        mcp = _import_mcp()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with mcp.Client(self._transport(mcp), client_info=_client_info(mcp)) as client:
            cursor: str | None = None
            for _ in range(100):  # pages; a server that never stops paginating cannot hang us
                page = await client.list_tools(cursor=cursor)
                self.tools.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._client = client
            self._ready.set()
            await self._stop.wait()
            self._client = None

    def _transport(self, mcp: Any) -> Any:
        server = self.server
        if server.url is not None:
            if not server.headers:
                return server.url
            import httpx2  # noqa: PLC0415 - the mcp SDK's HTTP client
            from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415

            http = httpx2.AsyncClient(headers=dict(server.headers), timeout=httpx2.Timeout(30.0, read=300.0))
            return streamable_http_client(server.url, http_client=http)
        from mcp.client.stdio import stdio_client  # noqa: PLC0415

        params = mcp.StdioServerParameters(
            command=server.command, args=list(server.args), env=dict(server.env) or None, cwd=server.cwd
        )
        return stdio_client(params, errlog=self._errlog or sys.stderr)

    def _describe(self, reason: str) -> str:
        where = self.server.url or " ".join([self.server.command or "", *self.server.args])
        text = f"MCP server {self.server.name!r} ({where}) is not available: {reason}"
        tail = self._stderr_tail()
        return f"{text}; its stderr ends: {tail}" if tail else text

    def _stderr_tail(self, lines: int = 3) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.flush()
            self._errlog.seek(0)
            seen = [line.strip() for line in self._errlog.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return " | ".join(seen[-lines:])[:500]

    # ---- calls -------------------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, _T]) -> Future[_T]:
        if self._loop is None or self._client is None:
            coro.close()
            raise McpUnavailable(f"MCP server {self.server.name!r} is not connected")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        """Call ``tool`` and return the SDK's ``CallToolResult`` (waits at most the server's timeout).

        Raises:
            McpUnavailable: the connection is gone, the call timed out or the server refused it.
        """
        future = self._submit(self._call(tool, arguments))
        try:
            return future.result(timeout=self.server.timeout + 5)
        except TimeoutError:
            future.cancel()
            raise McpUnavailable(self._timeout_text(tool)) from None

    async def acall(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        """:meth:`call` for async code (the call still runs on the connection's own loop)."""
        return await asyncio.wrap_future(self._submit(self._call(tool, arguments)))

    async def _call(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        try:
            return await self._client.call_tool(
                tool, dict(arguments), read_timeout_seconds=self.server.timeout
            )
        except TimeoutError:
            raise McpUnavailable(self._timeout_text(tool)) from None
        except Exception as err:
            from mcp import MCPError  # noqa: PLC0415
            from mcp.types import REQUEST_TIMEOUT  # noqa: PLC0415

            if not isinstance(err, MCPError):
                raise
            if err.code == REQUEST_TIMEOUT:
                raise McpUnavailable(self._timeout_text(tool)) from None
            raise McpUnavailable(f"MCP server {self.server.name!r} refused {tool}: {err.message}") from None

    def _timeout_text(self, tool: str) -> str:
        return f"MCP tool {tool} on server {self.server.name!r} took longer than {self.server.timeout:g} s"


def _client_info(mcp: Any) -> Any:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        ours = version("qwengraph")
    except PackageNotFoundError:
        ours = "0"
    return mcp.types.Implementation(name="qwengraph", version=ours)


def _reason(err: BaseException) -> str:
    """The innermost meaningful message of a (possibly grouped) connection failure."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    if isinstance(err, FileNotFoundError):
        return f"command not found ({err.filename or err})"
    text = str(err).strip() or type(err).__name__
    return text if type(err).__name__ in text else f"{type(err).__name__}: {text}"


def result_text(result: Any, *, limit: int = MAX_RESULT_CHARS) -> str:
    """What the model reads of a ``CallToolResult``: its text parts (structured content as JSON
    when there is no text), placeholders for images, audio and binary resources, ``Error: ...`` when
    the server flagged an error, cut to ``limit`` characters."""
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {block.mime_type}, {len(block.data) * 3 // 4} bytes]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[binary resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    text = "\n".join(parts) or "(the tool returned nothing)"
    if len(text) > limit:
        text = text[:limit] + f"\n[... cut: the result had {len(text):,} characters, {limit:,} are shown]"
    if result.is_error:
        return text if text.startswith("Error") else f"Error: {text}"
    return text


class McpTool(BaseTool):
    """One tool of an MCP server, as a LangChain tool (arguments: the server's JSON schema)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    remote_name: str
    server_name: str
    _connection: McpConnection = PrivateAttr()

    @classmethod
    def from_listing(cls, connection: McpConnection, listed: Any, name: str) -> McpTool:
        """A tool for ``listed`` (the SDK's ``Tool``), called ``name`` on our side."""
        schema = dict(listed.input_schema or {"type": "object", "properties": {}})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        description = (listed.description or listed.title or listed.name).strip()
        tool = cls(
            name=name,
            description=description,
            args_schema=schema,
            remote_name=listed.name,
            server_name=connection.server.name,
            handle_tool_error=lambda error: f"Error: {error}",
            metadata={"mcp_server": connection.server.name, "mcp_tool": listed.name},
        )
        tool._connection = connection
        return tool

    def _run(self, *args: Any, **kwargs: Any) -> str:
        kwargs.pop("run_manager", None)
        try:
            return result_text(self._connection.call(self.remote_name, kwargs))
        except McpUnavailable as err:
            from langchain_core.tools import ToolException  # noqa: PLC0415

            raise ToolException(str(err)) from err

    async def _arun(self, *args: Any, **kwargs: Any) -> str:
        kwargs.pop("run_manager", None)
        try:
            return result_text(await self._connection.acall(self.remote_name, kwargs))
        except McpUnavailable as err:
            from langchain_core.tools import ToolException  # noqa: PLC0415

            raise ToolException(str(err)) from err


def tool_name(text: str) -> str:
    """``text`` cut to what tool names may hold: letters, digits, ``_`` and ``-``, 64 at most."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:64] or "tool"


@contextmanager
def open_mcp_tools(
    servers: Sequence[McpServerConfig],
    *,
    select: Mapping[str, Collection[str] | None] | None = None,
    taken: Collection[str] = (),
) -> Iterator[list[BaseTool]]:
    """Connect to ``servers`` and yield their tools; every connection is closed on exit.

    Args:
        servers: the servers to use (see :func:`tools.mcp_config.load_mcp_config`).
        select: per server name, the tool names to keep (``None``: all); servers not in it are
            used whole. An unknown tool name is an error listing the server's tools.
        taken: names already used by other tools (an MCP tool with such a name is renamed
            ``<server>_<tool>``).

    Raises:
        McpUnavailable: a server could not be reached, or ``select`` names a tool it lacks.
    """
    used = set(taken)
    with ExitStack() as stack:
        tools: list[BaseTool] = []
        for server in servers:
            connection = stack.enter_context(McpConnection(server))
            wanted = (select or {}).get(server.name)
            listed = {t.name: t for t in connection.tools}
            missing = sorted(set(wanted or ()) - set(listed))
            if missing:
                raise McpUnavailable(
                    f"MCP server {server.name!r} has no tool {', '.join(missing)}; "
                    f"it offers: {', '.join(sorted(listed)) or '(none)'}"
                )
            for remote in listed.values():
                if wanted is not None and remote.name not in wanted:
                    continue
                name = tool_name(remote.name)
                if name in used:
                    name = tool_name(f"{server.name}_{remote.name}")
                if name in used:
                    raise McpUnavailable(f"two tools would be named {name!r}: rename an MCP server")
                used.add(name)
                tools.append(McpTool.from_listing(connection, remote, name))
        yield tools

"""qwengraph's tools as an MCP server (``qwengraph mcp serve``; the ``mcp`` SDK, extra ``mcp``).

Offers ``calculator`` (exact arithmetic), ``symbolic`` (sympy algebra and calculus),
``run_python`` (the sandboxed code runner) and ``search`` (an index made by ``qwengraph ingest``)
to any MCP client: Claude Desktop, Cursor, Qwen-Agent, another qwengraph. Each tool is the very
LangChain tool the agents use: the same schema, the same answers, the same ``Error: ...`` texts
(sent with ``isError``), and a description that states its real limits.

``run_python`` keeps variables per MCP session: over stdio the client owns the process, so all its
calls share one sandbox session; over HTTP a client with an MCP session (``Mcp-Session-Id``, MCP up
to 2025-11-25) gets one sandbox session for it. MCP 2026-07-28 removed protocol sessions, so a
call without either gets a fresh sandbox session and its result ends with a handle
(``[session: ...]``) that the client passes back as the ``session`` argument to continue it, as
the specification recommends. Sessions idle longer than the sandbox's ``idle_seconds`` are closed.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from tools.calculator import make_calculator
from tools.code_runner import Backend, CodeSandbox, make_sandbox
from tools.errors import ToolError, ToolInputError
from tools.retrieval import Index, make_search_tool
from tools.retrieval.tool import MAX_K
from tools.run_python import make_run_python
from tools.safe_math import DEFAULT_LIMITS
from tools.symbolic import make_symbolic
from tools.symbolic_parse import DEFAULT_SETTINGS

__all__ = ["SERVED_TOOLS", "ServedTools", "build_server", "run_http", "run_stdio"]

SERVED_TOOLS = ("calculator", "symbolic", "run_python", "search")
SESSION_HEADER = "mcp-session-id"
STDIO_SESSION = "stdio"


@dataclass
class ServedTools:
    """The tools one server offers, and what they hold (the sandbox, the index).

    Build with :meth:`open`; :meth:`close` releases the sandbox's sessions and the index.
    ``notes`` says which tools were left out and why (no sandbox here, no index).
    """

    tools: dict[str, BaseTool]
    descriptions: dict[str, str]
    sandbox: CodeSandbox | None = None
    index: Index | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def open(
        cls,
        names: Sequence[str] = SERVED_TOOLS,
        *,
        index_path: Path | None = None,
        sandbox: Backend = "auto",
        require: bool = False,
    ) -> ServedTools:
        """Build the tools in ``names``.

        A tool that cannot work here (no sandbox, no index) is left out with a note, unless
        ``require`` (the user named it): then the reason is raised as :class:`ToolError`.
        """
        unknown = [n for n in names if n not in SERVED_TOOLS]
        if unknown:
            raise ToolInputError(f"unknown tool {', '.join(unknown)}: choose from {', '.join(SERVED_TOOLS)}")
        served = cls(tools={}, descriptions={})
        notes: list[str] = []
        if "calculator" in names:
            served._add(make_calculator(), _calculator_limits())
        if "symbolic" in names:
            served._add(make_symbolic(), _symbolic_limits())
        if "run_python" in names:
            try:
                served.sandbox = make_sandbox(sandbox)
            except ToolError as err:
                if require:
                    raise
                notes.append(f"run_python is not offered: {err}")
            else:
                served._add(make_run_python(served.sandbox, STDIO_SESSION), _session_note(served.sandbox))
        if "search" in names:
            from tools.retrieval import default_db_path  # noqa: PLC0415

            path = index_path or default_db_path()
            if path.exists():
                served.index = Index(path, create=False)
                files, chunks = served.index.counts()
                extra = f"\n\nIndex: {files} files, {chunks} passages; at most {MAX_K} results per query."
                served._add(make_search_tool(served.index), extra)
            elif require or index_path is not None:
                raise ToolInputError(f"no document index at {path}: run `qwengraph ingest PATH...` first")
            else:
                notes.append(f"search is not offered: no document index at {path} (qwengraph ingest)")
        served.notes = tuple(notes)
        return served

    def _add(self, tool: BaseTool, extra: str) -> None:
        self.tools[tool.name] = tool
        self.descriptions[tool.name] = (tool.description or "").rstrip() + extra

    def close(self) -> None:
        """Release the sandbox and the index."""
        if self.sandbox is not None:
            self.sandbox.close()
        if self.index is not None:
            self.index.close()

    def schema(self, name: str) -> dict[str, Any]:
        """The JSON schema of a tool's arguments (run_python also takes ``session``)."""
        parameters: dict[str, Any] = dict(convert_to_openai_tool(self.tools[name])["function"]["parameters"])
        if name == "run_python":
            properties = dict(parameters.get("properties", {}))
            properties["session"] = {
                "type": "string",
                "description": "The handle a previous result ended with ([session: ...]), to continue "
                "that session. Leave it out over stdio or within an MCP session.",
            }
            parameters["properties"] = properties
        return parameters


def _calculator_limits() -> str:
    limits = DEFAULT_LIMITS
    return (
        f"\n\nLimits: expressions up to {limits.max_length:,} characters and {limits.max_nodes} terms; "
        f"exact results up to {limits.max_result_digits:,} digits; factorial up to "
        f"{limits.max_factorial:,}!; comb/perm n up to {limits.max_comb_n:,}."
    )


def _symbolic_limits() -> str:
    settings = DEFAULT_SETTINGS
    return (
        f"\n\nLimits: {settings.timeout:g} s per operation (the worker is killed after that); "
        f"polynomial degree up to {settings.max_degree}; powers up to {settings.max_exponent:,}; "
        f"{settings.max_equations} equations per system; derivative order up to {settings.max_order}; "
        f"results up to {settings.max_output:,} characters."
    )


def _session_note(sandbox: CodeSandbox) -> str:
    return (
        f"\n\nSandbox: {sandbox.name}. Calls of one MCP session (or one stdio connection) share "
        "variables; without an MCP session, pass back the [session: ...] handle a result ends with. "
        f"A session idle for {sandbox.limits.idle_seconds:g} s is closed."
    )


class SessionKeys:
    """Which sandbox session a ``run_python`` call runs in (see the module docstring)."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._handles: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, headers: Any, handle: str) -> tuple[str, str | None]:
        """``(sandbox session id, handle to report)``; raises for a handle this server did not mint."""
        if handle:
            with self._lock:
                if handle not in self._handles:
                    raise ToolInputError(
                        f"unknown or expired session {handle!r}: "
                        "call run_python without `session` to start one"
                    )
                self._handles.move_to_end(handle)
            return f"handle-{handle}", None
        if headers is None:
            return STDIO_SESSION, None
        transport_session = headers.get(SESSION_HEADER)
        if transport_session:
            return f"mcp-{transport_session}", None
        minted = secrets.token_hex(8)
        with self._lock:
            self._handles[minted] = None
            while len(self._handles) > self.limit:
                self._handles.popitem(last=False)
        return f"handle-{minted}", minted


def build_server(served: ServedTools, *, name: str = "qwengraph") -> Any:
    """The MCP server (the SDK's low-level ``Server``) offering ``served``'s tools."""
    import anyio  # noqa: PLC0415
    from mcp import types  # noqa: PLC0415
    from mcp.server import Server  # noqa: PLC0415

    keys = SessionKeys()
    listing = [
        types.Tool(name=n, description=served.descriptions[n], input_schema=served.schema(n))
        for n in served.tools
    ]

    async def list_tools(ctx: Any, params: Any) -> Any:  # noqa: ARG001 - the SDK's handler signature
        return types.ListToolsResult(tools=listing)

    async def call_tool(ctx: Any, params: Any) -> Any:
        arguments = dict(params.arguments or {})
        try:
            text = await anyio.to_thread.run_sync(_call, served, keys, params.name, arguments, ctx)
        except ToolError as err:
            text = f"Error: {err}"
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], is_error=text.startswith("Error")
        )

    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        ours = version("qwengraph")
    except PackageNotFoundError:
        ours = "0"
    return Server(
        name,
        version=ours,
        instructions="Exact math, symbolic math, sandboxed Python and document search from qwengraph.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _call(served: ServedTools, keys: SessionKeys, name: str, arguments: dict[str, Any], ctx: Any) -> str:
    """Run one tool call in a worker thread; the text the client gets."""
    if name not in served.tools:
        return f"Error: there is no tool named {name!r}. Available tools: {', '.join(served.tools)}."
    if name == "run_python" and served.sandbox is not None:
        handle = arguments.pop("session", "") or ""
        if not isinstance(handle, str):
            return "Error: session must be a string (the handle a previous result ended with)"
        headers = getattr(getattr(ctx, "request", None), "headers", None)
        session, minted = keys.key(headers, handle)
        tool = make_run_python(served.sandbox, session)
        text = _text(tool.invoke(arguments))
        return f"{text}\n[session: {minted}]" if minted else text
    return _text(served.tools[name].invoke(arguments))


def _text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, default=str, ensure_ascii=False)


def run_stdio(served: ServedTools) -> None:
    """Serve over stdin/stdout until the client closes them."""
    import anyio  # noqa: PLC0415
    from mcp.server.stdio import stdio_server  # noqa: PLC0415

    server = build_server(served)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def run_http(served: ServedTools, *, host: str = "127.0.0.1", port: int = 8000, path: str = "/mcp") -> None:
    """Serve streamable HTTP at ``http://host:port/path`` until interrupted."""
    import uvicorn  # noqa: PLC0415

    app = build_server(served).streamable_http_app(streamable_http_path=path, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")

"""The tools a run can be given (``qwengraph run --tools calculator,run_python,mypkg.tools:weather``).

An explicit function, not a registry: each built-in name maps to how its tool is built and what must
be released afterwards (the sandbox's warm workers, the document index's connection). Beside the
built-in names a run takes your own tools (:mod:`agents.tool_refs`): tool objects, ``module:attribute``
references and names that installed packages offer in the entry point group ``qwengraph.tools``.

``mcp:SERVER`` stands for every tool of an MCP server and ``mcp:SERVER/TOOL`` for one of them; the
servers come from an ``mcpServers`` config (``--mcp FILE``, an agent's own ``mcp_servers``, else
``$QWENGRAPH_HOME/mcp.json``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from agents.tool_refs import as_tool, installed_tools, is_reference, load_installed, load_reference
from graphs.errors import ConfigError
from graphs.paths import home
from tools import calculator, symbolic
from tools.code_runner import Backend, make_sandbox
from tools.mcp_config import McpServerConfig, load_mcp_config
from tools.retrieval import Index, default_db_path, make_search_tool
from tools.retrieval.passages import DEFAULT_BUDGET
from tools.run_python import make_run_python

TOOL_NAMES = ("calculator", "symbolic", "run_python", "search")
DEFAULT_TOOLS = ("calculator",)
MCP_PREFIX = "mcp:"
MCP_CONFIG_FILE = "mcp.json"
SERVER_SEARCH_BUDGET = 4000
"""Tokens of passages per search for server models (32k context); local models get
:data:`~tools.retrieval.passages.DEFAULT_BUDGET` (their context is 8k)."""


def search_budget(model_uri: str | None) -> int:
    """How many tokens of passages one ``search`` may return for this model."""
    return DEFAULT_BUDGET if model_uri is None or model_uri.startswith("local:") else SERVER_SEARCH_BUDGET


ToolItem = str | BaseTool | Any
"""What a run's tool list holds: a built-in or installed name, a ``module:attribute`` reference, or
a tool object (a LangChain tool or a typed function)."""


def check_tool_names(names: list[str]) -> list[str]:
    """``names`` without repeats; :class:`ConfigError` for a name that is neither built in, installed,
    nor a ``module:attribute`` reference (references are checked when the tools are opened)."""
    known = set(TOOL_NAMES)
    for name in names:
        if is_mcp_entry(name):
            check_mcp_entry(name)
    unknown = [n for n in names if n not in known and not is_reference(n) and not is_mcp_entry(n)]
    if unknown:
        known |= set(installed_tools())
        unknown = [n for n in unknown if n not in known]
    if unknown or not names:
        choices = ", ".join([*TOOL_NAMES, *sorted(known - set(TOOL_NAMES))])
        raise ConfigError(
            f"unknown tool {', '.join(unknown) or '(none)'}: choose from {choices}, "
            "or name your own as module:attribute, or mcp:SERVER or mcp:SERVER/TOOL with --mcp"
        )
    return list(dict.fromkeys(names))


def is_mcp_entry(name: str) -> bool:
    """Whether ``name`` is an ``mcp:SERVER`` or ``mcp:SERVER/TOOL`` entry (not a module reference)."""
    return name.startswith(MCP_PREFIX)


def check_mcp_entry(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is a well-formed ``mcp:SERVER[/TOOL]`` entry."""
    server, _, tool = name.removeprefix(MCP_PREFIX).partition("/")
    if not server or (name.count("/") and not tool) or name.count("/") > 1:
        raise ConfigError(f"malformed MCP tool entry {name!r}: write mcp:SERVER or mcp:SERVER/TOOL")


def with_mcp_servers(names: Sequence[ToolItem], servers: Mapping[str, McpServerConfig]) -> list[ToolItem]:
    """``names`` plus ``mcp:SERVER`` for each server, unless ``names`` already picks MCP tools."""
    if any(isinstance(n, str) and is_mcp_entry(n) for n in names):
        return list(names)
    return [*names, *(f"{MCP_PREFIX}{server}" for server in servers)]


def default_mcp_config() -> dict[str, McpServerConfig]:
    """The servers of ``$QWENGRAPH_HOME/mcp.json`` (none when the file does not exist)."""
    path = home() / MCP_CONFIG_FILE
    return load_mcp_config(path) if path.exists() else {}


def _mcp_selection(
    entries: Sequence[str], servers: Mapping[str, McpServerConfig] | None
) -> tuple[list[McpServerConfig], dict[str, set[str] | None]]:
    """The servers ``entries`` (``mcp:...`` names) use and, per server, the tools they pick."""
    known = dict(servers) if servers is not None else default_mcp_config()
    select: dict[str, set[str] | None] = {}
    for entry in entries:
        server, _, tool = entry.removeprefix(MCP_PREFIX).partition("/")
        if server not in known:
            where = ", ".join(sorted(known)) or f"none: pass --mcp FILE or write {home() / MCP_CONFIG_FILE}"
            raise ConfigError(f"{entry}: no MCP server named {server!r} is configured (configured: {where})")
        current = select.get(server, set())
        if not tool:
            select[server] = None
        elif current is not None:  # None: the whole server is already picked
            select[server] = {*current, tool}
    return [known[name] for name in select], select


def parse_tool_names(text: str) -> list[str]:
    """``"calculator, mypkg.tools:weather"`` -> names and references (see :func:`check_tool_names`)."""
    return check_tool_names([n.strip() for n in text.split(",") if n.strip()])


def parse_approve(text: str) -> list[str]:
    """``--approve``: names of the tools that need approval (any offered tool); empty means none.

    Whether each is offered is checked when the graph is built (the offered tools may come from
    references, known only once loaded).
    """
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def tool_label(item: ToolItem) -> str:
    """A tool item's name as far as it is known without loading it (for prompts and listings)."""
    if isinstance(item, str):
        return item.rpartition(":")[2].rpartition(".")[2] if is_reference(item) else item
    return str(getattr(item, "name", None) or getattr(item, "__name__", repr(item)))


@contextmanager
def open_tools(
    items: Sequence[ToolItem],
    *,
    session_id: str = "cli",
    mcp_servers: Mapping[str, McpServerConfig] | None = None,
    sandbox: Backend = "auto",
    index: Path | None = None,
    search_tokens: int = DEFAULT_BUDGET,
) -> Iterator[list[BaseTool]]:
    """Build the tools for one run and release what they hold when it ends.

    ``items`` are built-in names, installed names, ``module:attribute`` references or tool objects
    (see :mod:`agents.tool_refs`). ``run_python`` fails closed (``SandboxUnavailable``) when no
    sandbox can run here; ``search`` needs an index made with ``qwengraph ingest``: ``index``
    (default: the default index), showing at most ``search_tokens`` tokens of passages per call.
    Two tools with the same name are a :class:`ConfigError`. ``mcp:`` entries connect to their
    servers (from ``mcp_servers``, else ``$QWENGRAPH_HOME/mcp.json``) and raise
    :class:`~tools.mcp_client.McpUnavailable` when one cannot be reached. ``sandbox`` picks the code
    sandbox (``auto``, ``bwrap``, ``gvisor``).
    """
    with ExitStack() as stack:
        tools: list[BaseTool] = []
        installed: dict[str, Any] | None = None
        entries = [n for n in items if isinstance(n, str) and is_mcp_entry(n)]
        for name in items:
            if isinstance(name, str) and is_mcp_entry(name):
                continue
            if not isinstance(name, str):
                tools.append(as_tool(name))
            elif is_reference(name):
                tools.extend(load_reference(name))
            elif name == "calculator":
                tools.append(calculator)
            elif name == "symbolic":
                tools.append(symbolic)
            elif name == "run_python":
                runner = make_sandbox(sandbox)
                stack.callback(runner.close)
                tools.append(make_run_python(runner, session_id))
            elif name == "search":
                path = index or default_db_path()
                if not path.exists():
                    raise ConfigError(f"no document index at {path}: run `qwengraph ingest PATH...` first")
                opened = Index(path, create=False)
                stack.callback(opened.close)
                tools.append(make_search_tool(opened, budget=search_tokens))
            else:
                installed = installed_tools() if installed is None else installed
                if name not in installed:
                    check_tool_names([name])  # raises, listing what there is
                tools.extend(load_installed(name, installed[name]))
        if entries:
            from tools.mcp_client import open_mcp_tools  # noqa: PLC0415 - only runs using MCP load it

            servers, select = _mcp_selection(entries, mcp_servers)
            taken = {t.name for t in tools}
            tools.extend(stack.enter_context(open_mcp_tools(servers, select=select, taken=taken)))
        yield _unique(tools)


def _unique(tools: list[BaseTool]) -> list[BaseTool]:
    """``tools`` without repeats of one object; two different tools with one name are an error."""
    seen: dict[str, BaseTool] = {}
    for item in tools:
        if seen.setdefault(item.name, item) is not item:
            raise ConfigError(f"two tools are named {item.name!r}: tool names must be unique")
    return list(seen.values())

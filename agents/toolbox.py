"""The tools a run can be given (``qwengraph run --tools calculator,run_python,mypkg.tools:weather``).

An explicit function, not a registry: each built-in name maps to how its tool is built and what must
be released afterwards (the sandbox's warm workers, the document index's connection). Beside the
built-in names a run takes your own tools (:mod:`agents.tool_refs`): tool objects, ``module:attribute``
references and names that installed packages offer in the entry point group ``qwengraph.tools``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from agents.tool_refs import as_tool, installed_tools, is_reference, load_installed, load_reference
from graphs.errors import ConfigError
from tools import calculator, symbolic
from tools.code_runner import make_sandbox
from tools.retrieval import Index, default_db_path, make_search_tool
from tools.retrieval.passages import DEFAULT_BUDGET
from tools.run_python import make_run_python

TOOL_NAMES = ("calculator", "symbolic", "run_python", "search")
DEFAULT_TOOLS = ("calculator",)
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
    unknown = [n for n in names if n not in known and not is_reference(n)]
    if unknown:
        known |= set(installed_tools())
        unknown = [n for n in unknown if n not in known]
    if unknown or not names:
        choices = ", ".join([*TOOL_NAMES, *sorted(known - set(TOOL_NAMES))])
        raise ConfigError(
            f"unknown tool {', '.join(unknown) or '(none)'}: choose from {choices}, "
            "or name your own as module:attribute"
        )
    return list(dict.fromkeys(names))


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
    index: Path | None = None,
    search_tokens: int = DEFAULT_BUDGET,
) -> Iterator[list[BaseTool]]:
    """Build the tools for one run and release what they hold when it ends.

    ``items`` are built-in names, installed names, ``module:attribute`` references or tool objects
    (see :mod:`agents.tool_refs`). ``run_python`` fails closed (``SandboxUnavailable``) when no
    sandbox can run here; ``search`` needs an index made with ``qwengraph ingest``: ``index``
    (default: the default index), showing at most ``search_tokens`` tokens of passages per call.
    Two tools with the same name are a :class:`ConfigError`.
    """
    with ExitStack() as stack:
        tools: list[BaseTool] = []
        installed: dict[str, Any] | None = None
        for name in items:
            if not isinstance(name, str):
                tools.append(as_tool(name))
            elif is_reference(name):
                tools.extend(load_reference(name))
            elif name == "calculator":
                tools.append(calculator)
            elif name == "symbolic":
                tools.append(symbolic)
            elif name == "run_python":
                sandbox = make_sandbox()
                stack.callback(sandbox.close)
                tools.append(make_run_python(sandbox, session_id))
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
        yield _unique(tools)


def _unique(tools: list[BaseTool]) -> list[BaseTool]:
    """``tools`` without repeats of one object; two different tools with one name are an error."""
    seen: dict[str, BaseTool] = {}
    for item in tools:
        if seen.setdefault(item.name, item) is not item:
            raise ConfigError(f"two tools are named {item.name!r}: tool names must be unique")
    return list(seen.values())

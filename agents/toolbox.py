"""The tools a run can be given by name (``qwengraph run --tools calculator,run_python``).

An explicit function, not a registry: each name maps to how its tool is built and what must be
released afterwards (the sandbox's warm workers, the document index's connection).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from langchain_core.tools import BaseTool

from graphs.errors import ConfigError
from tools import calculator, symbolic
from tools.code_runner import make_sandbox
from tools.retrieval import Index, default_db_path, make_search_tool
from tools.run_python import make_run_python

TOOL_NAMES = ("calculator", "symbolic", "run_python", "search")
DEFAULT_TOOLS = ("calculator",)


def parse_tool_names(text: str) -> list[str]:
    """``"calculator, run_python"`` -> names, checked; raise :class:`ConfigError` on an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in TOOL_NAMES]
    if unknown or not names:
        raise ConfigError(
            f"unknown tool {', '.join(unknown) or '(none)'}: choose from {', '.join(TOOL_NAMES)}"
        )
    return list(dict.fromkeys(names))


def parse_approve(text: str) -> list[str]:
    """``--approve``: tool names that need approval; an empty flag means none."""
    return parse_tool_names(text) if text.strip() else []


@contextmanager
def open_tools(names: Sequence[str], *, session_id: str = "cli") -> Iterator[list[BaseTool]]:
    """Build the named tools for one run and release what they hold when it ends.

    ``run_python`` fails closed (``SandboxUnavailable``) when no sandbox can run here; ``search``
    needs an index made with ``qwengraph ingest``.
    """
    with ExitStack() as stack:
        tools: list[BaseTool] = []
        for name in names:
            if name == "calculator":
                tools.append(calculator)
            elif name == "symbolic":
                tools.append(symbolic)
            elif name == "run_python":
                sandbox = make_sandbox()
                stack.callback(sandbox.close)
                tools.append(make_run_python(sandbox, session_id))
            elif name == "search":
                path = default_db_path()
                if not path.exists():
                    raise ConfigError(f"no document index at {path}: run `qwengraph ingest PATH...` first")
                index = Index(path, create=False)
                stack.callback(index.close)
                tools.append(make_search_tool(index))
            else:
                raise ConfigError(f"unknown tool {name!r}: choose from {', '.join(TOOL_NAMES)}")
        yield tools

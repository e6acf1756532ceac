"""Your own tools, by reference or by installed package: ``module:attribute`` and ``qwengraph.tools``.

Three ways to give an agent a tool that is not built in, all resolved here and all treated like the
built-ins afterwards (same approvals, same tracing, same timeouts):

- **an object** in Python: any LangChain tool (``@tool`` function, ``BaseTool``), or a plain typed
  function with a docstring, which is made a tool as LangChain's ``bind_tools`` would;
- **a reference** ``package.module:attribute`` (``--tools mypkg.tools:weather``): the attribute may
  be a tool, a plain function with parameters (made a tool), a list or tuple of those, or a function
  without parameters that returns one of those (a factory, for tools that need setting up);
- **a name from an installed package**: an entry point in the group ``qwengraph.tools`` whose value
  is such a reference, e.g. in the package's ``pyproject.toml``::

      [project.entry-points."qwengraph.tools"]
      weather = "mypkg.tools:weather"

  after which ``--tools weather`` (or ``AgentSpec(tools=("weather",))``) finds it by name. The entry
  points are read when a name is looked up, never at import time.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from langchain_core.tools import BaseTool, tool

from graphs.errors import ConfigError

ENTRY_POINT_GROUP = "qwengraph.tools"


def is_reference(text: str) -> bool:
    """Whether ``text`` is a ``module:attribute`` reference rather than a tool name."""
    module, sep, attribute = text.partition(":")
    return bool(sep and module.strip() and attribute.strip())


def installed_tools() -> dict[str, EntryPoint]:
    """The tools installed packages offer by name (entry point group ``qwengraph.tools``)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_reference(reference: str) -> list[BaseTool]:
    """The tools ``module:attribute`` names (see the module docstring for what it may be).

    Raises:
        ConfigError: the module cannot be imported, has no such attribute, or it is not a tool.
    """
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name.strip())
    except ImportError as err:
        raise ConfigError(f"--tools {reference}: cannot import {module_name!r} ({err})") from None
    target: Any = module
    for part in attribute.strip().split("."):
        if not hasattr(target, part):
            raise ConfigError(f"--tools {reference}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    return resolve(target, reference)


def load_installed(name: str, entry_point: EntryPoint) -> list[BaseTool]:
    """The tools behind an installed entry point."""
    try:
        target = entry_point.load()
    except Exception as err:  # noqa: BLE001 - a broken plugin is a configuration error, said in one line
        raise ConfigError(
            f"tool {name!r} from an installed package ({entry_point.value}) failed to load: {err}"
        ) from None
    return resolve(target, f"{name} ({entry_point.value})")


def resolve(target: Any, origin: str) -> list[BaseTool]:
    """Tools from a referenced object: a tool, a function, a list of those, or a factory of them."""
    if isinstance(target, BaseTool):
        return [target]
    if isinstance(target, list | tuple):
        return [as_tool(item, origin) for item in target]
    if callable(target):
        if _takes_arguments(target):
            return [as_tool(target, origin)]
        made = target()
        if isinstance(made, BaseTool | list | tuple):
            return resolve(made, origin)
        raise ConfigError(
            f"{origin}: the function returned {type(made).__name__}, not tools: return a tool or a list "
            "of tools, or decorate a tool function with @tool"
        )
    raise ConfigError(f"{origin} is a {type(target).__name__}, not a tool, a list of tools or a function")


def as_tool(item: Any, origin: str = "tools") -> BaseTool:
    """``item`` as a LangChain tool: tools stay as they are, typed functions with a docstring are wrapped."""
    if isinstance(item, BaseTool):
        return item
    if callable(item) and inspect.isroutine(item):
        try:
            return tool(item)
        except ValueError as err:  # no docstring or no type hints: LangChain cannot describe it
            raise ConfigError(
                f"{origin}: {getattr(item, '__name__', item)!r} cannot be a tool: {err}"
            ) from None
    raise ConfigError(f"{origin}: {item!r} is not a tool (a LangChain tool or a typed function)")


def _takes_arguments(function: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)

"""What an agent is: an :class:`AgentSpec` (tools, prompt, graph, thinking policy, model), and the
:class:`AgentCatalog` of specs a user can pick by name.

A catalog is an explicit object, never filled at import time: :func:`builtin_agents` builds the
bundled one, and users build their own from any specs.

Example:
    >>> catalog = builtin_agents(has_index=False)
    >>> catalog.get("math-tutor").tools
    ('calculator', 'symbolic')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal

import prompts
from agents.tool_refs import as_tool
from agents.toolbox import ToolItem, check_tool_names, tool_label
from graphs.build import GRAPHS, load_graph
from graphs.errors import ConfigError
from tools.errors import ToolInputError
from tools.mcp_config import McpServerConfig, parse_mcp_config

__all__ = ["GRAPHS", "AgentCatalog", "AgentSpec", "ThinkPolicy", "builtin_agents", "load_graph"]

ThinkPolicy = bool | Literal["auto"]
AUTO_GRAPH = "auto"


@dataclass(frozen=True)
class AgentSpec:
    """Everything that makes an agent, as data.

    Attributes:
        name: what users type after ``--agent``.
        description: one line for listings.
        tools: built-in tool names (:mod:`agents.toolbox`), names installed packages offer,
            ``module:attribute`` references, ``mcp:SERVER`` (every tool of an MCP server) or
            ``mcp:SERVER/TOOL``, or tool objects: LangChain tools, or typed functions with a
            docstring (made tools; see :mod:`agents.tool_refs`).
        prompt: prompt template name in ``prompts/`` (without ``.md``).
        variables: template variables besides ``tool_names`` (filled in) and ``language``.
        choices: allowed values of variables that users may set (e.g. ``mode``).
        graph: ``"react"``, ``"plan_execute"``, ``"worked"``, or ``"auto"``: chosen per run by
            :func:`agents.runner.choose_graph` (worked for a local model whose tools it can use).
        think: thinking policy for the model calls: on, off or ``"auto"`` (by request difficulty).
        thinking_budget: cap on reasoning tokens per call (``None``: no cap).
        force_tool: first model call must be a tool call (``None``: yes for local models).
        max_steps: model calls allowed per run.
        model: preferred model URI (``--model`` and ``QWENGRAPH_MODEL`` still win).
        mcp_servers: the agent's own MCP servers by name, each an ``mcpServers`` entry
            (``{"command": ..., "args": [...]}`` or ``{"url": ...}``); ``--mcp`` adds to them.
    """

    name: str
    description: str
    tools: tuple[ToolItem, ...]
    prompt: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    graph: str = "react"
    think: ThinkPolicy = True
    thinking_budget: int | None = None
    force_tool: bool | None = None
    max_steps: int = 8
    model: str | None = None
    mcp_servers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [t for t in self.tools if isinstance(t, str)]
        try:
            if names:
                check_tool_names(names)
            objects = [t if isinstance(t, str) else as_tool(t, f"agent {self.name!r}") for t in self.tools]
        except ConfigError as err:
            raise ConfigError(f"agent {self.name!r}: {err}") from None
        object.__setattr__(self, "tools", tuple(objects))
        try:
            parse_mcp_config({"mcpServers": dict(self.mcp_servers)}, where=f"agent {self.name!r}: ")
        except ToolInputError as err:
            raise ConfigError(str(err)) from None
        if self.graph not in (*GRAPHS, AUTO_GRAPH):
            raise ConfigError(
                f"agent {self.name!r}: unknown graph {self.graph!r}: "
                f"choose from {', '.join((*GRAPHS, AUTO_GRAPH))}"
            )
        if self.max_steps < 1:
            raise ConfigError(f"agent {self.name!r}: max_steps must be at least 1")
        if self.thinking_budget is not None and self.thinking_budget < 1:
            raise ConfigError(f"agent {self.name!r}: thinking_budget must be positive")
        object.__setattr__(self, "variables", MappingProxyType({"language": None, **self.variables}))
        object.__setattr__(self, "choices", MappingProxyType(dict(self.choices)))
        for key, allowed in self.choices.items():
            self._check_choice(key, self.variables.get(key), allowed)

    def _check_choice(self, key: str, value: Any, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise ConfigError(
                f"agent {self.name!r}: {key} must be one of {', '.join(allowed)}, not {value!r}"
            )

    def with_variables(self, **values: Any) -> AgentSpec:
        """A copy with template variables set; ``None`` values are ignored (keep the default).

        Raises :class:`ConfigError` for a variable the agent does not have, or a value outside its
        ``choices``.
        """
        given = {k: v for k, v in values.items() if v is not None}
        unknown = sorted(set(given) - set(self.variables))
        if unknown:
            raise ConfigError(f"agent {self.name!r} has no setting {', '.join(unknown)}")
        return dataclasses.replace(self, variables={**self.variables, **given})

    def mcp_configs(self) -> dict[str, McpServerConfig]:
        """The agent's own MCP servers, parsed (see :mod:`tools.mcp_config`)."""
        return parse_mcp_config({"mcpServers": dict(self.mcp_servers)})

    def tool_names(self) -> list[str]:
        """The names of the agent's tools, as far as known before they are opened (a reference's
        attribute name stands in for the tools it loads)."""
        return sorted({tool_label(t) for t in self.tools})

    def with_tools(self, *tools: ToolItem) -> AgentSpec:
        """A copy with ``tools`` added to the agent's own (names, references or tool objects)."""
        return dataclasses.replace(self, tools=(*self.tools, *tools))

    def render_prompt(self, tool_names: Sequence[str] | None = None) -> str:
        """The system prompt: the template rendered with ``tool_names`` (default: :meth:`tool_names`;
        pass the opened tools' names) and the variables."""
        names = sorted(tool_names) if tool_names is not None else self.tool_names()
        return prompts.render(self.prompt, tool_names=names, **self.variables)

    def graph_module(self) -> ModuleType:
        """The graph module this agent runs on (imported now; :class:`ConfigError` if missing);
        for ``"auto"``, the worked-solution graph's (ReAct is always there)."""
        return load_graph("worked" if self.graph == AUTO_GRAPH else self.graph)


class AgentCatalog:
    """Agents by name: an explicit, immutable collection (no global registry)."""

    def __init__(self, specs: Iterable[AgentSpec]) -> None:
        self._specs: dict[str, AgentSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ConfigError(f"two agents are named {spec.name!r}")
            self._specs[spec.name] = spec

    def get(self, name: str) -> AgentSpec:
        """The agent called ``name``; :class:`ConfigError` naming the known agents otherwise."""
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError(f"unknown agent {name!r}: choose from {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """Agent names in the order they were given."""
        return list(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[AgentSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


def builtin_agents(*, has_index: bool | None = None) -> AgentCatalog:
    """The bundled agents: math-tutor, coding-assistant, researcher, automation, planner.

    ``has_index``: whether a document index exists (gives the coding assistant ``search``);
    ``None`` looks for it now (see :func:`agents.presets.coding_assistant.coding_assistant`).
    """
    from agents.presets import automation, coding_assistant, math_tutor, planner, researcher  # noqa: PLC0415

    return AgentCatalog(
        [
            math_tutor.math_tutor(),
            coding_assistant.coding_assistant(has_index=has_index),
            researcher.researcher(),
            automation.automation(),
            planner.planner(),
        ]
    )

"""Compile the graph a spec names: ``build_graph(spec, model, tools, ...)``.

A spec is anything with a ``graph`` attribute (:class:`GraphSpec`): an ``agents.spec.AgentSpec``,
the runner's resolved plan, :class:`NamedGraph`, or a dataclass of your own. This module knows the graph names
and how the shared options map onto each graph, so the layer above never branches on graph names
and this layer never imports it.

Graph modules are imported when a graph is built (:func:`load_graph`), so a missing optional graph
is a :class:`~graphs.errors.ConfigError` at that moment, not an import failure of the package.

Example:
    >>> spec = NamedGraph("plan_execute")  # or an AgentSpec, or any object with ``graph``
    >>> graph = build_graph(spec, ChatQwen(model="ollama:qwen3:8b"), [calculator])  # doctest: +SKIP
    >>> graph.invoke({"messages": [HumanMessage("What is 17*23, plus 9?")], "steps": 0})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

import prompts
from graphs.errors import ConfigError

GRAPHS = ("react", "plan_execute", "worked", "research")
"""Graph names a spec may use; each is the module ``graphs.<name>``."""

DEFAULT_STEPS = {"react": 8, "plan_execute": 8, "worked": 30, "research": 6}
"""Steps allowed when the caller sets none: a worked solution takes one per calculation."""

STREAMED_ANSWER = frozenset({"react", "worked"})
INLINE_RESULTS = frozenset({"worked"})
"""Graphs whose tool results are part of the answer text (the value written after ``=``)."""
"""Graphs whose streamed model text is the answer itself. In the others the answer is the last
message of the final state: plan_execute's model text is JSON for the graph or one step's working;
research shows the answer once its citations were checked (a local model's reply is also
streamed without the ``Quote: "`` it was started with)."""


class GraphSpec(Protocol):
    """What :func:`build_graph` needs from a spec: the name of its graph."""

    @property
    def graph(self) -> str:
        """``"react"``, ``"plan_execute"`` or ``"worked"``."""
        ...


@dataclass(frozen=True)
class NamedGraph:
    """The smallest :class:`GraphSpec`: just a graph name (``NamedGraph("plan_execute")``)."""

    graph: str = "react"


def load_graph(name: str) -> ModuleType:
    """The module of graph ``name``, imported on first use; :class:`ConfigError` if unknown or missing."""
    if name not in GRAPHS:
        raise ConfigError(f"unknown graph {name!r}: choose from {', '.join(GRAPHS)}")
    module = f"graphs.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise ConfigError(
            f"graph {name!r} is not available in this installation ({module} is missing)"
        ) from None


def build_graph(
    spec: GraphSpec,
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    think: bool | None = None,
    max_steps: int | None = None,
    force_tool: bool = False,
    approve: Collection[str] = (),
    checkpointer: Checkpointer = None,
    context_tokens: int = 28_000,
    tool_timeout: float = 30.0,
    language: str | None = None,
) -> CompiledStateGraph[Any, None, Any, Any]:
    """Compile the graph ``spec.graph`` names for ``model`` and ``tools``.

    Both graphs take ``{"messages": [...], "steps": 0}`` as input, keep every model reply in
    ``messages`` and count model calls in ``steps``, so one runner drives both.

    Args:
        spec: names the graph (see :class:`GraphSpec`).
        model: any LangChain chat model.
        tools: LangChain tools with unique names.
        system_prompt: react: replaces the default prompt; plan_execute: the agent's instructions,
            added to the executor's and the verifier's own prompts (the planner answers in JSON).
        think: react: thinking for every call (``None``: left to the model); plan_execute: thinking
            of the planner and the verifier (``None``: on), the executor never thinks.
        max_steps: model turns allowed per request before the run stops with a clear message
            (``None``: :data:`DEFAULT_STEPS` of the graph).
        force_tool: react only: the first model call must be a tool call.
        approve: tools that wait for a human decision (needs ``checkpointer``).
        checkpointer: a LangGraph checkpointer for threads, resume and approval.
        context_tokens: react only: the history sent to the model is trimmed to about this size.
        tool_timeout: seconds one tool call may take.
        language: without ``system_prompt``, the graph's default prompt gets "Answer in <language>."

    The ``research`` graph (:mod:`graphs.research`) needs a tool named ``search``; it searches with
    the question itself, then has the model quote and answer, and checks the citations; it ignores
    ``force_tool`` and refuses ``approve``.

    The ``worked`` graph (:mod:`graphs.worked`) uses the tools named ``calculator`` and
    ``run_python`` and needs a
    :class:`~graphs.models.chat.ChatQwen` that continues prefills; it ignores ``think``,
    ``force_tool`` and ``context_tokens``, and refuses ``approve``.

    Raises:
        ConfigError: the graph name is unknown, or its module is not installed, or the worked graph
            has no tool it can use or is asked for approvals.
    """
    name = spec.graph
    load_graph(name)
    if max_steps is None:
        max_steps = DEFAULT_STEPS[name]
    if language and system_prompt is None:
        system_prompt = f"{default_prompt(name, tools)}\n\nAnswer in {language}.".strip()
    if name == "react":
        from graphs.react import build_react  # noqa: PLC0415 - graph modules load on first use

        return build_react(
            model,
            tools,
            system_prompt=system_prompt,
            max_steps=max_steps,
            think=think,
            tool_timeout=tool_timeout,
            force_tool=force_tool,
            approve=approve,
            context_tokens=context_tokens,
            checkpointer=checkpointer,
        )
    if name == "plan_execute":
        from graphs.plan_execute import build_plan_execute  # noqa: PLC0415

        thinking = True if think is None else think
        return build_plan_execute(
            model,
            tools,
            planner_think=thinking,
            verifier_think=thinking,
            max_steps=max_steps,
            instructions=system_prompt,
            tool_timeout=tool_timeout,
            approve=approve,
            checkpointer=checkpointer,
        )
    if name == "worked":
        from graphs.worked import build_worked  # noqa: PLC0415

        if approve:  # it runs tools mid-sentence: there is no turn at which to ask
            raise ConfigError(
                "the worked-solution graph cannot wait for tool approvals: use the react graph with --approve"
            )
        return build_worked(
            model,
            tools,
            system_prompt=system_prompt,
            max_steps=max_steps,
            tool_timeout=tool_timeout,
            checkpointer=checkpointer,
        )
    if name == "research":
        from graphs.research import build_research  # noqa: PLC0415

        if approve:
            raise ConfigError("the research graph runs no tool that needs approval: drop --approve")
        return build_research(
            model,
            tools,
            system_prompt=system_prompt,
            max_steps=max_steps,
            think=think,
            tool_timeout=tool_timeout,
            context_tokens=context_tokens,
            checkpointer=checkpointer,
        )
    raise ConfigError(f"graph {name!r} has no builder")  # a name added to GRAPHS without one


def default_prompt(name: str, tools: Sequence[BaseTool]) -> str:
    """The system prompt graph ``name`` uses when it is given none (plan_execute: empty)."""
    if name == "react":
        return prompts.render("react", tool_names=sorted(t.name for t in tools))
    if name == "research":
        return prompts.render("researcher", tool_names=sorted(t.name for t in tools), language=None)
    return prompts.render("worked") if name == "worked" else ""


def progress(spec: GraphSpec, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per thing a user should see between two states of a run (react: none).

    plan_execute: a new plan, each finished step's result, and a rejection with its reason.
    """
    if spec.graph != "plan_execute":
        return []
    from graphs.plan_parts import progress_notes  # noqa: PLC0415

    return progress_notes(before, after)

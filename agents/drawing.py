"""Draw the graph an agent, a plain run or a workflow runs on, without a model, a sandbox or a network.

The graph is built exactly as :func:`agents.runner.run` builds it (same spec, tools, prompt and
graph choice), but with a model that is never called and stand-in tools that carry the real names
and descriptions and refuse to run: a drawing needs neither the weights, nor bubblewrap for
``run_python``, nor a document index for ``search``.

Example:
    >>> agent_drawing("math-tutor", model="ollama:qwen3:8b").save("math-tutor.svg")  # doctest: +SKIP
    >>> workflow_drawing("notebooks/workflows/squares_report.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool

from agents.agent_run import AUTO, pick_model, plan_run
from agents.runner import choose_graph
from agents.tool_refs import as_tool, is_reference, load_reference
from agents.toolbox import TOOL_NAMES, ToolItem
from graphs.build import GRAPHS, NamedGraph, build_graph
from graphs.draw import GraphDrawing, draw
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport
from graphs.workflow import compile_workflow, load_workflow
from graphs.workflow.check import walk
from graphs.workflow.spec import ModelStep, ToolStep
from tools import calculator, symbolic

_DESCRIPTIONS = {
    "run_python": "Run Python code in the sandbox and return what it printed.",
    "search": "Search the ingested documents; results cite path:lines.",
}


def stand_in_tools(names: Sequence[ToolItem]) -> list[BaseTool]:
    """Tools with these names for drawing: the calculator and symbolic tools themselves (they hold
    nothing), stand-ins for ``run_python`` and ``search`` (which would open a sandbox or an index);
    your own tool objects and ``module:attribute`` references as they are."""
    tools: list[BaseTool] = []
    for name in names:
        if not isinstance(name, str):
            tools.append(as_tool(name))
        elif is_reference(name):
            tools.extend(load_reference(name))
        elif name == "calculator":
            tools.append(calculator)
        elif name == "symbolic":
            tools.append(symbolic)
        elif name in _DESCRIPTIONS:
            tools.append(_stand_in(name))
        else:
            raise ConfigError(f"unknown tool {name!r}: choose from {', '.join(TOOL_NAMES)}")
    return tools


def _stand_in(name: str) -> BaseTool:
    def refuse(**_: object) -> str:
        raise ConfigError(f"{name} is a stand-in for drawing a graph; it does not run")

    return StructuredTool.from_function(refuse, name=name, description=_DESCRIPTIONS[name])


def agent_drawing(
    agent: str | None = None, *, graph: str | None = None, model: str | None = None
) -> GraphDrawing:
    """The graph ``qwengraph run --agent AGENT`` (or a plain run with ``--graph GRAPH``) would run.

    Args:
        agent: an agent name from :func:`agents.spec.builtin_agents`; ``None``: a plain run.
        graph: plain runs only: ``auto`` (default), ``react``, ``worked`` or ``plan_execute``.
        model: the model URI; it matters where the graph is chosen per model (``auto``: the
            worked-solution graph for ``local:`` models, else ReAct). Defaults as for ``run``.

    Raises:
        ConfigError: unknown agent or graph, ``agent="auto"`` (the router picks per request), or
            ``graph`` given with an agent.
    """
    if agent == AUTO:
        raise ConfigError("--agent auto picks an agent per request: draw a named agent instead")
    if graph is not None and agent is not None:
        raise ConfigError("--graph is for plain runs (an agent names its own graph)")
    if graph is not None and graph not in (*GRAPHS, AUTO):
        raise ConfigError(f"unknown graph {graph!r}: choose from {', '.join((AUTO, *GRAPHS))}")
    plain_graph = None if graph in (None, "plan_execute") else graph
    plan = plan_run("", agent=agent, graph=plain_graph if agent is None else None)
    uri = pick_model(model, plan.model)
    chat = ChatQwen(model=uri, transport=ScriptedTransport([]))  # never called: drawing only
    tools = stand_in_tools(plan.tools)
    spec = NamedGraph("plan_execute") if graph == "plan_execute" else choose_graph(plan, uri, tools)
    built = build_graph(
        spec, chat, tools, system_prompt=None if spec.graph == "worked" else plan.system_prompt
    )
    who = agent or "plain run"
    return draw(built, title=f"{who}: {spec.graph} graph on {uri}")


def workflow_drawing(path: str | Path) -> GraphDrawing:
    """The graph a workflow YAML file compiles to (validated first: problems are a ``WorkflowError``)."""
    spec = load_workflow(path)
    steps = [step for step, _, _ in walk(spec.steps, ("steps",))]
    names = list(dict.fromkeys(s.tool for s in steps if isinstance(s, ToolStep)))
    tools = {t.name: t for t in stand_in_tools(names)}
    needs_model = any(isinstance(s, ModelStep) for s in steps)
    chat = ChatQwen(model="ollama:drawing", transport=ScriptedTransport([])) if needs_model else None
    return draw(compile_workflow(spec, tools, model=chat), title=f"workflow {spec.name}")

"""Every agent's graph for LangGraph Studio: ``langgraph dev`` reads ``langgraph.json``, which points here.

Each function below is a graph factory (LangGraph's server calls it with the run's config and
gets a compiled graph): ``react`` (plain ReAct with the calculator) and one per built-in agent.
The model is chosen as on the command line: ``QWENGRAPH_MODEL`` / ``QWENGRAPH_BASE_URL`` (else the
agent's preferred model, else the embedded local one), and a run may override it with
``configurable.model`` and ``configurable.base_url`` (Studio's "Configure" panel). The server
keeps threads and checkpoints itself, so the graphs are compiled without a checkpointer.

Input, as for :func:`agents.runner.run`: ``{"messages": [{"role": "user", "content": "..."}],
"steps": 0}`` (``steps`` counts model calls; pass 0 on each new request in a long thread).

Tools are opened once per server process (the sandbox's warm workers, the index connection) and
released when it exits.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import ExitStack
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool

from agents.agent_run import RunPlan, make_model, plan_run, run_think
from agents.runner import choose_graph, context_budget
from graphs.build import build_graph

__all__ = ["automation", "coding_assistant", "make_graph", "math_tutor", "planner", "react", "researcher"]

_tools: dict[tuple[object, ...], list[BaseTool]] = {}
_stack = ExitStack()
_lock = threading.Lock()
atexit.register(_stack.close)


def _open(plan: RunPlan) -> list[BaseTool]:
    from agents.toolbox import open_tools  # noqa: PLC0415

    key = tuple(t if isinstance(t, str) else id(t) for t in plan.tools)
    with _lock:
        if key not in _tools:
            servers = plan.servers()
            _tools[key] = _stack.enter_context(
                open_tools(plan.tools, session_id="studio", mcp_servers=servers)
            )
        return _tools[key]


def make_graph(agent: str | None, config: RunnableConfig | None = None) -> Any:
    """The compiled graph of ``agent`` (``None``: plain ReAct with the calculator) for one server run.

    ``config["configurable"]`` may hold ``model`` (a model URI) and ``base_url``.
    """
    configurable = (config or {}).get("configurable") or {}
    plan = plan_run("", agent=agent, graph=None if agent else "react")
    llm = make_model(plan, model=configurable.get("model"), base_url=configurable.get("base_url"))
    tools = _open(plan)
    spec = choose_graph(plan, llm.model, tools)
    return build_graph(
        spec,
        llm,
        tools,
        system_prompt=plan.prompt_for(tools) if spec.graph != "worked" or plan.graph != "auto" else None,
        think=run_think(plan),
        max_steps=plan.max_steps,
        force_tool=plan.force_tool if plan.force_tool is not None else llm.model.startswith("local:"),
        language=plan.language,
        context_tokens=context_budget(llm),
    )


def react(config: RunnableConfig) -> Any:
    """Plain ReAct with the calculator."""
    return make_graph(None, config)


def math_tutor(config: RunnableConfig) -> Any:
    """The math tutor (calculator, symbolic)."""
    return make_graph("math-tutor", config)


def coding_assistant(config: RunnableConfig) -> Any:
    """The coding assistant (run_python, + search with an index)."""
    return make_graph("coding-assistant", config)


def researcher(config: RunnableConfig) -> Any:
    """The researcher (search over the ingested documents)."""
    return make_graph("researcher", config)


def automation(config: RunnableConfig) -> Any:
    """The automation agent."""
    return make_graph("automation", config)


def planner(config: RunnableConfig) -> Any:
    """The planner (plan-and-execute graph)."""
    return make_graph("planner", config)

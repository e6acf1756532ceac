"""Run a named agent: the Python API (:func:`run_agent`) and the settings behind ``run --agent``.

Settings resolve in this order: the user's explicit choice (a flag or keyword), then the router's
decision (``--agent auto``), then the agent's spec, then the plain ``qwengraph run`` defaults.
The model: ``--model``, else ``QWENGRAPH_MODEL``, else the router's hint or the spec's preferred
model, else the embedded local model.

Example:
    >>> from agents.agent_run import run_agent
    >>> result = run_agent("math-tutor", "Differentiate x^3", model="ollama:qwen3:8b")  # doctest: +SKIP
    >>> print(result.answer)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from agents.router import DEFAULT_RULES, RouteDecision, Rule, route_request
from agents.runner import run
from agents.settings import resolve_model
from agents.spec import AgentCatalog, AgentSpec, ThinkPolicy, builtin_agents
from agents.toolbox import DEFAULT_TOOLS, ToolItem, open_tools, search_budget
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.install import list_models
from graphs.models.profiles import get_profile
from graphs.summary import RunSummary
from tools.mcp_config import McpServerConfig
from tools.retrieval import default_db_path, resolve_index

AUTO = "auto"
DEFAULT_MAX_STEPS = 8
PLAIN_GRAPHS = (AUTO, "react", "worked")
"""Graphs a plain run (no ``--agent``) may use; ``auto`` is chosen by :func:`agents.runner.choose_graph`."""


@dataclass(frozen=True)
class RunPlan:
    """The resolved settings of one run: which graph, tools, prompt, thinking, limits and model.

    It names its graph, so it is a :class:`graphs.build.GraphSpec`: pass it to
    :func:`agents.runner.run` as ``spec``.
    """

    tools: tuple[ToolItem, ...]
    system_prompt: str | None  # None: the default ReAct prompt
    think: ThinkPolicy
    thinking_budget: int | None = None
    force_tool: bool | None = None
    max_steps: int | None = DEFAULT_MAX_STEPS  # None: the graph's default
    model: str | None = None  # preferred model, below --model and QWENGRAPH_MODEL
    agent: str | None = None
    reason: str | None = None  # why the router chose this (``--agent auto``)
    graph: str = "react"  # the agent's graph; plain runs: "auto" (see agents.runner.choose_graph)
    language: str | None = None  # added to the graph's default prompt when it has no other
    spec: AgentSpec | None = None  # the agent's spec, to render its prompt with the opened tools' names

    def prompt_for(self, tools: Sequence[BaseTool]) -> str | None:
        """The system prompt for the tools actually opened (their names go into the agent's prompt)."""
        if self.spec is None:
            return self.system_prompt
        return self.spec.render_prompt([t.name for t in tools])

    mcp_servers: Mapping[str, McpServerConfig] = field(default_factory=dict)  # the agent's own

    def servers(
        self, extra: Mapping[str, McpServerConfig] | None = None
    ) -> dict[str, McpServerConfig] | None:
        """The MCP servers ``mcp:`` tools resolve against: the agent's, then ``extra`` (``--mcp``)
        over them; ``None`` when there are neither (look in ``$QWENGRAPH_HOME/mcp.json``)."""
        if not self.mcp_servers and extra is None:
            return None
        return {**self.mcp_servers, **(extra or {})}


def plan_for_spec(
    spec: AgentSpec,
    *,
    tools: Sequence[ToolItem] | None = None,
    think: ThinkPolicy | None = None,
    force_tool: bool | None = None,
    max_steps: int | None = None,
    decision: RouteDecision | None = None,
) -> RunPlan:
    """Settings for running ``spec``; explicit arguments override it, the router's decision too."""
    spec.graph_module()  # a missing graph module fails here, before any tool is opened
    if tools is not None:
        spec = dataclasses.replace(spec, tools=tuple(tools))
    policy: ThinkPolicy = think if think is not None else (decision.think if decision else spec.think)
    return RunPlan(
        tools=spec.tools,
        system_prompt=spec.render_prompt(),
        think=policy,
        thinking_budget=spec.thinking_budget,
        force_tool=force_tool if force_tool is not None else spec.force_tool,
        max_steps=max_steps or spec.max_steps,
        model=(decision.model_hint if decision and decision.model_hint else None) or spec.model,
        agent=spec.name,
        reason=decision.reason if decision else None,
        # hints need the agent's own prompt, which the worked-solution graph replaces with its own
        graph="react" if spec.graph == "auto" and spec.variables.get("mode") == "hint" else spec.graph,
        language=spec.variables.get("language"),
        spec=spec,
        mcp_servers=spec.mcp_configs(),
    )


def plan_run(
    prompt: str,
    *,
    agent: str | None = None,
    tools: Sequence[ToolItem] | None = None,
    think: ThinkPolicy | None = None,
    force_tool: bool | None = None,
    max_steps: int | None = None,
    mode: str | None = None,
    language: str | None = None,
    catalog: AgentCatalog | None = None,
    rules: Sequence[Rule] = DEFAULT_RULES,
    has_index: bool | None = None,
    graph: str | None = None,
    index: Path | None = None,
) -> RunPlan:
    """Resolve ``qwengraph run`` settings: a plain run (``agent=None``), a named agent, or ``"auto"``.

    ``None`` arguments were not given by the user. ``has_index`` (``None``: look now whether
    ``index``, default the default index, exists) tells the router and the coding assistant
    whether there are documents to search. ``graph`` is for plain runs
    (:data:`PLAIN_GRAPHS`; default ``auto``); an agent names its own.
    """
    if graph is not None and (agent is not None or graph not in PLAIN_GRAPHS):
        raise ConfigError(
            "--graph is for plain runs (an agent names its own graph)"
            if agent is not None
            else f"unknown graph {graph!r} for a plain run: choose from {', '.join(PLAIN_GRAPHS)}"
        )
    indexed = (index or default_db_path()).exists() if has_index is None else has_index
    decision = None
    if agent == AUTO:
        decision = route_request(prompt, has_index=indexed, rules=rules)
        agent = decision.agent
    if agent is not None:
        spec = (catalog or builtin_agents(has_index=indexed)).get(agent)
        spec = spec.with_variables(mode=mode, language=language)
        return plan_for_spec(
            spec, tools=tools, think=think, force_tool=force_tool, max_steps=max_steps, decision=decision
        )
    if mode is not None:
        raise ConfigError("--mode needs an agent that has modes, e.g. --agent math-tutor")
    names = tuple(tools) if tools is not None else DEFAULT_TOOLS
    default_think: ThinkPolicy = decision.think if decision else True
    return RunPlan(
        tools=names,
        system_prompt=None,
        think=think if think is not None else default_think,
        force_tool=force_tool,
        max_steps=max_steps,
        model=decision.model_hint if decision else None,
        reason=decision.reason if decision else None,
        graph=graph or AUTO,
        language=language or None,
    )


def pick_model(flag: str | None, preferred: str | None) -> str:
    """``--model``, else ``QWENGRAPH_MODEL``, else ``preferred``, else the default local model.

    A preferred local catalogue model that is not installed is passed over (the router's hint must
    not turn a working setup into a "model not installed" error).
    """
    if flag or os.environ.get("QWENGRAPH_MODEL"):
        return resolve_model(flag)
    if preferred and preferred.startswith("local:") and not _installed(preferred.removeprefix("local:")):
        preferred = None
    return resolve_model(preferred)


def _installed(name: str) -> bool:
    """Whether a local model (catalogue name or .gguf path) is on disk."""
    if name.endswith(".gguf"):
        return Path(name).is_file()
    return any(status.name == name and status.installed for status in list_models())


def make_model(
    plan: RunPlan,
    *,
    model: str | None = None,
    base_url: str | None = None,
    timeout: float = 300.0,
    engine: dict[str, Any] | None = None,
    profile: str | None = None,
    sampling: Mapping[str, Any] | None = None,
) -> ChatQwen:
    """The chat model for ``plan`` (thinking policy ``"auto"`` and the budget live on the model).

    ``engine`` holds local-engine settings (``n_ctx``, ``n_threads``, ``n_batch``, ``extra_bufts``);
    ``profile`` names its Qwen profile (``None``: detected); ``sampling`` other ``ChatQwen`` fields
    (``temperature``, ``seed``, ``max_tokens``, ``think_switch``, ``thinking_budget``: this one over
    the plan's).
    """
    if profile is not None:
        get_profile(profile)  # an unknown name fails here, before any tool is opened
    fields: dict[str, Any] = {"thinking_budget": plan.thinking_budget, **(sampling or {})}
    return ChatQwen(
        model=pick_model(model, plan.model),
        base_url=base_url,
        timeout=timeout,
        think=AUTO if plan.think == AUTO else None,
        engine=engine,
        qwen_profile=profile,
        **fields,
    )


def run_think(plan: RunPlan) -> bool | None:
    """The ``think`` argument of :func:`agents.runner.run` (``None`` when the model decides)."""
    return None if plan.think == AUTO else bool(plan.think)


def run_agent(
    agent: str | AgentSpec,
    prompt: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    chat_model: ChatQwen | None = None,
    mode: str | None = None,
    language: str | None = None,
    catalog: AgentCatalog | None = None,
    tools: Sequence[ToolItem] | None = None,
    mcp_servers: Mapping[str, McpServerConfig] | None = None,
    db: Path | str | None = None,
    index: str | None = None,
    **options: Any,
) -> RunSummary:
    """Run an agent (a name, ``"auto"`` or a spec) on ``prompt`` and return its summary.

    Args:
        agent: a name from ``catalog`` (default: :func:`agents.spec.builtin_agents`), ``"auto"``
            for the router, or an :class:`AgentSpec`.
        prompt: the request.
        model: model URI (see :func:`pick_model`); ignored when ``chat_model`` is given.
        base_url: server URL for ``ollama:``/``openai:`` models.
        chat_model: a ready model, e.g. one with a scripted transport in tests.
        mode: the agent's mode (math-tutor: ``"answer"`` or ``"hint"``).
        language: answer in this language.
        catalog: where agent names are looked up.
        tools: replaces the agent's tools (as ``--tools`` does): built-in names, installed names,
            ``module:attribute`` references or tool objects; to add to them, give
            ``agent.with_tools(...)`` (see :meth:`agents.spec.AgentSpec.with_tools`).
        mcp_servers: MCP servers for the agent's ``mcp:`` tools, over its own ``mcp_servers``
            (see :func:`tools.mcp_config.load_mcp_config`).
        db: the document index file ``search`` uses (default: the default index).
        index: or a named index under ``$QWENGRAPH_HOME`` (see :func:`tools.retrieval.index_path`).
        **options: passed to :func:`agents.runner.run` (``thread``, ``on_event``, ``trace``...).
    """
    path = resolve_index(db, index)
    if isinstance(agent, AgentSpec):
        plan = plan_for_spec(agent.with_variables(mode=mode, language=language), tools=tools)
    else:
        plan = plan_run(
            prompt, agent=agent, mode=mode, language=language, catalog=catalog, tools=tools, index=path
        )
    llm = chat_model or make_model(plan, model=model, base_url=base_url)
    if plan.thinking_budget is not None and llm.thinking_budget is None:
        llm = llm.model_copy(update={"thinking_budget": plan.thinking_budget})
    if plan.think == AUTO and llm.think is None:
        llm = llm.model_copy(update={"think": AUTO})
    session = options.get("thread") or "agent"
    budget = search_budget(llm.model)
    servers = plan.servers(mcp_servers)
    with open_tools(
        plan.tools, session_id=session, mcp_servers=servers, index=path, search_tokens=budget
    ) as opened:
        return run(
            prompt,
            chat_model=llm,
            tools=opened,
            system_prompt=plan.prompt_for(opened),
            think=run_think(plan),
            force_tool=plan.force_tool,
            max_steps=plan.max_steps,
            language=plan.language,
            spec=plan,
            **options,
        )

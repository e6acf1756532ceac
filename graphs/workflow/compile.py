"""Compile a workflow to a LangGraph ``StateGraph`` and run it.

Every step becomes a node. ``if`` becomes a conditional edge into its ``then``/``else`` chains and a
join node; a loop becomes a start node, its body chain and a ``next`` node with a conditional edge
back to the body; ``parallel`` fans out to one chain per branch and waits for all of them at a join.
State: the inputs, each step's output (``steps``), loop counters and a log of what ran.

Templates and expressions are Jinja2 in a ``SandboxedEnvironment`` with ``StrictUndefined``; never
``eval``. A string that is exactly one ``{{ expression }}`` keeps its Python type (a list stays a list).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypedDict

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import ValidationError

from graphs.workflow.check import check_workflow
from graphs.workflow.spec import (
    IfStep,
    LoopStep,
    ModelStep,
    ParallelStep,
    Step,
    ToolStep,
    WorkflowError,
    WorkflowSpec,
)

_WHOLE_EXPR = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)
_CASTS: dict[str, Callable[[Any], Any]] = {"str": str, "int": int, "float": float, "list": list, "dict": dict}


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


class WorkflowState(TypedDict, total=False):
    """What flows through the graph."""

    inputs: dict[str, Any]
    steps: Annotated[dict[str, Any], _merge]
    loops: Annotated[dict[str, Any], _merge]
    log: Annotated[list[str], operator.add]


def make_env() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment every template and condition is evaluated in."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class _Builder:
    def __init__(
        self, spec: WorkflowSpec, tools: Mapping[str, BaseTool], model: BaseChatModel | None
    ) -> None:
        self.spec, self.tools, self.model = spec, tools, model
        self.env = make_env()
        self.graph: StateGraph[WorkflowState] = StateGraph(WorkflowState)
        self.last_of: dict[str, str | None] = {}

    # -- evaluation ---------------------------------------------------------------------------
    def context(self, state: WorkflowState, loops: tuple[LoopStep, ...]) -> dict[str, Any]:
        steps = {k: {"output": v} for k, v in state.get("steps", {}).items()}
        ctx: dict[str, Any] = {"inputs": state.get("inputs", {}), "steps": steps}
        for loop in loops:
            info = state.get("loops", {}).get(loop.id, {})
            items, index = info.get("items"), info.get("index", 0)
            ctx[loop.as_] = items[index] if items is not None and index < len(items) else None
            ctx["index"] = index
        return ctx

    def render(self, value: Any, ctx: dict[str, Any], step_id: str) -> Any:
        """Render a template (recursively through dicts and lists)."""
        if isinstance(value, dict):
            return {k: self.render(v, ctx, step_id) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, ctx, step_id) for v in value]
        if not isinstance(value, str):
            return value
        whole = _WHOLE_EXPR.match(value)
        if whole and "{{" not in whole.group(1) and "}}" not in whole.group(1):
            return self.evaluate(whole.group(1), ctx, step_id)
        try:
            return self.env.from_string(value).render(ctx)
        except TemplateError as err:
            raise WorkflowError([f"step {step_id!r}: template {value!r}: {err}"]) from None

    def evaluate(self, expression: str, ctx: dict[str, Any], step_id: str) -> Any:
        """Evaluate one Jinja2 expression to a Python value."""
        try:
            value = self.env.compile_expression(expression, undefined_to_none=False)(**ctx)
            if isinstance(value, Undefined):
                str(value)  # StrictUndefined raises here, naming what was missing
            return value
        except TemplateError as err:
            raise WorkflowError([f"step {step_id!r}: expression {expression.strip()!r}: {err}"]) from None

    # -- graph building -----------------------------------------------------------------------
    def chain(self, steps: list[Step], nxt: str, loops: tuple[LoopStep, ...]) -> str:
        """Add ``steps`` in order ending at ``nxt``; return the entry node."""
        entry = nxt
        for step in reversed(steps):
            entry = self.add(step, entry, loops)
        return entry

    def add(self, step: Step, nxt: str, loops: tuple[LoopStep, ...]) -> str:
        if isinstance(step, ToolStep | ModelStep):
            self.graph.add_node(step.id, self.action(step, loops))
            self.graph.add_edge(step.id, nxt)
            return step.id
        if isinstance(step, IfStep):
            return self.add_if(step, nxt, loops)
        if isinstance(step, LoopStep):
            return self.add_loop(step, nxt, loops)
        return self.add_parallel(step, nxt, loops)

    def action(self, step: ToolStep | ModelStep, loops: tuple[LoopStep, ...]) -> Any:
        def run(state: WorkflowState) -> dict[str, Any]:
            ctx = self.context(state, loops)
            if isinstance(step, ToolStep):
                args = self.render(step.args, ctx, step.id)
                try:
                    output: Any = self.tools[step.tool].invoke(args)
                except ValidationError as err:
                    problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
                    raise WorkflowError(
                        [f"step {step.id!r}: bad args for {step.tool}: {'; '.join(problems)}"]
                    ) from None
                note = f"{step.id}: {step.tool}({args}) = {output}"
            else:
                assert self.model is not None  # checked before compiling
                prompt = str(self.render(step.model, ctx, step.id))
                kwargs: dict[str, Any] = {} if step.think is None else {"think": step.think}
                output = self.model.invoke([HumanMessage(prompt)], **kwargs).text
                note = f"{step.id}: model -> {output}"
            return {"steps": {step.id: output}, "log": [note]}

        return run

    def add_if(self, step: IfStep, nxt: str, loops: tuple[LoopStep, ...]) -> str:
        join = f"{step.id}/end"

        def branch_output(state: WorkflowState) -> dict[str, Any]:
            taken = state.get("loops", {}).get(step.id, {}).get("branch", "else")
            last = _last_id(step.then if taken == "then" else step.else_)
            return {"steps": {step.id: state.get("steps", {}).get(last) if last else None}}

        self.graph.add_node(join, branch_output)
        self.graph.add_edge(join, nxt)
        then_entry = self.chain(step.then, join, loops)
        else_entry = self.chain(step.else_, join, loops)

        def decide(state: WorkflowState) -> dict[str, Any]:
            value = bool(self.evaluate(step.if_, self.context(state, loops), step.id))
            branch = "then" if value else "else"
            return {"loops": {step.id: {"branch": branch}}, "log": [f"{step.id}: if -> {branch}"]}

        def route(state: WorkflowState) -> str:
            return str(state["loops"][step.id]["branch"])

        self.graph.add_node(step.id, decide)
        self.graph.add_conditional_edges(step.id, route, {"then": then_entry, "else": else_entry})
        return step.id

    def add_loop(self, step: LoopStep, nxt: str, loops: tuple[LoopStep, ...]) -> str:
        inner = (*loops, step)
        after = f"{step.id}/next"
        body = self.chain(step.steps, after, inner)
        last = _last_id(step.steps)
        bound = step.max_iterations

        def keep_going(state: WorkflowState, index: int, items: list[Any] | None) -> bool:
            if bound is not None and index >= bound:
                return False
            if items is not None:
                return index < len(items)
            probe = {**state, "loops": {**state.get("loops", {}), step.id: {"index": index}}}
            assert step.while_ is not None
            return bool(self.evaluate(step.while_, self.context(probe, inner), step.id))  # type: ignore[arg-type]

        def start(state: WorkflowState) -> dict[str, Any]:
            items = None
            if step.for_each is not None:
                found = self.evaluate(step.for_each, self.context(state, loops), step.id)
                if not isinstance(found, list | tuple):
                    raise WorkflowError(
                        [f"step {step.id!r}: for_each gave {type(found).__name__}, not a list"]
                    )
                items = list(found)
            go = keep_going(state, 0, items)
            info = {"items": items, "index": 0, "results": [], "go": go}
            return {"loops": {step.id: info}, "steps": {step.id: []}, "log": [f"{step.id}: loop start"]}

        def advance(state: WorkflowState) -> dict[str, Any]:
            info = state["loops"][step.id]
            results = [*info["results"], state.get("steps", {}).get(last) if last else None]
            index = info["index"] + 1
            go = keep_going(state, index, info["items"])
            new = {**info, "index": index, "results": results, "go": go}
            return {"loops": {step.id: new}, "steps": {step.id: results}}

        def route(state: WorkflowState) -> str:
            return "body" if state["loops"][step.id]["go"] else "done"

        self.graph.add_node(step.id, start)
        self.graph.add_node(after, advance)
        self.graph.add_conditional_edges(step.id, route, {"body": body, "done": nxt})
        self.graph.add_conditional_edges(after, route, {"body": body, "done": nxt})
        return step.id

    def add_parallel(self, step: ParallelStep, nxt: str, loops: tuple[LoopStep, ...]) -> str:
        join = f"{step.id}/join"
        lasts = {name: _last_id(branch) for name, branch in step.parallel.items()}

        def gather(state: WorkflowState) -> dict[str, Any]:
            done = state.get("steps", {})
            return {"steps": {step.id: {n: done.get(last) if last else None for n, last in lasts.items()}}}

        self.graph.add_node(step.id, lambda _state: {"log": [f"{step.id}: parallel"]})
        self.graph.add_node(join, gather)
        self.graph.add_edge(join, nxt)
        ends = []
        for name, branch in step.parallel.items():
            end = f"{step.id}/{name}/done"
            self.graph.add_node(end, lambda _state: {})
            self.graph.add_edge(step.id, self.chain(branch, end, loops))
            ends.append(end)
        self.graph.add_edge(ends, join)
        return step.id


def _last_id(steps: list[Step]) -> str | None:
    return steps[-1].id if steps else None


def compile_workflow(
    spec: WorkflowSpec, tools: Mapping[str, BaseTool], model: BaseChatModel | None = None
) -> CompiledStateGraph[WorkflowState, None, WorkflowState, WorkflowState]:
    """Check ``spec`` against the tools and model at hand, then build its LangGraph graph."""
    builder = _Builder(spec, tools, model)
    check_workflow(spec, builder.env, tools=tools.keys(), has_model=model is not None)
    finish = "__outputs__"

    def outputs(state: WorkflowState) -> dict[str, Any]:
        ctx = builder.context(state, ())
        done = {name: builder.render(text, ctx, f"output {name}") for name, text in spec.outputs.items()}
        return {"steps": {finish: done}}

    builder.graph.add_node(finish, outputs)
    builder.graph.add_edge(finish, END)
    builder.graph.add_edge(START, builder.chain(spec.steps, finish, ()))
    return builder.graph.compile(name=spec.name)


def prepare_inputs(spec: WorkflowSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Apply defaults and declared types; unknown or missing inputs are errors."""
    problems = [
        f"unknown input {k!r} (declared: {', '.join(spec.inputs) or 'none'})"
        for k in given
        if k not in spec.inputs
    ]
    values: dict[str, Any] = {}
    for name in spec.inputs:
        declared = spec.input_spec(name)
        if name not in given:
            if declared.required:
                problems.append(f"missing input {name!r}")
            else:
                values[name] = declared.default
            continue
        values[name] = _cast(given[name], declared.type, name, problems)
    if problems:
        raise WorkflowError([f"workflow {spec.name!r}: {p}" for p in problems])
    return values


def _cast(value: Any, kind: str, name: str, problems: list[str]) -> Any:
    if kind == "any":
        return value
    if kind == "bool":
        if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.lower() in {"true", "yes", "1"}
        if isinstance(value, bool):
            return value
        problems.append(f"input {name!r}: {value!r} is not a bool")
        return value
    try:
        return _CASTS[kind](value)
    except (TypeError, ValueError):
        problems.append(f"input {name!r}: {value!r} is not {kind}")
        return value


def run_workflow(
    spec: WorkflowSpec,
    inputs: Mapping[str, Any],
    tools: Mapping[str, BaseTool],
    model: BaseChatModel | None = None,
    *,
    recursion_limit: int = 10_000,
) -> dict[str, Any]:
    """Compile and run ``spec``; return its outputs (with the run log under ``log`` in :func:`run_log`)."""
    return run_log(spec, inputs, tools, model, recursion_limit=recursion_limit)[0]


def run_log(
    spec: WorkflowSpec,
    inputs: Mapping[str, Any],
    tools: Mapping[str, BaseTool],
    model: BaseChatModel | None = None,
    *,
    recursion_limit: int = 10_000,
) -> tuple[dict[str, Any], list[str]]:
    """Like :func:`run_workflow`, also returning the log of what ran."""
    graph = compile_workflow(spec, tools, model)
    values = prepare_inputs(spec, inputs)
    state = graph.invoke(
        {"inputs": values, "steps": {}, "loops": {}, "log": []}, {"recursion_limit": recursion_limit}
    )
    return dict(state["steps"]["__outputs__"]), list(state.get("log", []))

"""The plan-and-execute graph: a thinking planner, a non-thinking executor, a thinking verifier.

::

    START -> plan --(no usable plan)--> END
               |
               v
            execute --(one Send per tool call)--> run_tool --> collect --> execute ...
               |    --(unreadable tool calls)---> correct  --> collect
               |--(more steps)--> execute
               v
            verify --(accepted | replan limit | unusable verdict | step limit)--> END
               |--(rejected, with the reason)--> plan

The planner writes a typed :class:`~graphs.plan_parts.Plan` as JSON (repaired where unambiguous,
else one retry with the precise error). The executor works each step as a small ReAct loop with
the tools (tool calls run as tasks through :func:`graphs.tool_step.run_call_task`, as in
:mod:`graphs.react`), bounded by ``max_steps_per_task`` model calls. The verifier accepts the
results with the final answer or sends the reason back to the planner, at most ``max_replans``
times; ``max_steps`` caps the model calls of the whole request. Every model reply is kept in
``messages`` and ``steps`` counts model calls, so :func:`graphs.summary.summarize` reads a run as
it reads a ReAct run; the last message is the answer (or a clear message marked in
``response_metadata["qwengraph"]`` when the run could not finish). :func:`graphs.build.build_graph`
builds this graph for specs that name ``"plan_execute"``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, Send

from graphs.models.chat import ChatQwen
from graphs.models.uri import in_process
from graphs.plan_parts import (
    EXECUTOR_PROMPT,
    PLAN_ERROR_MARK,
    PLAN_PREFILL,
    REPLAN_LIMIT_MARK,
    STEP_LIMIT_MARK,
    VERDICT_ERROR_MARK,
    VERDICT_PREFILL,
    Plan,
    Verdict,
    as_answer,
    ask_json,
    executor_brief,
    latest_request,
    planner_history,
    stop_message,
    tool_list,
    verifier_history,
    with_instructions,
)
from graphs.tool_step import (
    CallTask,
    collect_pending,
    correction,
    merge_pending,
    plan_tool_tasks,
    run_call_task,
    unreadable_calls,
)


class PlanExecuteState(TypedDict):
    """Graph state: the conversation and model calls (as in ReAct), plus the plan and its progress.

    ``plan`` holds :class:`~graphs.plan_parts.PlanStep` dicts, ``results`` one
    ``{"id", "goal", "result"}`` per finished step, ``cursor`` the step being worked,
    ``step_start`` where that step's messages begin, ``replans`` the rejections so far and
    ``feedback`` the verifier's last reason.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    pending: NotRequired[Annotated[list[AnyMessage], merge_pending]]
    request: NotRequired[str]
    plan: NotRequired[list[dict[str, Any]]]
    results: NotRequired[list[dict[str, Any]]]
    cursor: NotRequired[int]
    step_start: NotRequired[int]
    replans: NotRequired[int]
    feedback: NotRequired[str]
    verdict: NotRequired[Literal["accept", "replan", "stop"]]


@dataclass(frozen=True)
class _Nodes:
    """The graph's nodes, sharing the bound models and the limits."""

    planner: Any
    executor: Any
    verifier: Any
    executor_system: SystemMessage
    by_name: dict[str, BaseTool]
    names: list[str]
    approval: frozenset[str]
    tool_timeout: float
    max_replans: int
    max_steps_per_task: int
    max_steps: int | None
    instructions: str
    json_prefill: bool

    def spent(self, state: PlanExecuteState) -> bool:
        """Whether the run has made all the model calls it may (``max_steps``)."""
        return self.max_steps is not None and state.get("steps", 0) >= self.max_steps

    def limit_note(self) -> AIMessage:
        note = (
            f"Stopped after {self.max_steps} model calls without a final answer "
            "(raise --max-steps to allow more)."
        )
        return stop_message(note, STEP_LIMIT_MARK)

    def plan(self, state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
        if self.spent(state):
            return {"messages": [self.limit_note()], "plan": []}
        messages = state["messages"]
        fresh = isinstance(messages[-1], HumanMessage)  # a new request, not a rejected attempt
        asked = latest_request(messages)
        request = asked.text if fresh and asked is not None else state.get("request", "")
        feedback = "" if fresh else state.get("feedback", "")
        history = planner_history(self.names, request, [] if fresh else state.get("results", []), feedback)
        replies, parsed = ask_json(
            self.planner, history, Plan, config, PLAN_PREFILL if self.json_prefill else None
        )
        update: dict[str, Any] = {"steps": state.get("steps", 0) + len(replies), "request": request}
        if fresh:
            update.update(replans=0, feedback="")
        if isinstance(parsed, str):
            note = f"Could not make a plan: the planner's reply was not a usable plan twice ({parsed})."
            return {**update, "messages": [*replies, stop_message(note, PLAN_ERROR_MARK)], "plan": []}
        steps = [s.model_dump() for s in parsed.steps]
        start = len(messages) + len(replies)
        return {**update, "messages": replies, "plan": steps, "results": [], "cursor": 0, "step_start": start}

    def execute(self, state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
        steps_plan, cursor = state.get("plan", []), state.get("cursor", 0)
        results, start = state.get("results", []), state.get("step_start", len(state["messages"]))
        work = state["messages"][start:]
        if self.spent(state):
            return {"cursor": len(steps_plan)}  # on to verify, which ends the run with the limit note
        step = steps_plan[cursor]

        def finish(text: str, new: list[AnyMessage]) -> dict[str, Any]:
            done = {"id": step["id"], "goal": step["goal"], "result": text}
            return {
                "results": [*results, done],
                "cursor": cursor + 1,
                "step_start": len(state["messages"]) + len(new),
            }

        if sum(isinstance(m, AIMessage) for m in work) >= self.max_steps_per_task:
            return finish(f"(no result: stopped after {self.max_steps_per_task} model calls)", [])
        brief = HumanMessage(content=executor_brief(state.get("request", ""), steps_plan, cursor, results))
        reply = self.executor.invoke([self.executor_system, brief, *work], config)
        update: dict[str, Any] = {"messages": [reply], "steps": state.get("steps", 0) + 1}
        if isinstance(reply, AIMessage) and (reply.tool_calls or unreadable_calls(reply)):
            return update
        return {**update, **finish(reply.text.strip(), [reply])}

    def run_tool(self, state: CallTask, config: RunnableConfig) -> dict[str, Any]:  # state: this task's call
        return {"pending": run_call_task(state, self.by_name, self.tool_timeout, self.approval, config)}

    def correct(self, state: PlanExecuteState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return {"pending": correction(unreadable_calls(last), self.by_name)}

    @staticmethod
    def collect(state: PlanExecuteState) -> dict[str, Any]:
        return {"messages": collect_pending(state["messages"], state.get("pending") or []), "pending": None}

    def verify(self, state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
        if self.spent(state):
            return {"messages": [self.limit_note()], "verdict": "stop"}
        results = state.get("results", [])
        history = verifier_history(
            state.get("request", ""), state.get("plan", []), results, self.instructions
        )
        replies, verdict = ask_json(
            self.verifier, history, Verdict, config, VERDICT_PREFILL if self.json_prefill else None
        )
        update: dict[str, Any] = {"steps": state.get("steps", 0) + len(replies)}
        if isinstance(verdict, str):
            done = "\n".join(f"{r['id']}. {r['goal']}: {r['result']}" for r in results)
            note = f"Could not verify the results: the verifier's reply was unusable twice ({verdict})."
            note += f"\nThe steps' results, not verified:\n{done}" if done else ""
            return {
                **update,
                "messages": [*replies, stop_message(note, VERDICT_ERROR_MARK)],
                "verdict": "stop",
            }
        if verdict.accept:
            answer = verdict.answer.strip() or (results[-1]["result"] if results else "")
            return {
                **update,
                "messages": [*replies[:-1], as_answer(replies[-1], answer)],
                "verdict": "accept",
            }
        replans = state.get("replans", 0)
        reason = verdict.reason.strip() or "no reason given"
        if replans >= self.max_replans:
            note = (
                f"Stopped after {self.max_replans} replans without an accepted answer "
                f"(the verifier's last objection: {reason})."
            )
            return {
                **update,
                "messages": [*replies, stop_message(note, REPLAN_LIMIT_MARK)],
                "verdict": "stop",
            }
        return {
            **update,
            "messages": replies,
            "replans": replans + 1,
            "feedback": reason,
            "verdict": "replan",
        }


def build_plan_execute(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    planner_think: bool | None = True,
    executor_think: bool | None = False,
    verifier_think: bool | None = True,
    max_replans: int = 2,
    max_steps_per_task: int = 4,
    max_steps: int | None = None,
    instructions: str | None = None,
    tool_timeout: float = 30.0,
    approve: Collection[str] = (),
    checkpointer: Checkpointer = None,
    json_prefill: bool | None = None,
) -> CompiledStateGraph[PlanExecuteState, None, PlanExecuteState, PlanExecuteState]:
    """Compile a plan-and-execute graph for ``model`` and ``tools``.

    Args:
        model: any LangChain chat model; the ``*_think`` switches are passed only to :class:`ChatQwen`.
        tools: LangChain tools for the executor; their names must be unique.
        planner_think: thinking for the planner (``None`` leaves it to the server).
        executor_think: thinking for the executor's calls (off: it fills arguments and reports).
        verifier_think: thinking for the verifier.
        max_replans: how many times the verifier may send the work back before the run stops.
        max_steps_per_task: executor model calls allowed per plan step.
        max_steps: model calls allowed per request in all (``None``: no cap beyond the two above);
            checked before each node's call, the run then ends with the ReAct graph's step-limit
            message (marked ``step_limit``).
        instructions: an agent's own instructions (persona, language), added to the executor's
            and the verifier's prompts; the planner keeps its JSON-only prompt.
        tool_timeout: seconds one tool call may take.
        approve: names of tools that wait for a human decision (see :mod:`graphs.tool_step`).
        checkpointer: a LangGraph checkpointer for threads, resume and approval.
        json_prefill: start the planner's and verifier's replies with the JSON's opening (a
            prefill); ``None``: for a :class:`ChatQwen` on an in-process model without a thinking
            mode (measured: Qwen2.5-Coder-1.5B answered the planner in prose about half the time).
    """
    by_name = {t.name: t for t in tools}
    if len(by_name) != len(tools):
        raise ValueError("tool names must be unique")
    if max_replans < 0 or max_steps_per_task < 1 or (max_steps is not None and max_steps < 1):
        raise ValueError("max_replans must be >= 0, max_steps_per_task and max_steps >= 1")
    unknown = sorted(set(approve) - set(by_name))
    if unknown:
        raise ValueError(f"cannot require approval for tools that are not offered: {', '.join(unknown)}")
    names = sorted(by_name)

    def thinking(runnable: Any, think: bool | None) -> Any:
        return runnable.bind(think=think) if isinstance(model, ChatQwen) and think is not None else runnable

    nodes = _Nodes(
        planner=thinking(model, planner_think),
        executor=thinking(model.bind_tools(list(tools)) if tools else model, executor_think),
        verifier=thinking(model, verifier_think),
        executor_system=SystemMessage(
            content=with_instructions(EXECUTOR_PROMPT.format(tools=tool_list(names)), instructions or "")
        ),
        by_name=by_name,
        names=names,
        approval=frozenset(approve),
        tool_timeout=tool_timeout,
        max_replans=max_replans,
        max_steps_per_task=max_steps_per_task,
        max_steps=max_steps,
        instructions=instructions or "",
        json_prefill=_prefills_json(model) if json_prefill is None else json_prefill,
    )

    graph = StateGraph(PlanExecuteState)
    graph.add_node("plan", nodes.plan)
    graph.add_node("execute", nodes.execute)
    graph.add_node("run_tool", nodes.run_tool, input_schema=CallTask)
    graph.add_node("correct", nodes.correct)
    graph.add_node("collect", nodes.collect)
    graph.add_node("verify", nodes.verify)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", _after_plan, ["execute", END])
    graph.add_conditional_edges("execute", _after_execute, ["run_tool", "correct", "execute", "verify"])
    graph.add_edge("run_tool", "collect")
    graph.add_edge("correct", "collect")
    graph.add_edge("collect", "execute")
    graph.add_conditional_edges("verify", _after_verify, ["plan", END])
    return graph.compile(checkpointer=checkpointer)


def _prefills_json(model: BaseChatModel) -> bool:
    """A local Qwen without thinking: its JSON replies are started for it."""
    if not isinstance(model, ChatQwen) or not in_process(model.model):
        return False
    return not bool(getattr(model.get_transport(), "can_think", True))


def _after_plan(state: PlanExecuteState) -> str:
    return "execute" if state.get("plan") else END


def _after_execute(state: PlanExecuteState) -> list[Send | str] | str:
    """Fan out this turn's tool calls, correct unreadable ones, or go to the next step or the verifier."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and state.get("step_start", 0) < len(state["messages"]):
        targets: list[Send | str] = list(plan_tool_tasks(last, "run_tool"))
        if unreadable_calls(last):
            targets.append("correct")
        if targets:
            return targets
    return "execute" if state.get("cursor", 0) < len(state.get("plan", [])) else "verify"


def _after_verify(state: PlanExecuteState) -> str:
    return "plan" if state.get("verdict") == "replan" else END

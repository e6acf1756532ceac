"""The ReAct graph: the model thinks and picks tools, tools act, until an answer.

::

    START -> call_model --(one Send per unique tool call)--> run_tool --> collect --> call_model ...
                       --(unreadable tool calls)----------> correct  --> collect
                       --(answer | step limit)--> END

Tasks write into ``pending``; ``collect`` moves their messages into the conversation in the order
of the model's calls (Qwen's chat template renders tool results by position, with no ids).

``call_model`` runs with thinking on by default (planning and tool choice benefit from it).
Tool calls of a turn run as parallel tasks with a per-tool timeout (see :mod:`graphs.tool_step`:
with a checkpointer each finished call is saved, so a resumed run repeats none); tool errors,
unknown tool names and unreadable tool calls go back to the model as messages it can act on,
never as exceptions. An empty reply (no text, no call: small models sometimes end their turn at
once after a tool result) is asked for once more, then ends the run with a clear message marked
``empty_answer``. A reply whose thinking planned a tool call it never made is asked for once more
too (``planned_call_retries``), and a turn that goes round in circles (the same call again and
again, or argument-less calls to a tool that needs arguments) ends with a clear message: see
:mod:`graphs.react_guard`. Tools listed in ``approve`` wait for a human decision. The step limit
ends the run with a clear final message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, Send

import prompts
from graphs.context import fit_messages
from graphs.models.chat import ChatQwen
from graphs.react_guard import loop_stop, planned_nudge, planned_tool
from graphs.tool_step import (
    UNKNOWN_TOOL,
    CallTask,
    arun_call_task,
    collect_pending,
    correction,
    merge_pending,
    plan_tool_tasks,
    run_call_task,
    unreadable_calls,
)

STEP_LIMIT_MARK = "step_limit"
EMPTY_ANSWER_MARK = "empty_answer"
EMPTY_NUDGE = "Your reply was empty. Give your answer now, using the tool results above."


class ReactState(TypedDict):
    """Graph state: the conversation, model calls made in this run, tool messages to collect."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    pending: NotRequired[Annotated[list[AnyMessage], merge_pending]]


def build_react(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 8,
    think: bool | None = True,
    tool_timeout: float = 30.0,
    force_tool: bool = False,
    approve: Collection[str] = (),
    context_tokens: int = 28_000,
    checkpointer: Checkpointer = None,
    planned_call_retries: int = 1,
    repeat_limit: int = 1,
) -> CompiledStateGraph[ReactState, None, ReactState, ReactState]:
    """Compile a ReAct graph for ``model`` and ``tools``.

    Args:
        model: any LangChain chat model; ``think`` is passed only to :class:`ChatQwen`.
        tools: LangChain tools; their names must be unique.
        system_prompt: replaces the default ``prompts/react.md``.
        max_steps: model calls allowed per run before it stops with a clear message.
        think: thinking for the model calls (``None`` leaves it to the server).
        tool_timeout: seconds one tool call may take.
        force_tool: make the first model call of a run a tool call (``tool_choice="required"``;
            on local models a prefilled ``<tool_call>``). Small models that would otherwise do
            arithmetic in their head need this; later calls choose freely.
        approve: names of tools that wait for a human decision before each call (needs a
            checkpointer; the run stops with an interrupt, see :mod:`graphs.tool_step`).
        context_tokens: the history sent to the model is trimmed to about this many tokens
            (system prompt and latest request kept, tool calls kept with their results; see
            :func:`graphs.context.fit_messages`). Leave room for the answer within the model's window.
        checkpointer: a LangGraph checkpointer for threads, resume and approval.
        planned_call_retries: extra model calls, per model turn, when the thinking planned a tool
            call the reply did not make (0 turns this off). Each is marked in the trace.
        repeat_limit: how often the same call (same arguments) may be repeated within a turn
            before the run stops with a clear message.
    """
    by_name = {t.name: t for t in tools}
    if len(by_name) != len(tools):
        raise ValueError("tool names must be unique")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    unknown = sorted(set(approve) - set(by_name))
    if unknown:
        raise ValueError(f"cannot require approval for tools that are not offered: {', '.join(unknown)}")
    system = system_prompt or prompts.render("react", tool_names=sorted(by_name))
    bound: Any = model.bind_tools(list(tools)) if tools else model
    forced: Any = model.bind_tools(list(tools), tool_choice="required") if tools and force_tool else bound
    if isinstance(model, ChatQwen) and think is not None:
        bound, forced = bound.bind(think=think), forced.bind(think=think)
    approval = frozenset(approve)

    def call_model(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= max_steps:
            note = (
                f"Stopped after {max_steps} model calls without a final answer "
                "(raise --max-steps to allow more)."
            )
            return {"messages": [AIMessage(content=note, response_metadata={"qwengraph": STEP_LIMIT_MARK})]}
        chooser = forced if steps == 0 or only_unknown_tools(state["messages"]) else bound
        history = fit_messages([SystemMessage(content=system), *state["messages"]], context_tokens)
        response = chooser.invoke(history, config)
        steps += 1
        response, steps, planned = retry_planned(
            response,
            history,
            bound,
            config,
            tools=list(by_name),
            retries=planned_call_retries,
            steps=steps,
            max_steps=max_steps,
        )
        if isinstance(response, AIMessage) and (
            stop := loop_stop(state["messages"], response, by_name, repeat_limit)
        ):
            return {
                "messages": [AIMessage(content=stop.message, response_metadata={"qwengraph": stop.mark})],
                "steps": steps,
            }
        if not _is_empty(response) or steps >= max_steps:
            return {"messages": [*planned, response], "steps": steps}
        # Small models sometimes end their turn at once after a tool result: ask once more.
        nudge = HumanMessage(content=EMPTY_NUDGE, additional_kwargs={"qwengraph": "empty_answer_nudge"})
        again = bound.invoke([*history, nudge], config)
        if _is_empty(again):
            note = "The model gave an empty answer twice; the tool results above are all there is."
            again = AIMessage(content=note, response_metadata={"qwengraph": EMPTY_ANSWER_MARK})
        return {"messages": [*planned, again], "steps": steps + 1}

    def run_tool(state: CallTask, config: RunnableConfig) -> dict[str, Any]:  # state: this task's call
        return {"pending": run_call_task(state, by_name, tool_timeout, approval, config)}

    async def arun_tool(state: CallTask, config: RunnableConfig) -> dict[str, Any]:
        return {"pending": await arun_call_task(state, by_name, tool_timeout, approval, config)}

    def correct(state: ReactState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return {"pending": correction(unreadable_calls(last), by_name)}

    def collect(state: ReactState) -> dict[str, Any]:
        return {"messages": collect_pending(state["messages"], state.get("pending") or []), "pending": None}

    graph = StateGraph(ReactState)
    # run_tool has an async twin: under graph.astream (agents.arunner) async tools run on the event
    # loop; the model call runs in LangGraph's executor thread until the graph is async end to end.
    graph.add_node("call_model", call_model)
    graph.add_node(
        "run_tool", RunnableLambda(run_tool, afunc=arun_tool, name="run_tool"), input_schema=CallTask
    )
    graph.add_node("correct", correct)
    graph.add_node("collect", collect)
    graph.add_edge(START, "call_model")
    graph.add_conditional_edges("call_model", route, ["run_tool", "correct", END])
    graph.add_edge("run_tool", "collect")
    graph.add_edge("correct", "collect")
    graph.add_edge("collect", "call_model")
    return graph.compile(checkpointer=checkpointer)


def retry_planned(
    response: AnyMessage,
    history: Sequence[BaseMessage],
    model: Any,
    config: RunnableConfig,
    *,
    tools: list[str],
    retries: int,
    steps: int,
    max_steps: int,
) -> tuple[AnyMessage, int, list[AnyMessage]]:
    """Ask again (at most ``retries`` times, within ``max_steps``) while the reply planned a call it
    did not make; the extra model calls carry ``qwengraph_note`` in their metadata for the trace.

    Returns the last reply, the step count, and the replies that only planned (kept in the
    conversation, so their thinking is not lost)."""
    kept: list[AnyMessage] = []
    metadata = {**(config.get("metadata") or {}), "qwengraph_note": "planned_call_retry"}
    for _ in range(retries):
        planned = planned_tool(response, tools) if isinstance(response, AIMessage) else None
        if planned is None or steps >= max_steps:
            break
        assert isinstance(response, AIMessage)
        nudge = planned_nudge(response, planned)
        kept.append(response)
        response = model.invoke([*history, *kept, nudge], {**config, "metadata": metadata})
        steps += 1
    return response, steps, kept


def _is_empty(message: AnyMessage) -> bool:
    """A reply with no answer text, no tool calls and no unreadable tool calls."""
    return (
        isinstance(message, AIMessage)
        and not message.text.strip()
        and not message.tool_calls
        and not unreadable_calls(message)
    )


def only_unknown_tools(messages: Sequence[AnyMessage]) -> bool:
    """True when the last turn's tool calls all named tools that do not exist.

    The model meant to use a tool, so with ``force_tool`` its next call is forced again.
    """
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            results.append(message)
            continue
        break
    return bool(results) and all(str(m.content).startswith(UNKNOWN_TOOL) for m in results)


def route(state: ReactState) -> list[Send | str] | str:
    """Fan out the last turn's tool calls, correct unreadable ones, or finish."""
    last = state["messages"][-1]
    if not isinstance(last, AIMessage):
        return END
    targets: list[Send | str] = list(plan_tool_tasks(last, "run_tool"))
    if unreadable_calls(last):
        targets.append("correct")
    return targets or END

"""The ReAct graph: the model thinks and picks tools, tools act, until an answer.

::

    START -> call_model --(tool calls)--> run_tools -> call_model ... --(answer | step limit)--> END

``call_model`` runs with thinking on by default (planning and tool choice benefit from it).
``run_tools`` runs the calls of one turn in parallel with a per-tool timeout; tool errors, unknown
tool names and unreadable tool calls go back to the model as messages it can act on, never as
exceptions. Identical calls in one turn run once (small models repeat themselves). The step limit
ends the run with a clear final message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

import prompts
from graphs.models.chat import ChatQwen

STEP_LIMIT_MARK = "step_limit"


class ReactState(TypedDict):
    """Graph state: the conversation and the number of model calls made in this run."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int


def build_react(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 8,
    think: bool | None = True,
    tool_timeout: float = 30.0,
    force_tool: bool = False,
    checkpointer: Checkpointer = None,
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
        checkpointer: a LangGraph checkpointer for threads and resume.
    """
    by_name = {t.name: t for t in tools}
    if len(by_name) != len(tools):
        raise ValueError("tool names must be unique")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    system = system_prompt or prompts.render("react", tool_names=sorted(by_name))
    bound: Any = model.bind_tools(list(tools)) if tools else model
    forced: Any = model.bind_tools(list(tools), tool_choice="required") if tools and force_tool else bound
    if isinstance(model, ChatQwen) and think is not None:
        bound, forced = bound.bind(think=think), forced.bind(think=think)

    def call_model(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= max_steps:
            note = (
                f"Stopped after {max_steps} model calls without a final answer "
                "(raise --max-steps to allow more)."
            )
            return {"messages": [AIMessage(content=note, response_metadata={"qwengraph": STEP_LIMIT_MARK})]}
        chooser = forced if steps == 0 else bound
        response = chooser.invoke([SystemMessage(content=system), *state["messages"]], config)
        return {"messages": [response], "steps": steps + 1}

    def run_tools(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return {"messages": execute_tool_calls(last, by_name, tool_timeout, config)}

    graph = StateGraph(ReactState)
    graph.add_node("call_model", call_model)
    graph.add_node("run_tools", run_tools)
    graph.add_edge(START, "call_model")
    graph.add_conditional_edges("call_model", route, {"run_tools": "run_tools", END: END})
    graph.add_edge("run_tools", "call_model")
    return graph.compile(checkpointer=checkpointer)


def route(state: ReactState) -> str:
    """Go to the tools when the last model turn asked for any (or wrote an unreadable call)."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and (last.tool_calls or unreadable_calls(last)):
        return "run_tools"
    return END


def unreadable_calls(message: AIMessage) -> list[dict[str, Any]]:
    """Tool calls the model wrote but nobody could read, each with its ``error``.

    ``ChatQwen`` keeps them (with precise errors) in ``response_metadata["bad_tool_calls"]``, which
    survives the merging of streamed chunks; other chat models report ``invalid_tool_calls``.
    """
    found: list[dict[str, Any]] = list(message.response_metadata.get("bad_tool_calls") or [])
    known = {b.get("id") for b in found if b.get("id")}
    found.extend(dict(c) for c in message.invalid_tool_calls if not c.get("id") or c.get("id") not in known)
    return found


def execute_tool_calls(
    message: AIMessage, tools: dict[str, BaseTool], timeout: float, config: RunnableConfig | None = None
) -> list[AnyMessage]:
    """Run one turn's tool calls in parallel and return the messages answering them."""
    results: list[AnyMessage] = []
    seen: dict[str, str] = {}
    calls: list[tuple[ToolCall, str | None]] = []
    for call in message.tool_calls:
        key = json.dumps([call["name"], call["args"]], sort_keys=True, default=str)
        if key in seen:  # identical call in the same turn: answer it with the first one's result
            calls.append((call, seen[key]))
            continue
        seen[key] = call.get("id") or ""
        calls.append((call, None))
    runnable = [c for c, dup in calls if dup is None and c["name"] in tools]
    outcomes: dict[str, tuple[str, str]] = {}
    if runnable:
        with ThreadPoolExecutor(max_workers=min(8, len(runnable))) as pool:
            futures = {
                c.get("id") or "": (c, pool.submit(_invoke, tools[c["name"]], c["args"], config))
                for c in runnable
            }
            for call_id, (call, future) in futures.items():
                try:
                    outcomes[call_id] = future.result(timeout=timeout)
                except FutureTimeout:
                    outcomes[call_id] = (
                        f"Error: tool {call['name']} timed out after {timeout:g} s.",
                        "error",
                    )
    available = ", ".join(sorted(tools)) or "(none)"
    for call, dup in calls:
        call_id = call.get("id") or ""
        if call["name"] not in tools:
            text = f"Error: there is no tool named {call['name']!r}. Available tools: {available}."
            results.append(ToolMessage(content=text, tool_call_id=call_id, name=call["name"], status="error"))
            continue
        content, status = outcomes[dup if dup is not None else call_id]
        results.append(ToolMessage(content=content, tool_call_id=call_id, name=call["name"], status=status))
    for bad in unreadable_calls(message):
        results.append(
            HumanMessage(
                content=(
                    f"Your tool call could not be read: {bad.get('error') or 'invalid JSON'}. "
                    'Write it again as <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> '
                    f"using one of: {available}."
                ),
                additional_kwargs={"qwengraph": "tool_call_error"},
            )
        )
    return results


def _invoke(tool: BaseTool, args: dict[str, Any], config: RunnableConfig | None) -> tuple[str, str]:
    """Run one tool; any failure becomes an error text for the model, never an exception."""
    try:
        output = tool.invoke(args, config)
    except Exception as err:  # noqa: BLE001 - a tool's failure is information for the model
        return f"Error: {type(err).__name__}: {err}", "error"
    text = output if isinstance(output, str) else json.dumps(output, default=str, ensure_ascii=False)
    return text, "error" if text.startswith("Error") else "success"

"""Running one tool call for a graph: timeout, errors as messages, human approval.

Each unique tool call of a model turn runs as its own LangGraph task (a ``Send``), so the calls
of a turn run in parallel and, with a checkpointer, every finished call is saved as it finishes:
a run killed mid-turn and resumed re-runs only the calls that had not finished (tools can have
side effects). Tools named for approval stop the run with ``interrupt`` before they execute; the
caller resumes it with ``Command(resume=...)`` carrying ``{"action": "approve"}``,
``{"action": "reject", "reason": ...}`` or ``{"action": "edit", "args": {...}}``.

Tools made from ``async def`` functions run everywhere: natively on the event loop when the graph
is driven asynchronously (:func:`arun_call_task`), in a worker thread of their own otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.types import Send, interrupt

Status = Literal["success", "error"]
APPROVAL = "approve_tool_call"


class CallTask(TypedDict):
    """What one tool task receives: the call and the ids of identical calls it also answers."""

    call: ToolCall
    ids: list[str]


def plan_tool_tasks(message: AIMessage, node: str) -> list[Send]:
    """One ``Send`` per unique call (identical calls in a turn run once: small models repeat)."""
    groups: dict[str, CallTask] = {}
    for call in message.tool_calls:
        key = json.dumps([call["name"], call["args"]], sort_keys=True, default=str)
        if key in groups:
            groups[key]["ids"].append(call.get("id") or "")
        else:
            groups[key] = {"call": call, "ids": [call.get("id") or ""]}
    return [Send(node, task) for task in groups.values()]


def unreadable_calls(message: AIMessage) -> list[dict[str, Any]]:
    """Tool calls the model wrote but nobody could read, each with its ``error``.

    ``ChatQwen`` keeps them (with precise errors) in ``response_metadata["bad_tool_calls"]``, which
    survives the merging of streamed chunks; other chat models report ``invalid_tool_calls``.
    """
    found: list[dict[str, Any]] = list(message.response_metadata.get("bad_tool_calls") or [])
    known = {b.get("id") for b in found if b.get("id")}
    found.extend(dict(c) for c in message.invalid_tool_calls if not c.get("id") or c.get("id") not in known)
    return found


def correction(bad: list[dict[str, Any]], tool_names: Collection[str]) -> list[AnyMessage]:
    """Messages telling the model exactly why its tool calls could not be read."""
    available = ", ".join(sorted(tool_names)) or "(none)"
    return [
        HumanMessage(
            content=(
                f"Your tool call could not be read: {b.get('error') or 'invalid JSON'}. "
                'Write it again as <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> '
                f"using one of: {available}."
            ),
            additional_kwargs={"qwengraph": "tool_call_error"},
        )
        for b in bad
    ]


def run_call_task(
    task: CallTask,
    tools: Mapping[str, BaseTool],
    timeout: float,
    approve: Collection[str],
    config: RunnableConfig | None = None,
) -> list[AnyMessage]:
    """Run one call (after approval, if its tool needs it) and answer every id it stands for."""
    call = task["call"]
    planned = _plan_call(call, tools, approve)
    if isinstance(planned, tuple):
        text, status = planned
    else:
        text, status = invoke_with_timeout(tools[call["name"]], planned, timeout, config)
    return _answers(task, text, status)


async def arun_call_task(
    task: CallTask,
    tools: Mapping[str, BaseTool],
    timeout: float,
    approve: Collection[str],
    config: RunnableConfig | None = None,
) -> list[AnyMessage]:
    """Async twin of :func:`run_call_task`: async tools run on the event loop, sync tools in a thread."""
    call = task["call"]
    planned = _plan_call(call, tools, approve)
    if isinstance(planned, tuple):
        text, status = planned
    else:
        text, status = await ainvoke_with_timeout(tools[call["name"]], planned, timeout, config)
    return _answers(task, text, status)


def _plan_call(
    call: ToolCall, tools: Mapping[str, BaseTool], approve: Collection[str]
) -> dict[str, Any] | tuple[str, Status]:
    """The arguments to run ``call`` with (after approval), or the answer when it must not run."""
    name = call["name"]
    if name not in tools:
        return unknown_tool_message(name, tools), "error"
    args: dict[str, Any] = dict(call["args"])
    verdict = _ask_approval(call) if name in approve else None
    if verdict is not None and verdict[0] == "reject":
        return verdict[1], "error"
    if verdict is not None and verdict[0] == "edit":
        args = json.loads(verdict[1])
    return args


def _answers(task: CallTask, text: str, status: Status) -> list[AnyMessage]:
    name = task["call"]["name"]
    return [ToolMessage(content=text, tool_call_id=i, name=name, status=status) for i in task["ids"]]


UNKNOWN_TOOL = "Error: there is no tool named"


def merge_pending(left: list[AnyMessage], right: list[AnyMessage] | None) -> list[AnyMessage]:
    """Reducer for a graph's ``pending`` key: tool tasks append; ``None`` (from collect) empties it."""
    return [] if right is None else [*left, *right]


def collect_pending(messages: Sequence[AnyMessage], pending: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The tasks' messages in the order of the last model turn's calls, then any corrections.

    Parallel tasks finish in any order; Qwen's chat template renders tool results by position.
    """
    last = messages[-1] if messages else None
    order = (
        {c.get("id") or "": i for i, c in enumerate(last.tool_calls)} if isinstance(last, AIMessage) else {}
    )
    answers = sorted(
        (m for m in pending if isinstance(m, ToolMessage)), key=lambda m: order.get(m.tool_call_id, 0)
    )
    return [*answers, *(m for m in pending if not isinstance(m, ToolMessage))]


def unknown_tool_message(name: str, tools: Mapping[str, BaseTool]) -> str:
    """Say the tool does not exist, list the real ones, and suggest any whose description names it.

    Small models call an operation as if it were a tool (``differentiate`` for ``symbolic``).
    """
    available = ", ".join(sorted(tools)) or "(none)"
    text = f"{UNKNOWN_TOOL} {name!r}. Available tools: {available}."
    needle = name.lower().replace("_", " ")
    hints = sorted(t for t, tool in tools.items() if needle and needle in (tool.description or "").lower())
    if hints:
        text += f" '{name}' is something {' or '.join(hints)} can do: call {hints[0]} instead."
    return text


def _ask_approval(call: ToolCall) -> tuple[str, str]:
    """Interrupt for a human decision; returns ``("approve"|"edit"|"reject", detail)``."""
    answer = interrupt({"type": APPROVAL, "name": call["name"], "args": call["args"], "id": call.get("id")})
    decision: Mapping[str, Any] = answer if isinstance(answer, Mapping) else {"action": str(answer)}
    action = str(decision.get("action", "reject")).lower()
    if action == "approve":
        return "approve", ""
    if action == "edit" and isinstance(decision.get("args"), Mapping):
        return "edit", json.dumps(decision["args"])
    reason = str(decision.get("reason") or "no reason given")
    return "reject", f"Error: the user rejected this {call['name']} call ({reason}). Do not repeat it."


def invoke_with_timeout(
    tool: BaseTool, args: dict[str, Any], timeout: float, config: RunnableConfig | None
) -> tuple[str, Status]:
    """Run ``tool``; failures and timeouts become error texts for the model, never exceptions."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(_invoke, tool, args, config)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        return f"Error: tool {tool.name} timed out after {timeout:g} s.", "error"
    finally:
        pool.shutdown(wait=False)  # a timed-out tool thread cannot be killed; it is left to finish


async def ainvoke_with_timeout(
    tool: BaseTool, args: dict[str, Any], timeout: float, config: RunnableConfig | None
) -> tuple[str, Status]:
    """Async twin of :func:`invoke_with_timeout` (LangChain runs a sync tool's function in a thread)."""
    try:
        output = await asyncio.wait_for(tool.ainvoke(args, config), timeout)
    except TimeoutError:
        return f"Error: tool {tool.name} timed out after {timeout:g} s.", "error"
    except Exception as err:  # noqa: BLE001 - a tool's failure is information for the model
        return f"Error: {type(err).__name__}: {err}", "error"
    return _as_text(output)


def _invoke(tool: BaseTool, args: dict[str, Any], config: RunnableConfig | None) -> tuple[str, Status]:
    try:
        # an async-only tool gets an event loop of its own: this runs in a worker thread
        output = asyncio.run(tool.ainvoke(args, config)) if is_async_only(tool) else tool.invoke(args, config)
    except Exception as err:  # noqa: BLE001 - a tool's failure is information for the model
        return f"Error: {type(err).__name__}: {err}", "error"
    return _as_text(output)


def is_async_only(tool: BaseTool) -> bool:
    """A tool made from an ``async def`` function: it has no sync function to call."""
    return isinstance(tool, StructuredTool) and tool.func is None and tool.coroutine is not None


def _as_text(output: Any) -> tuple[str, Status]:
    text = output if isinstance(output, str) else json.dumps(output, default=str, ensure_ascii=False)
    return text, "error" if text.startswith("Error") else "success"

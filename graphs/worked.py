"""The worked-solution graph: the model writes its solution, tools fill in every result.

::

    START -> write --(a result to fill in)--> fill --> write ...
                   --(the solution is finished | step limit)--> END

Small local models (Qwen2.5-Coder-1.5B measured) write a good worked solution and get its results
wrong: the arithmetic they do in their head, the tests they write but never run. In a ReAct loop they
make one tool call and answer the rest from memory. Here the model writes prose and generation stops
at the strings the :mod:`graphs.worked_checks` know: ``=``, ``≈``, ``\\approx`` after arithmetic
(the calculator's value is written after the sign), the fence that closes a ```python block (it
runs in the sandbox and its real output follows), ``f'(x) =`` and a finished line with a polynomial
equation (the symbolic tool's derivative and solutions). Then the model continues its own text from there
(a *prefill*), so every later step builds on real results. Other signs (``r =``, an opening fence)
are kept and the model continues at once.

Every result is an ``AIMessage`` tool call followed by its ``ToolMessage`` (whose
``artifact["written"]`` is the text added to the solution), so summaries, traces and exports see
them as in ReAct; the last message is the whole solution. As in ReAct, a step is a turn
that ends in a tool call or in the answer; continuations after other signs inside a turn are capped
separately (``max_continuations``). Needs :class:`ChatQwen` on a transport that continues a prefill
and names the stop string that ended a reply: the in-process ``local`` models (the ones this graph
is for) and vLLM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

import prompts
from graphs.context import CHARS_PER_TOKEN, fit_messages
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.node import Body, ModelCall, Node
from graphs.react import STEP_LIMIT_MARK
from graphs.tool_step import tool_job
from graphs.worked_checks import Check, checks_for


class WorkedState(TypedDict):
    """Graph state: the conversation, model calls made, and the solution written so far."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    draft: NotRequired[str]


def build_worked(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 30,
    max_continuations: int | None = None,
    temperature: float | Literal["auto"] | None = "auto",
    tool_timeout: float = 30.0,
    checkpointer: Checkpointer = None,
    context_tokens: int = 28_000,
) -> CompiledStateGraph[WorkedState, None, WorkedState, WorkedState]:
    """Compile a worked-solution graph.

    Args:
        model: a :class:`ChatQwen` whose transport continues prefills (``local:``, or vLLM).
        tools: the tools that fill in results: ``calculator``, ``run_python``, ``symbolic``
            (others are not used; see :func:`graphs.worked_checks.checks_for`).
        system_prompt: replaces ``prompts/worked.md``; the checks' own instructions are added.
        max_steps: turns allowed per run (each calculation ends one, the answer ends the last).
        max_continuations: model calls allowed within one turn (one per stop with nothing to fill
            in); ``None``: 40, or 120 when line ends are stops (the symbolic tool's equations).
        temperature: sampling temperature of the writing (``None``: the model's default).
            ``"auto"``: greedy (0.0) unless code is written, then the model's default. Measured on
            the 1.5B: at Qwen's non-thinking 0.7 it misjudged which of two checked numbers was
            larger; greedy, it repeated one assert until the token limit.
        tool_timeout: seconds one tool call may take.
        checkpointer: a LangGraph checkpointer for threads and resume.
        context_tokens: what the model may be sent, about: earlier turns of the thread are
            trimmed (oldest first, :func:`graphs.context.fit_messages`) so that they, the request
            and the solution written so far (the prefill) fit.

    Raises:
        ConfigError: ``model`` is not a :class:`ChatQwen`, no tool can fill in results, or a limit
            is below 1.
    """
    if not isinstance(model, ChatQwen):
        raise ConfigError(
            "the worked-solution graph needs a ChatQwen model (it continues a prefilled answer)"
        )
    checks = checks_for(tools)
    by_tool = {c.tool.name: c for c in checks}
    signs = list(dict.fromkeys(s for c in checks for s in c.signs))
    if max_continuations is None:
        max_continuations = 120 if "\n" in signs else 40
    if max_steps < 1 or max_continuations < 1:
        raise ConfigError("max_steps and max_continuations must be at least 1")
    code = "run_python" in by_tool
    text = system_prompt or prompts.render(
        "worked", code=code, arithmetic="calculator" in by_tool, algebra="symbolic" in by_tool
    )
    if system_prompt and code:
        text += "\n\n" + prompts.render("worked_code_note")
    system = SystemMessage(content=text)
    if temperature == "auto":
        temperature = None if code else 0.0
    writer = model.bind(think=False, **({} if temperature is None else {"temperature": temperature}))

    def write(state: WorkedState, config: RunnableConfig) -> Body[dict[str, Any]]:
        draft, steps = state.get("draft", ""), state.get("steps", 0)
        if steps >= max_steps:
            return _stopped(
                draft, steps, f"Stopped after {max_steps} steps (raise --max-steps to allow more)."
            )
        asked = [system, *request_history(state["messages"])]
        request = asked[-1].text if isinstance(asked[-1], HumanMessage) else ""
        for _ in range(max_continuations):
            room = max(context_tokens - math.ceil(len(draft) / CHARS_PER_TOKEN), 0)  # what the draft leaves
            options = {"prefill": draft, "stop": signs, "include_stop": True}
            reply = yield ModelCall(writer, fit_messages(asked, room), config, options)
            assert isinstance(reply, AIMessage)
            sign = reply.response_metadata.get("stop_sequence")
            draft += reply.text  # the sign included: it is shown as it streams
            if sign not in signs or not draft.endswith(sign):  # the model finished its solution
                return {"messages": [_with_text(reply, draft)], "steps": steps + 1, "draft": ""}
            found = _call_for(checks, draft[: -len(sign)], sign, request)
            if found is not None:
                name, args = found
                call = {"name": name, "args": args, "id": f"fill-{len(state['messages'])}"}
                ask = reply.model_copy(update={"content": "", "tool_calls": [call]})
                return {"messages": [ask], "steps": steps + 1, "draft": draft}
        return _stopped(draft, steps + 1, f"Stopped after {max_continuations} model calls in one step.")

    def fill(state: WorkedState, config: RunnableConfig) -> Body[dict[str, Any]]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        assert last.tool_calls
        call = last.tool_calls[0]
        check = by_tool[call["name"]]
        output, status = yield tool_job(check.tool, call["args"], tool_timeout, config)
        written = check.written(call["args"], output, status == "success")
        result = ToolMessage(
            content=output,
            tool_call_id=call["id"] or "",
            name=call["name"],
            status=status,
            artifact={"written": written},
        )
        return {"messages": [result], "draft": state.get("draft", "") + written}

    graph = StateGraph(WorkedState)
    graph.add_node("write", Node("write", write))  # one body for invoke and ainvoke: graphs.node
    graph.add_node("fill", Node("fill", fill))
    graph.add_edge(START, "write")
    graph.add_conditional_edges("write", _after_write, ["fill", END])
    graph.add_edge("fill", "write")
    return graph.compile(checkpointer=checkpointer)


def _call_for(
    checks: Sequence[Check], text: str, sign: str, request: str
) -> tuple[str, dict[str, Any]] | None:
    """The first check that acts on ``text`` ended by ``sign``: its tool's name and arguments."""
    for check in checks:
        if sign in check.signs:
            args = check.arguments(text, sign, request)
            if args is not None:
                return check.tool.name, args
    return None


def _after_write(state: WorkedState) -> str:
    last = state["messages"][-1]
    return "fill" if isinstance(last, AIMessage) and last.tool_calls else END


def request_history(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The conversation up to the current request: this turn's calculations are in the prefill."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[: index + 1])
    return list(messages)


def _stopped(draft: str, steps: int, why: str) -> dict[str, Any]:
    """End the run at a limit, keeping the solution written so far and saying why it stopped."""
    note = f"{draft.strip()}\n\n({why})".strip()
    return {
        "messages": [AIMessage(content=note, response_metadata={"qwengraph": STEP_LIMIT_MARK})],
        "steps": steps,
        "draft": "",
    }


def _with_text(reply: AIMessage, text: str) -> AIMessage:
    """``reply`` (its id, usage and metadata kept) carrying the whole solution as its answer."""
    return reply.model_copy(update={"content": text.strip()})

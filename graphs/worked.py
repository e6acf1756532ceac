"""The worked-solution graph: the model writes its solution, the calculator checks every number.

::

    START -> write --(arithmetic before "=" or "≈")--> calculate --> write ...
                   --(the solution is finished | step limit)--> END

Measured with Qwen2.5-Coder-1.5B on multi-part word problems: written out step by step, the model
sets the problem up correctly ("(1 + r)^5 = 5/2, so r = 2.5^(1/5) - 1") but gets the arithmetic
wrong in its head, and in a ReAct loop it makes one tool call and answers the remaining parts from
memory. Here the model writes prose and generation stops at every ``=``, ``≈`` or ``\\approx``.
When the text just before the sign is arithmetic (see :func:`graphs.worked_text.expression_before`),
the calculator evaluates it as a real tool call, its value is written after the sign, and the model
continues its own text from there (a *prefill*), so each later step builds on a correct number.
Any other sign (``r =``) is kept and the model continues at once.

Every calculation is an ``AIMessage`` tool call followed by its ``ToolMessage``, so summaries,
traces and exports see them as in ReAct; the last message is the whole solution. As in ReAct, a
step is a model turn that ends in a calculation or in the answer; the continuations after other
signs inside a turn are capped separately (``max_continuations``). Needs
:class:`ChatQwen` on a transport that continues a prefill and names the stop string that ended a
reply: the in-process ``local`` models (the ones this graph is for) and vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

import prompts
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.react import STEP_LIMIT_MARK
from graphs.tool_step import invoke_with_timeout
from graphs.worked_text import SIGNS, expression_before, value_text


class WorkedState(TypedDict):
    """Graph state: the conversation, model calls made, and the solution written so far."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    draft: NotRequired[str]


def build_worked(
    model: ChatQwen,
    calculator: BaseTool,
    *,
    system_prompt: str | None = None,
    max_steps: int = 30,
    max_continuations: int = 40,
    temperature: float | None = 0.0,
    tool_timeout: float = 30.0,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[WorkedState, None, WorkedState, WorkedState]:
    """Compile a worked-solution graph.

    Args:
        model: a :class:`ChatQwen` whose transport continues prefills (``local:``, or vLLM).
        calculator: the tool that evaluates each expression (one ``expression`` string argument).
        system_prompt: replaces ``prompts/worked.md``.
        max_steps: turns allowed per run (each calculation ends one, the answer ends the last).
        max_continuations: model calls allowed within one turn (one per sign that was not arithmetic).
        temperature: sampling temperature of the writing (``None``: the model's default). Greedy by
            default: at Qwen's non-thinking default (0.7) the 1.5B misjudged which of two checked
            numbers was larger.
        tool_timeout: seconds one calculation may take.
        checkpointer: a LangGraph checkpointer for threads and resume.

    Raises:
        ConfigError: ``model`` is not a :class:`ChatQwen`, or a limit is below 1.
    """
    if not isinstance(model, ChatQwen):
        raise ConfigError(
            "the worked-solution graph needs a ChatQwen model (it continues a prefilled answer)"
        )
    if max_steps < 1 or max_continuations < 1:
        raise ConfigError("max_steps and max_continuations must be at least 1")
    system = SystemMessage(content=system_prompt or prompts.render("worked"))
    writer = model.bind(think=False, **({} if temperature is None else {"temperature": temperature}))

    def write(state: WorkedState, config: RunnableConfig) -> dict[str, Any]:
        draft, steps = state.get("draft", ""), state.get("steps", 0)
        if steps >= max_steps:
            return _stopped(
                draft, steps, f"Stopped after {max_steps} steps (raise --max-steps to allow more)."
            )
        history = [system, *request_history(state["messages"])]
        for _ in range(max_continuations):
            reply = writer.invoke(history, config, prefill=draft, stop=list(SIGNS), include_stop=True)
            assert isinstance(reply, AIMessage)
            sign = reply.response_metadata.get("stop_sequence")
            draft += reply.text  # the sign included: it is shown as it streams
            if sign not in SIGNS or not draft.endswith(sign):  # the model finished its solution
                return {"messages": [_with_text(reply, draft)], "steps": steps + 1, "draft": ""}
            expression = expression_before(draft[: -len(sign)])
            if expression is not None:
                call = {
                    "name": calculator.name,
                    "args": {"expression": expression},
                    "id": f"calc-{steps + 1}",
                }
                ask = reply.model_copy(update={"content": "", "tool_calls": [call]})
                return {"messages": [ask], "steps": steps + 1, "draft": draft}
        return _stopped(draft, steps + 1, f"Stopped after {max_continuations} model calls in one step.")

    def calculate(state: WorkedState, config: RunnableConfig) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        assert last.tool_calls
        call = last.tool_calls[0]
        text, status = invoke_with_timeout(calculator, call["args"], tool_timeout, config)
        result = ToolMessage(content=text, tool_call_id=call["id"] or "", name=calculator.name, status=status)
        draft = state.get("draft", "")
        if status == "success":
            draft += " " + value_text(text)
        return {"messages": [result], "draft": draft}

    graph = StateGraph(WorkedState)
    graph.add_node("write", write)
    graph.add_node("calculate", calculate)
    graph.add_edge(START, "write")
    graph.add_conditional_edges("write", _after_write, ["calculate", END])
    graph.add_edge("calculate", "write")
    return graph.compile(checkpointer=checkpointer)


def _after_write(state: WorkedState) -> str:
    last = state["messages"][-1]
    return "calculate" if isinstance(last, AIMessage) and last.tool_calls else END


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

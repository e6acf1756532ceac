"""Guards for the ReAct loop: a call planned but not made, and calls that go round in circles.

**Planned but not called.** Thinking models sometimes plan a tool call in their thinking and then
end the turn without making it (QwenLM/Qwen3#1817); Qwen3.5 even writes the complete XML call
*inside* its thinking, where it is never run (vllm-project/vllm#39056). When a reply has no tool
call and no answer-like text, and its thinking names one of the tools together with an intent to
use it (or holds call markup), the model is asked once more to make the call or answer
(:func:`planned_tool`, :func:`planned_nudge`). The ReAct graph bounds this (``planned_call_retries``)
and marks the retried call in the trace.

**Loops.** With its thinking dropped between calls a model can repeat itself (reported for
Qwen3.6): the same call with the same arguments again and again, or a call with empty arguments to a
tool that requires some. :func:`loop_stop` ends the run with a clear message instead of spending
every remaining step: when an identical call of this turn is made more than ``repeat_limit`` times
again, or an argument-less call to a tool with required arguments is made a second time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from graphs.models.messages import reasoning_text

PLANNED_NUDGE_MARK = "planned_call_nudge"
REPEATED_CALL_MARK = "repeated_call"
EMPTY_ARGUMENTS_MARK = "empty_arguments"
_INTENT = re.compile(
    r"\b(call|calling|use|using|invoke|run|query|look (it )?up|let me|i'?ll|i will|i should|i need to|"
    r"i must|going to)\b",
    re.IGNORECASE,
)
_MARKUP = ("<tool_call>", "<function=", '"name":')
ANSWER_LIKE = 240
"""Reply text at least this long counts as an answer even when it talks about tools."""


def planned_tool(message: AIMessage, tool_names: Sequence[str]) -> str | None:
    """The tool a reply's thinking planned to call when the reply made no call and gave no answer.

    The reply must have no tool call (readable or not) and no answer-like text: empty, or a short
    statement of intent ("I'll use the calculator."). It must have thought, and its thinking or
    text must name a tool together with an intent word or call markup. Returns that tool's name.
    """
    if message.tool_calls or message.invalid_tool_calls or message.response_metadata.get("bad_tool_calls"):
        return None
    text = message.text.strip()
    if text and (len(text) >= ANSWER_LIKE or not _INTENT.search(text)):
        return None
    thinking = reasoning_text(message)
    if not thinking:
        return None
    markup = any(m in thinking for m in _MARKUP)
    if not markup and not _INTENT.search(thinking) and not _INTENT.search(text):
        return None
    for name in sorted(tool_names, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", f"{thinking}\n{text}"):
            return name
    return None


def planned_nudge(message: AIMessage, tool: str) -> HumanMessage:
    """The one extra request after a planned-but-not-made call (marked for the trace and summary)."""
    inside = any(m in reasoning_text(message) for m in _MARKUP)
    where = " A call written inside your thinking is not run." if inside else ""
    return HumanMessage(
        content=(
            f"You planned to call the `{tool}` tool but did not call it.{where} "
            "Make the tool call now, or give your final answer."
        ),
        additional_kwargs={"qwengraph": PLANNED_NUDGE_MARK},
    )


@dataclass(frozen=True)
class LoopStop:
    """Why the run stops: a mark for the summary and a message for the user."""

    mark: str
    message: str


def loop_stop(
    history: Sequence[AnyMessage], reply: AIMessage, tools: Mapping[str, BaseTool], repeat_limit: int = 1
) -> LoopStop | None:
    """Whether ``reply`` (the newest model turn) goes round in circles within the current turn."""
    earlier: dict[str, int] = {}
    for message in _current_turn(history):
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                key = _key(call["name"], call["args"])
                earlier[key] = earlier.get(key, 0) + 1
    for call in reply.tool_calls:
        name, args = call["name"], call["args"]
        required = _required(tools[name]) if name in tools else ()
        if not args and required and earlier.get(_key(name, args)):
            return LoopStop(
                EMPTY_ARGUMENTS_MARK,
                f"Stopped: the model called {name} again without its required arguments "
                f"({', '.join(required)}); the tool's error did not help it. Try a larger model, or "
                "rephrase the request with the values it needs.",
            )
        if earlier.get(_key(name, args), 0) > repeat_limit:
            shown = json.dumps(args, ensure_ascii=False, sort_keys=True)
            return LoopStop(
                REPEATED_CALL_MARK,
                f"Stopped: the model made the same call {earlier[_key(name, args)] + 1} times in this "
                f"turn ({name} {shown}) and would go on repeating it; the results above are all there is.",
            )
    return None


def _current_turn(history: Sequence[AnyMessage]) -> Sequence[AnyMessage]:
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return history[index + 1 :]
    return history


def _key(name: str, args: object) -> str:
    return json.dumps([name, args], sort_keys=True, default=str)


def _required(tool: BaseTool) -> tuple[str, ...]:
    parameters = convert_to_openai_tool(tool)["function"].get("parameters") or {}
    return tuple(str(name) for name in parameters.get("required") or ())

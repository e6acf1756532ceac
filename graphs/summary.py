"""What a run produced, read back from its messages: answer, thinking, tool calls, steps, usage.

This is the shape of ``qwengraph run --json``: ``{"answer", "thinking", "tool_calls", "steps",
"usage"}``, plus ``"stopped"`` when the run ended without an answer (``step_limit``; for
plan_execute also ``plan_error``, ``replan_limit``, ``verdict_error``), and ``"citations"`` when
the answer's citations were checked (research graph): ``{"verified": bool, "checks": [{"citation",
"ok", "problem", "quote"}]}``. It is derived from the
messages alone, so a replayed or resumed run summarises the same way as a live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage

from graphs.models.messages import reasoning_text


@dataclass
class ToolCallRecord:
    """One executed tool call and what it returned."""

    name: str
    args: dict[str, Any]
    result: str


@dataclass
class RunSummary:
    """The outcome of one run."""

    answer: str = ""
    thinking: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    steps: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    citations: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        data = asdict(self)
        for key in ("stopped", "citations"):
            if data[key] is None:
                del data[key]
        return data


def summarize(messages: Sequence[AnyMessage]) -> RunSummary:
    """Summarise the messages of one run (pass only the messages the run added)."""
    summary = RunSummary()
    totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "reasoning_tokens": 0}
    pending: dict[str, tuple[str, dict[str, Any]]] = {}
    for message in messages:
        if isinstance(message, AIMessage):
            mark = (message.response_metadata or {}).get("qwengraph")
            if mark:  # the graph's own closing note, not a model call: why the run stopped
                summary.stopped = str(mark)
                summary.answer = message.text
                continue
            if not (message.response_metadata or {}).get("qwengraph_graph_step"):
                summary.steps += 1  # a call the graph made itself is not a model call
            thought = reasoning_text(message)
            if thought:
                summary.thinking.append(thought)
            for call in message.tool_calls:
                pending[call.get("id") or ""] = (call["name"], dict(call["args"]))
            if not message.tool_calls:
                summary.answer = message.text.strip()
                summary.citations = (message.response_metadata or {}).get("qwengraph_citations")
            usage = message.usage_metadata
            if usage:
                totals["input_tokens"] += usage.get("input_tokens", 0)
                totals["output_tokens"] += usage.get("output_tokens", 0)
                totals["total_tokens"] += usage.get("total_tokens", 0)
                totals["reasoning_tokens"] += (usage.get("output_token_details") or {}).get(
                    "reasoning", 0
                ) or 0
        elif isinstance(message, ToolMessage) and message.tool_call_id in pending:
            name, args = pending.pop(message.tool_call_id)
            summary.tool_calls.append(ToolCallRecord(name=name, args=args, result=message.text))
    summary.usage = totals
    return summary

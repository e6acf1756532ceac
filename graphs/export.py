"""Saved conversations as Qwen ChatML training examples, for distilling agent runs into a smaller model.

One example is one conversation in the OpenAI / Qwen chat format that fine-tuning tools read::

    {"messages": [{"role": "user", "content": "..."},
                  {"role": "assistant", "content": "", "tool_calls": [{"id": "...", "type": "function",
                      "function": {"name": "calculator", "arguments": "{\\"expression\\": \\"17*23\\"}"}}]},
                  {"role": "tool", "tool_call_id": "...", "name": "calculator", "content": "391"},
                  {"role": "assistant", "content": "17 * 23 = 391."}],
     "tools": [{"type": "function", "function": {...}}]}

or, with ``text``, the same conversation rendered as the ChatML string the model is trained on
(:func:`graphs.models.chatml.render_chatml`). Thinking is left out unless asked for; then it is
written Qwen3's way, ``<think>\\n…\\n</think>\\n\\n`` before the assistant's text. Only successful
conversations are exported: see :func:`failure_reason`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from graphs.models.chatml import Family, render_chatml
from graphs.models.convert import to_neutral
from graphs.models.messages import reasoning_text


def failure_reason(messages: Sequence[AnyMessage]) -> str | None:
    """Why a conversation is not a successful one, or ``None`` when it is.

    Successful: it ends with an AI message that is a real answer (text, no tool call pending, not
    cut off by the length limit) and no turn of it was stopped by the graph (step limit, replan
    limit, unusable plan: any message marked in ``response_metadata["qwengraph"]``).
    """
    if not messages:
        return "no messages"
    for message in messages:
        mark = isinstance(message, AIMessage) and message.response_metadata.get("qwengraph")
        if mark:
            return f"a run stopped ({mark})"
    last = messages[-1]
    if not isinstance(last, AIMessage):
        return "it does not end with an answer (the run failed or was interrupted)"
    if last.tool_calls or last.response_metadata.get("bad_tool_calls"):
        return "it ends with a tool call, not an answer"
    if last.response_metadata.get("finish_reason") == "length":
        return "the last answer was cut off by the length limit"
    if not last.text.strip():
        return "the last answer is empty"
    return None


def tools_called(messages: Sequence[AnyMessage]) -> list[str]:
    """Names of the tools the conversation called, in order of first use."""
    names = [c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    return list(dict.fromkeys(names))


def tool_schemas(tools: Sequence[BaseTool | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function schemas, as the model was shown them."""
    return [convert_to_openai_tool(t) for t in tools]


def neutral_messages(
    messages: Sequence[AnyMessage], *, with_thinking: bool = False, system: str | None = None
) -> list[dict[str, Any]]:
    """The conversation as neutral dicts (see :mod:`graphs.models.chatml`), thinking inline if asked."""
    chat: list[BaseMessage] = list(messages)
    if system:
        chat = [SystemMessage(content=system), *(m for m in messages if not isinstance(m, SystemMessage))]
    out = to_neutral(chat, scope="none")  # thinking only where asked, inline (below)
    if with_thinking:
        for entry, message in zip(out, chat, strict=True):
            thought = reasoning_text(message) if isinstance(message, AIMessage) else ""
            if thought:
                entry["content"] = f"<think>\n{thought}\n</think>\n\n{entry['content']}"
    return out


def openai_messages(neutral: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral dicts in the OpenAI chat format: tool call arguments as JSON strings."""
    out: list[dict[str, Any]] = []
    for entry in neutral:
        message: dict[str, Any] = {"role": entry["role"], "content": entry.get("content", "")}
        if entry.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "id": c.get("id") or "",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["args"], ensure_ascii=False)},
                }
                for c in entry["tool_calls"]
            ]
        if entry["role"] == "tool":
            message.update(tool_call_id=entry.get("tool_call_id", ""), name=entry.get("name", ""))
        out.append(message)
    return out


def chatml_example(
    messages: Sequence[AnyMessage],
    tools: Sequence[Mapping[str, Any]],
    *,
    with_thinking: bool = False,
    system: str | None = None,
) -> dict[str, Any]:
    """One training example ``{"messages", "tools"}`` in the OpenAI / Qwen chat format."""
    neutral = neutral_messages(messages, with_thinking=with_thinking, system=system)
    return {"messages": openai_messages(neutral), "tools": [dict(t) for t in tools]}


def chatml_text(
    messages: Sequence[AnyMessage],
    tools: Sequence[Mapping[str, Any]],
    *,
    with_thinking: bool = False,
    system: str | None = None,
    family: Family = "qwen3",
) -> str:
    """The conversation rendered as the full ChatML training string of ``family``'s template."""
    neutral = neutral_messages(messages, with_thinking=with_thinking, system=system)
    return render_chatml(neutral, tools, add_generation_prompt=False, family=family)

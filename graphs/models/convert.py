"""LangChain messages to the neutral wire form that every transport accepts.

Past thinking goes back as the Qwen templates intend (``scope``): the assistant messages of the
current turn, those after the last user message (an agent's chain of tool calls), carry their own
thinking as ``reasoning_content``; earlier turns are sent as answer text only (their thinking is
dropped, inline ``<think>`` included). ``scope="all"`` keeps every message's thinking (Qwen3.6's
``preserve_thinking``), ``"none"`` keeps none (models whose template drops it). Each transport then
puts the thinking where its server reads it. Tool results carry the tool's name, found from the
call they answer when the message itself does not say. Images in user messages become neutral
``images`` (see :mod:`graphs.models.images`); an image anywhere else is refused, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from graphs.errors import ConfigError
from graphs.models.images import is_image_block, neutral_image
from graphs.models.messages import reasoning_text
from graphs.models.qwen import history_content, split_think

Scope = Literal["current_turn", "all", "none"]


def _text(content: str | list[str | dict[str, Any]], role: str) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif is_image_block(block):
            raise ConfigError(f"images can only be sent in user messages, not in a {role} message")
    return "".join(parts)


def _user(message: HumanMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": "user", "content": ""}
    if isinstance(message.content, str):
        entry["content"] = message.content
        return entry
    texts: list[str] = []
    images: list[dict[str, str]] = []
    for block in message.content:
        if isinstance(block, str):
            texts.append(block)
        elif is_image_block(block):
            images.append(neutral_image(block))
        elif block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    entry["content"] = "".join(texts)
    if images:
        entry["images"] = images
    return entry


def _reasoning(message: AIMessage) -> str:
    """The message's own thinking: reasoning blocks / ``reasoning_content``, else inline ``<think>``."""
    found = reasoning_text(message)
    if found:
        return found
    if isinstance(message.content, str):
        return split_think(message.content)[0]
    texts = "".join(b.get("text", "") if isinstance(b, dict) else b for b in message.content)
    return split_think(str(texts))[0]


def current_turn_start(messages: Sequence[BaseMessage]) -> int:
    """Index just after the last user message (0 when there is none): where the current turn starts."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index + 1
    return 0


def to_neutral(messages: Sequence[BaseMessage], *, scope: Scope = "current_turn") -> list[dict[str, Any]]:
    """Convert messages; unsupported message types (and misplaced images) raise :class:`ConfigError`."""
    out: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}
    turn = current_turn_start(messages)
    for index, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": _text(message.content, "system")})
        elif isinstance(message, HumanMessage):
            out.append(_user(message))
        elif isinstance(message, AIMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": history_content(message.content)}
            keep = scope == "all" or (scope == "current_turn" and index >= turn)
            if keep and (thinking := _reasoning(message)):
                entry["reasoning_content"] = thinking
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"id": c.get("id") or "", "name": c["name"], "args": c["args"]}
                    for c in message.tool_calls
                ]
                tool_names.update({c.get("id") or "": c["name"] for c in message.tool_calls})
            out.append(entry)
        elif isinstance(message, ToolMessage):
            name = message.name or tool_names.get(message.tool_call_id, "")
            out.append(
                {
                    "role": "tool",
                    "content": _text(message.content, "tool"),
                    "tool_call_id": message.tool_call_id,
                    "name": name,
                }
            )
        else:
            raise ConfigError(f"unsupported message type {type(message).__name__} for a Qwen chat model")
    return out

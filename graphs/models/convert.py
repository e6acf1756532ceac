"""LangChain messages to the neutral wire form that every transport accepts.

History hygiene happens here: past assistant turns are sent as answer text only (Qwen3's guidance:
earlier thinking is not fed back), with their tool calls; tool results carry the tool's name, found
from the call they answer when the message itself does not say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from graphs.errors import ConfigError
from graphs.models.qwen import history_content


def _text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def to_neutral(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Convert messages; unsupported message types raise :class:`ConfigError`."""
    out: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": _text(message.content)})
        elif isinstance(message, HumanMessage):
            out.append({"role": "user", "content": _text(message.content)})
        elif isinstance(message, AIMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": history_content(message.content)}
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
                    "content": _text(message.content),
                    "tool_call_id": message.tool_call_id,
                    "name": name,
                }
            )
        else:
            raise ConfigError(f"unsupported message type {type(message).__name__} for a Qwen chat model")
    return out

"""Helpers of the serve tests: a model script whose answers name the prompt, SSE parsing."""

from __future__ import annotations

import json
from typing import Any

from servers.base import Turn, calculator_script, message_text

MODEL = "openai:Qwen/Qwen3-8B"
ALICE, BOB = "sk-alice-0123456789", "sk-bob-0123456789"


def last_user(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return message_text(users[-1].get("content")) if users else ""


def script(body: dict[str, Any]) -> Turn:
    """``calc:`` prompts run the calculator demo; others get ``answer to <prompt>``."""
    prompt = last_user(body)
    if prompt.startswith("calc:"):
        return calculator_script(body)
    return Turn(thinking=f"Thinking about {prompt}.", content=f"answer to {prompt}")


def sse_events(raw: str) -> list[Any]:
    """The ``data:`` payloads of a server-sent-events body (``[DONE]`` as a string)."""
    out: list[Any] = []
    for block in raw.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def joined(chunks: list[dict[str, Any]], field: str) -> str:
    """One delta field of a stream's chunks, concatenated."""
    return "".join(
        str(c["choices"][0]["delta"].get(field) or "")
        for c in chunks
        if isinstance(c, dict) and c.get("choices")
    )

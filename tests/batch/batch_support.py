"""Helpers of the batch tests: a script whose answers name the prompt they answer, task files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from servers import VLLMServer
from servers.base import Turn, calculator_script, message_text

MODEL = "openai:Qwen/Qwen3-8B"


def last_user(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return message_text(users[-1].get("content")) if users else ""


def answer_script(body: dict[str, Any]) -> Turn:
    """``calc:`` prompts run the calculator demo; others get ``answer to <prompt>``."""
    prompt = last_user(body)
    if prompt.startswith("calc:"):
        return calculator_script(body)
    return Turn(thinking=f"Thinking about {prompt}.", content=f"answer to {prompt}")


def prompts_asked(server: VLLMServer, start: int = 0) -> list[str]:
    """The prompt of every chat request from request number ``start`` on."""
    return [last_user(body) for body in server.chat_requests[start:]]


def write_tasks(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path

"""Fakes shared by tests: an in-process engine that answers from a script (no llama.cpp, no weights)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphs.models.transports.engine import Piece


class FakeEngine:
    """Answers each prompt with the next scripted completion, a few characters per piece."""

    def __init__(self, *completions: str) -> None:
        self.completions = list(completions)
        self.prompts: list[str] = []
        self.sampling: list[dict[str, Any]] = []

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        self.prompts.append(prompt)
        self.sampling.append(sampling)
        text = self.completions.pop(0)
        parts = [text[i : i + 3] for i in range(0, len(text), 3)] or [""]
        for part in parts[:-1]:
            yield Piece(text=part)
        yield Piece(
            text=parts[-1], finish_reason="stop", prompt_tokens=len(prompt), completion_tokens=len(parts)
        )

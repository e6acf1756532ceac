"""The in-process engine seam: raw text completion, streamed as :class:`Piece` objects.

The local transport renders Qwen's ChatML prompt itself and needs only this from an inference
engine; llama.cpp (:mod:`graphs.models.transports.llama`) is one implementation, cassettes record
and replay at this seam, and tests plug in fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

STOP = ["<|im_end|>", "<|endoftext|>"]
"""Qwen's end-of-turn tokens: every engine stops on these. Where a reply with tool calls ends is the
local transport's decision (several ``<tool_call>`` blocks may follow each other)."""
DEFAULT_MAX_TOKENS = 1024


@dataclass
class Piece:
    """A piece of completion text; the last one carries the finish reason and completion tokens.

    ``prompt_tokens`` is set on the first and the last piece (a stream cut short still knows it).
    """

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Engine(Protocol):
    """Raw text completion: what the local transport needs from an inference engine."""

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """Stream the completion of ``prompt`` with ``sampling`` settings."""
        ...

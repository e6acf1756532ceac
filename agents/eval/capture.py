"""A transport wrapper that keeps what one model call really returned, for the eval's records.

``ChatQwen`` turns deltas into a message; the eval also needs what the message no longer shows:
the raw answer text (text-form tool calls included), which calls the server itself parsed, and the
usage of every attempt (a no-answer retry makes two). One wrapper per case, around the shared
transport, so concurrent cases never mix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphs.models.transports.base import ChatRequest, Delta, Transport


@dataclass
class Attempt:
    """One transport call: its deltas as they came."""

    deltas: list[Delta] = field(default_factory=list)

    @property
    def closing(self) -> Delta:
        """The delta carrying finish reason, usage and the raw text (an empty one if none came)."""
        return next((d for d in reversed(self.deltas) if d.finish_reason is not None or d.usage), Delta())


class CapturingTransport:
    """Passes requests to ``inner`` and keeps every attempt's deltas."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.attempts: list[Attempt] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # can_think, family, engine...

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Yield the inner transport's deltas, keeping them."""
        attempt = Attempt()
        self.attempts.append(attempt)
        for delta in self.inner.chat(request):
            attempt.deltas.append(delta)
            yield delta

    async def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        attempt = Attempt()
        self.attempts.append(attempt)
        async for delta in self.inner.achat(request):
            attempt.deltas.append(delta)
            yield delta

    def close(self) -> None:
        """The inner transport is shared: nothing to close here."""

    @property
    def raw_text(self) -> str:
        """The raw answer text of every attempt (attempts separated by a blank line)."""
        return "\n\n".join(a.closing.raw_text for a in self.attempts if a.closing.raw_text)

    def server_calls(self) -> list[dict[str, Any]]:
        """The tool calls the server parsed itself (none when they were read from answer text)."""
        calls: list[dict[str, Any]] = []
        for attempt in self.attempts:
            if attempt.closing.calls_from_text:
                continue
            calls.extend({"name": c.name, "args": c.args} for d in attempt.deltas for c in d.tool_calls)
        return calls

    def usage(self) -> tuple[int, int, int | None]:
        """``(prompt tokens, completion tokens, thinking tokens or None)`` summed over attempts."""
        prompt = completion = 0
        thinking: int | None = None
        for attempt in self.attempts:
            usage = attempt.closing.usage
            if usage is None:
                continue
            prompt += usage.prompt_tokens
            completion += usage.completion_tokens
            if usage.thinking_tokens is not None:
                thinking = (thinking or 0) + usage.thinking_tokens
        return prompt, completion, thinking

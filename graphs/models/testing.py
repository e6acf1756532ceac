"""Fakes for users' own tests: a scripted transport that plays model turns without any server.

Example:
    >>> from graphs.models.testing import ScriptedTransport, turn
    >>> fake = ScriptedTransport([turn(tool=("calculator", {"expression": "2+2"})), turn(text="4")])
    >>> model = ChatQwen(model="ollama:fake", transport=fake)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphs.errors import GraphError
from graphs.models.qwen import BadToolCall, ToolCall, new_call_id
from graphs.models.transports.base import ChatRequest, Delta, Usage


@dataclass
class Turn:
    """One scripted model answer: thinking, text and tool calls, streamed in ``pieces`` parts."""

    thinking: str = ""
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    bad_tool_calls: list[BadToolCall] = field(default_factory=list)
    pieces: int = 1
    finish_reason: str = "stop"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=10, completion_tokens=5))


def turn(
    text: str = "",
    *,
    thinking: str = "",
    tool: tuple[str, dict[str, Any]] | None = None,
    tools: Sequence[tuple[str, dict[str, Any]]] = (),
    bad: str | None = None,
    pieces: int = 1,
    stop: str | None = None,
) -> Turn:
    """Build a :class:`Turn`; ``tool``/``tools`` are ``(name, args)`` pairs, ``bad`` a tool-call error,
    ``stop`` the stop string that ended the turn (as a transport reports it)."""
    calls = [ToolCall(name=n, args=a, id=new_call_id()) for n, a in ([tool] if tool else []) + list(tools)]
    bad_calls = [BadToolCall(raw="{", error=bad, name=None, id=new_call_id())] if bad else []
    return Turn(
        thinking=thinking,
        text=text,
        tool_calls=calls,
        bad_tool_calls=bad_calls,
        pieces=pieces,
        stop_sequence=stop,
    )


class ScriptedTransport:
    """A :class:`~graphs.models.transports.base.Transport` that answers from a script.

    ``script`` is a list of turns played in order, or a function from the request to a turn.
    Every request is kept in ``requests`` for assertions. Running past the script is an error.
    """

    def __init__(self, script: Sequence[Turn] | Callable[[ChatRequest], Turn]) -> None:
        self.script = script
        self.requests: list[ChatRequest] = []

    def _next(self, request: ChatRequest) -> Turn:
        self.requests.append(request)
        if callable(self.script):
            return self.script(request)
        index = len(self.requests) - 1
        if index >= len(self.script):
            raise GraphError(
                f"scripted model has {len(self.script)} turns; call {index + 1} is past the script"
            )
        return self.script[index]

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Play the next turn, split into pieces when streaming.

        A turn that ended at a stop string gets the string appended to its text when the request
        asks for it (``include_stop_str_in_output``), as the local transport and vLLM do.
        """
        played = self._next(request)
        text = played.text
        if played.stop_sequence and request.sampling.get("include_stop_str_in_output"):
            text += played.stop_sequence
        if not request.stream:
            yield Delta(
                thinking=played.thinking,
                text=text,
                tool_calls=list(played.tool_calls),
                bad_tool_calls=list(played.bad_tool_calls),
                finish_reason=played.finish_reason,
                usage=played.usage,
                stop_sequence=played.stop_sequence,
            )
            return
        for part in _split(played.thinking, played.pieces):
            yield Delta(thinking=part)
        for part in _split(text, played.pieces):
            yield Delta(text=part)
        yield Delta(
            tool_calls=list(played.tool_calls),
            bad_tool_calls=list(played.bad_tool_calls),
            finish_reason=played.finish_reason,
            usage=played.usage,
            stop_sequence=played.stop_sequence,
        )

    async def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        for delta in self.chat(request):
            yield delta

    def close(self) -> None:
        """Nothing to release."""


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]

"""One response assembler for every server: dialect pieces in, neutral deltas out.

Servers differ in *where* they put thinking and tool calls (dedicated fields, inline tags, parsed
or not); the assembler applies the same rules to all of them, streamed or not:

- dedicated thinking fields and inline ``<think>`` tags both become thinking;
- tool calls the server parsed win; text-form calls in the answer are used only when the server
  parsed none (and their text never shows as answer either way); a text-form call that does not fit
  the offered tools (unknown tool, missing required or unknown argument: see
  :func:`graphs.models.toolcalls.fit_to_tools`) becomes an unreadable call with a precise error;
- with thinking explicitly off, text that a misconfigured server puts in its reasoning field
  (vLLM's ``deepseek_r1`` parser does this) is held back and becomes the answer if no answer came;
  when an answer did come, it was real thinking from a model that ignores ``think=False`` (a
  thinking-only model: ollama/ollama#12438), and the closing delta is marked ``think_ignored``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from graphs.models.qwen import (
    BadToolCall,
    ContentStream,
    Piece,
    StreamedToolCalls,
    ToolCall,
    field_thinking,
    structured_tool_calls,
)
from graphs.models.toolcalls import fit_to_tools
from graphs.models.transports.base import Delta, Usage


class DeltaAssembler:
    """Collects one response's pieces and emits :class:`Delta` objects ready to show."""

    def __init__(
        self,
        *,
        think: bool | None,
        tool_names: Collection[str],
        expect_thinking: bool = False,
        keep_edges: bool = False,
        thinking_forced: bool = False,
        check_names: bool = True,
    ) -> None:
        """``keep_edges``: the answer continues a prefill, so its outer blanks are kept;
        ``thinking_forced``: the request was turned to thinking for a thinking-only model;
        ``check_names=False`` lets text-form calls to unknown tools through (a forced call, which
        the graph answers with the list of real tools).
        """
        self._think = think
        self._forced = thinking_forced
        self._thought = False
        self._tool_names = tool_names if isinstance(tool_names, Mapping) else list(tool_names)
        self._check_names = check_names
        self._content = ContentStream(
            expect_thinking=expect_thinking, detect_tool_calls=bool(tool_names), keep_edges=keep_edges
        )
        self._streamed_calls = StreamedToolCalls()
        self._held_thinking: list[str] = []
        self._calls: list[ToolCall] = []
        self._bad: list[BadToolCall] = []
        self._answered = False
        self._raw: list[str] = []

    def feed(
        self,
        *,
        thinking: str = "",
        content: str = "",
        tool_calls: Sequence[ToolCall] = (),
        bad_tool_calls: Sequence[BadToolCall] = (),
    ) -> Delta | None:
        """Add one chunk (or a whole message); return what can be shown now, if anything."""
        delta = Delta(tool_calls=list(tool_calls), bad_tool_calls=list(bad_tool_calls))
        self._calls.extend(tool_calls)
        self._bad.extend(bad_tool_calls)
        if thinking:
            if self._think is False:
                self._held_thinking.append(thinking)
            else:
                delta.thinking += thinking
        if content:
            self._raw.append(content)
            self._apply(delta, self._content.feed(content))
        return delta if _has_output(delta) else None

    def feed_message(self, message: Mapping[str, Any]) -> Delta | None:
        """Add a whole message dict (or an Ollama stream chunk's ``message``) in any dialect."""
        calls, bad = structured_tool_calls(message.get("tool_calls"))
        return self.feed(
            thinking=field_thinking(message),
            content=message.get("content") or "",
            tool_calls=calls,
            bad_tool_calls=bad,
        )

    def feed_tool_deltas(self, deltas: Sequence[Mapping[str, Any]] | None) -> None:
        """Add OpenAI-style streamed tool-call fragments (joined by index at the end)."""
        self._streamed_calls.feed(deltas)

    def finish(self, finish_reason: str | None = None, usage: Usage | None = None) -> Delta:
        """Flush held text, settle tool calls, and return the closing delta."""
        delta = Delta(finish_reason=finish_reason, usage=usage, raw_text="".join(self._raw))
        pieces, text_calls = self._content.finish(self._tool_names)
        self._apply(delta, pieces)
        streamed, streamed_bad = self._streamed_calls.finish()
        delta.tool_calls.extend(streamed)
        delta.bad_tool_calls.extend(streamed_bad)
        self._calls.extend(streamed)
        self._bad.extend(streamed_bad)
        if not self._calls and not self._bad:
            calls, misfits = fit_to_tools(text_calls.calls, self._tool_names, check_names=self._check_names)
            delta.tool_calls.extend(calls)
            delta.bad_tool_calls.extend([*text_calls.bad, *misfits])
            delta.calls_from_text = bool(text_calls.calls or text_calls.bad)
        held = "".join(self._held_thinking)
        if held:
            if self._answered or delta.tool_calls or self._calls:
                delta.thinking = held + delta.thinking
            else:
                delta.text = held.strip() + delta.text
        thought = self._thought or bool(delta.thinking.strip())
        delta.think_ignored = self._forced or (self._think is False and thought)
        return delta

    def _apply(self, delta: Delta, pieces: list[Piece]) -> None:
        for piece in pieces:
            if piece.kind == "thinking":
                delta.thinking += piece.text
                self._thought = self._thought or bool(piece.text.strip())
            else:
                delta.text += piece.text
                if piece.text.strip():
                    self._answered = True


def tool_schemas(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Tool name to its ``parameters`` schema, from OpenAI function schemas.

    Used wherever tool names are: it is a collection of the names, and XML tool calls
    (``<parameter=…>`` values are text) are typed by it.
    """
    return {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}


def _has_output(delta: Delta) -> bool:
    return bool(delta.thinking or delta.text or delta.tool_calls or delta.bad_tool_calls)

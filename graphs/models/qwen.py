"""Qwen dialects: pure functions that turn any server's Qwen output into one shape.

Everything Qwen-specific and server-specific about *reading* output lives here or in
:mod:`graphs.models.toolcalls` (re-exported here), so it can be tested without a server: thinking in
every dialect, tool calls in every dialect (structured and as text), JSON repair, the streaming
splitter, and the request-side controls (thinking switch, sampling defaults, history hygiene).

Thinking rules, shared by :func:`split_think` and :class:`ContentStream`: a ``<think>`` that opens
the content (after blanks) starts thinking, closed by the first ``</think>`` or by the end (a length
stop while thinking). A ``</think>`` without an opener means the chat template pre-inserted
``<think>``, so the text before it was thinking. Any other tag is plain text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graphs.models.toolcalls import (
    CALL_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    BadToolCall,
    StreamedToolCalls,
    TextToolCalls,
    ToolCall,
    new_call_id,
    parse_arguments,
    parse_text_tool_calls,
    repair_json,
    scan_calls,
    structured_tool_calls,
)
from graphs.models.xmlcalls import FUNCTION_OPEN

__all__ = [
    "BadToolCall",
    "ContentStream",
    "Piece",
    "StreamedToolCalls",
    "TextToolCalls",
    "ThinkControl",
    "ToolCall",
    "field_thinking",
    "history_content",
    "new_call_id",
    "parse_arguments",
    "parse_text_tool_calls",
    "repair_json",
    "sampling_defaults",
    "soft_switch",
    "split_think",
    "structured_tool_calls",
]

ThinkControl = Literal["ollama", "template_kwargs", "soft_switch"]

_OPEN, _CLOSE = THINK_OPEN, THINK_CLOSE
_CALL_OPEN = CALL_OPEN
_STREAM_TRIGGERS = (_CALL_OPEN, FUNCTION_OPEN, "\n```json", "\n{", "\n[")  # "\n{", "\n[": preamble, bare JSON


@dataclass(frozen=True)
class Piece:
    """A piece of streamed output: thinking or answer text."""

    kind: Literal["thinking", "text"]
    text: str


def split_think(content: str, *, expect_thinking: bool = False) -> tuple[str, str]:
    """Split raw content into ``(thinking, answer)``; both stripped of surrounding whitespace.

    ``<think>x</think>y`` gives ``("x", "y")``, ``x</think>y`` (opener pre-inserted by the template)
    too, ``<think>x`` (stopped while thinking) gives ``("x", "")`` and tag-less text is all answer.

    Args:
        content: the complete ``content`` of a response.
        expect_thinking: whether the request ran in thinking mode. Complete text leaves no layout
            undecided under the rules in the module docstring, so both values give the same split;
            the flag is accepted so one policy can be handed to this function and to
            :class:`ContentStream`, where it decides whether tag-less text waits for a ``</think>``.
    """
    del expect_thinking  # same split either way for complete text; see above
    body = content.lstrip()
    if body.startswith(_OPEN):
        thinking, _, answer = body[len(_OPEN) :].partition(_CLOSE)
        return thinking.strip(), answer.strip()
    thinking, closed, answer = content.partition(_CLOSE)
    return (thinking.strip(), answer.strip()) if closed else ("", content.strip())


def field_thinking(message: Mapping[str, Any]) -> str:
    """The thinking text from a message/delta dict's dedicated field, or ``""``.

    Reads Ollama's ``thinking``, else ``reasoning`` (Ollama ``/v1``, vLLM 0.11+), else
    ``reasoning_content`` (older vLLM). vLLM around 0.11 sends the same text in both of the last two,
    so exactly one field is read. The text is not stripped: in stream deltas blanks are content.
    """
    for key in ("thinking", "reasoning", "reasoning_content"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class ContentStream:
    """Incremental splitter for streamed ``content``: think tags and text-form tool calls.

    Tags split across chunks are held until they are complete. Each section (thinking, answer) is
    trimmed at its edges as :func:`split_think` trims: leading blanks are dropped and trailing
    blanks are held until more text follows, so the joined pieces equal the non-streamed split.

    With ``expect_thinking`` (the template may pre-insert ``<think>``), text that does not open
    with ``<think>`` is held until ``</think>`` (it was thinking) or the end (it was the answer).
    Without it, text is shown at once, and a ``</think>`` without an opener still turns the text
    before it into thinking only while nothing of the answer has been shown; later it is plain text.

    With ``detect_tool_calls``, from a ``<tool_call>``, a ``<function=`` (the XML form written
    bare) or a line-opening ```json fence anywhere in
    the answer, or from an answer that opens with ``{``, ``[`` or a fence, everything is held until
    :meth:`finish`, which reads the calls and shows the rest as text (a ``<tool_call>`` quoted in
    backticks does not trigger this). Thinking is never searched.

    With ``keep_edges`` the answer is not trimmed: a reply that continues a prefilled answer joins
    onto it, so its outer blanks are content.
    """

    def __init__(
        self, *, expect_thinking: bool = False, detect_tool_calls: bool = True, keep_edges: bool = False
    ) -> None:
        self._expect = expect_thinking
        self._detect = detect_tool_calls
        self._keep = keep_edges
        self._mode: Literal["start", "thinking", "pending", "answer", "hold"] = "start"
        self._buf = ""  # received text not yet shown or decided
        self._parked: list[str] = []  # chunks received while holding, joined only when needed
        self._tail = ""  # the last few characters received, to find a tag split across chunks
        self._prev = ""  # the answer character shown just before the buffer
        self._thought = False  # a think section was opened or closed: a later </think> is text
        self._started = {"thinking": False, "text": False}
        self._blank: dict[str, list[str]] = {"thinking": [], "text": []}  # trailing blanks held back
        self._answer: list[str] = []
        self._out: list[Piece] = []

    def feed(self, text: str) -> list[Piece]:
        """Add a chunk of ``content``; return the pieces that are ready to show."""
        window = self._tail + text
        self._tail = window[-len(_CLOSE) :]
        if self._mode in ("pending", "hold"):
            watching = self._mode == "pending" or self._lone_close_possible()
            if not watching or _CLOSE not in window:
                self._parked.append(text)  # nothing can change until a </think> or the end
                return []
        self._buf += "".join(self._parked) + text
        self._parked = []
        self._advance(final=False)
        out, self._out = self._out, []
        return out

    def finish(self, tool_names: Collection[str] | None = None) -> tuple[list[Piece], TextToolCalls]:
        """Flush everything held back and read the text-form tool calls in it.

        Returns the last pieces, and the calls with ``text`` set to the whole answer shown over the
        stream (all text pieces joined, calls removed).
        """
        self._buf += "".join(self._parked)
        self._parked = []
        self._advance(final=True)
        calls: list[ToolCall] = []
        bad: list[BadToolCall] = []
        if self._mode == "hold":
            calls, bad, rest = scan_calls(self._buf, tool_names, skip_think=False)
            self._emit("text", rest)
        self._buf = ""
        out, self._out = self._out, []
        return out, TextToolCalls(calls, bad, "".join(self._answer))

    def _advance(self, *, final: bool) -> None:
        """Move the buffer through the states as far as the text seen so far allows."""
        while True:
            if self._mode == "start":
                head = self._buf.lstrip()
                if not self._keep:
                    self._buf = head  # leading blanks are dropped anyway
                if head.startswith(_OPEN):
                    self._buf, self._mode, self._thought = head[len(_OPEN) :], "thinking", True
                elif final or not _OPEN.startswith(head):
                    self._mode = "pending" if self._expect else "answer"
                else:
                    return
            elif self._mode in ("thinking", "pending") or self._lone_close_possible():
                buf = self._buf
                close = buf.find(_CLOSE)
                if close >= 0:
                    self._emit("thinking", buf[:close])  # its trailing blanks stay held: dropped
                    self._buf, self._mode, self._thought = buf[close + len(_CLOSE) :], "answer", True
                elif self._mode == "thinking":
                    keep = 0 if final else _partial(buf, (_CLOSE,))
                    self._emit("thinking", buf[: len(buf) - keep])
                    self._buf = buf[len(buf) - keep :]
                    return
                elif self._mode == "pending" and final:
                    self._mode = "answer"
                elif self._mode in ("pending", "hold") or not self._show_answer(final, (_CLOSE,)):
                    return
            elif self._mode == "hold" or not self._show_answer(final, ()):
                return

    def _lone_close_possible(self) -> bool:
        return not self._thought and not self._started["text"]

    def _show_answer(self, final: bool, also_hold: tuple[str, ...]) -> bool:
        """Show answer text up to a tool-call trigger; True when the mode changed to ``hold``."""
        if not self._started["text"] and not self._keep:
            self._buf = self._buf.lstrip()  # leading blanks are dropped anyway
        buf = self._buf
        if self._detect:
            if not self._started["text"] and buf.startswith(("{", "[", "```")):
                self._mode = "hold"
                return True
            if not self._started["text"] and not final and "```".startswith(buf):
                return False
            hits = [i for i in (_find_trigger(buf, t, self._prev) for t in _STREAM_TRIGGERS) if i >= 0]
            if hits:
                self._emit("text", buf[: min(hits)])
                self._buf, self._mode = buf[min(hits) :], "hold"
                return True
        markers = (_STREAM_TRIGGERS if self._detect else ()) + also_hold
        keep = 0 if final else _partial(buf, markers)
        self._emit("text", buf[: len(buf) - keep])
        self._prev = buf[len(buf) - keep - 1 : len(buf) - keep] or self._prev
        self._buf = buf[len(buf) - keep :]
        return False

    def _emit(self, kind: Literal["thinking", "text"], text: str) -> None:
        """Queue ``text`` as a piece, trimming the section's edges and merging with a same-kind piece."""
        if kind == "text" and self._keep:
            self._started[kind] = self._started[kind] or bool(text)
            self._add(kind, text)
            return
        if not self._started[kind]:
            text = text.lstrip()
        body = text.rstrip()
        if not body:
            if text:
                self._blank[kind].append(text)
            return
        body = "".join(self._blank[kind]) + body
        self._blank[kind] = [text[len(text.rstrip()) :]]
        self._started[kind] = True
        self._add(kind, body)

    def _add(self, kind: Literal["thinking", "text"], body: str) -> None:
        if not body:
            return
        if kind == "text":
            self._answer.append(body)
        if self._out and self._out[-1].kind == kind:
            self._out[-1] = Piece(kind, self._out[-1].text + body)
        else:
            self._out.append(Piece(kind, body))


def _find_trigger(text: str, marker: str, before: str) -> int:
    """Index of ``marker`` in ``text``, skipping a ``<tool_call>`` quoted as inline code."""
    at = text.find(marker)
    while at >= 0 and marker in (_CALL_OPEN, FUNCTION_OPEN) and (text[at - 1] if at else before) == "`":
        at = text.find(marker, at + 1)
    return at


def _partial(text: str, markers: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that could be the start of one of ``markers``."""
    longest = min(len(text), max((len(m) for m in markers), default=1) - 1)
    for size in range(longest, 0, -1):
        tail = text[-size:]
        if any(m.startswith(tail) for m in markers):
            return size
    return 0


def sampling_defaults(think: bool) -> dict[str, float | int]:
    """Qwen3 model-card sampling for the mode.

    Thinking: temperature 0.6, top_p 0.95, top_k 20; non-thinking: 0.7, 0.8, 20. The card's
    ``min_p=0`` is left out: it is every server's default, and strict OpenAI-style APIs reject it.
    """
    if think:
        return {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    return {"temperature": 0.7, "top_p": 0.8, "top_k": 20}


def soft_switch(text: str, think: bool) -> str:
    """Append Qwen3's ``/think`` or ``/no_think`` soft switch to a user message's text.

    A text already ending with the wanted switch is returned unchanged; a trailing opposite switch is
    replaced. Trailing blanks are dropped and the switch is separated by one space.
    """
    wanted = "/think" if think else "/no_think"
    body = text.rstrip()
    for switch in ("/think", "/no_think"):
        before = body[: len(body) - len(switch)]
        if body.endswith(switch) and (not before or before[-1].isspace()):
            if switch == wanted:
                return text
            body = before.rstrip()
            break
    return f"{body} {wanted}" if body else wanted


def history_content(content: str | list[str | dict[str, Any]]) -> str:
    """The text of a past assistant turn as it should be sent back: answer text only.

    Qwen3's guidance is to drop past thinking: reasoning/thinking blocks are skipped, and inline
    ``<think>…</think>`` is removed from the text. Blocks of other types (images, tool use) carry
    no answer text and are skipped too.
    """
    if isinstance(content, str):
        text = content
    else:
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
        text = "".join(parts)
    return split_think(text)[1]

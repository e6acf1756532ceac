"""Qwen dialects: pure functions that turn any server's Qwen output into one shape.

Everything Qwen-specific and server-specific about *reading* output lives here, so it can be tested
without a server: thinking in every dialect, tool calls in every dialect (structured and as text),
JSON repair, and the request-side controls (thinking switch, sampling defaults, history hygiene).

Thinking rules, shared by :func:`split_think` and :class:`ContentStream`: a ``<think>`` that opens
the content (after blanks) starts thinking, closed by the first ``</think>`` or by the end (a length
stop while thinking). A ``</think>`` without an opener means the chat template pre-inserted
``<think>``, so the text before it was thinking. Any other tag is plain text.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from graphs.models.jsonrepair import JSONRepairError, parse_prefix
from graphs.models.jsonrepair import repair_json as _repair_json

ThinkControl = Literal["ollama", "template_kwargs", "soft_switch"]

_OPEN, _CLOSE = "<think>", "</think>"
_CALL_OPEN = "<tool_call>"
_STREAM_TRIGGERS = (_CALL_OPEN, "\n```json")
_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_FENCED = re.compile(r"```[ \t]*([\w+.-]*)[^\n`]*\n(.*?)(?:```|\Z)", re.S)
_TOKEN = re.compile(r"<think>|</think>|<tool_call>|```|^[ \t]*\{", re.M)
_XML_FUNCTION = re.compile(r"<function=([^>\n]*)>(.*?)(?:</function>|\Z)", re.S)
_XML_PARAMETER = re.compile(r"<parameter=([^>\n]*)>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.S)
_CALL_LIKE = re.compile(
    r"""\s*\{\s*["']name["']\s*:\s*["']([^"'\n]+)["']\s*,\s*["'](?:arguments|parameters)["']"""
)


@dataclass(frozen=True)
class ToolCall:
    """A tool call read from model output. ``id`` is the server's id or a generated ``call_<hex>``."""

    name: str
    args: dict[str, Any]
    id: str


@dataclass(frozen=True)
class BadToolCall:
    """A tool call we could not read. ``error`` is a precise message written for the model."""

    raw: str
    error: str
    name: str | None = None
    id: str | None = None


@dataclass
class TextToolCalls:
    """Tool calls found in answer text, and the answer text with the calls removed."""

    calls: list[ToolCall] = field(default_factory=list)
    bad: list[BadToolCall] = field(default_factory=list)
    text: str = ""


@dataclass(frozen=True)
class Piece:
    """A piece of streamed output: thinking or answer text."""

    kind: Literal["thinking", "text"]
    text: str


def new_call_id() -> str:
    """A fresh ``call_<24 hex>`` id for tool calls whose server gave none."""
    return "call_" + secrets.token_hex(12)


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


def repair_json(raw: str) -> Any:
    """Parse JSON, repairing it only where the repair is unambiguous. Raises ``ValueError``.

    See :func:`graphs.models.jsonrepair.repair_json` for what is repaired; the error message says
    what is wrong and where (``expected ',' or '}' after value at line 1 column 27``).
    """
    return _repair_json(raw)


def parse_arguments(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments as a dict, from an object (Ollama) or a JSON string (OpenAI).

    ``None`` and blank strings mean no arguments. A JSON string that itself holds an object
    (double-encoded arguments) is decoded once more. Raises ``ValueError`` for anything else.
    """
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return copy.deepcopy(dict(raw))
    value = raw
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        value = repair_json(raw)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            value = repair_json(value)
    if not isinstance(value, dict):
        raise ValueError(f'tool arguments must be a JSON object like {{"key": value}}, got {_kind(value)}')
    return value


def _kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def parse_text_tool_calls(text: str, tool_names: Collection[str] | None = None) -> TextToolCalls:
    """Find tool calls written as text in an answer (never pass thinking here).

    Recognised, left to right: ``<tool_call>`` blocks holding JSON (repaired where unambiguous) or
    Qwen3-Coder's ``<function=…><parameter=…>`` XML, where the last block may lack ``</tool_call>``;
    a ```json (or unlabelled) fenced block holding a call object, a list of them, or ``<tool_call>``
    blocks; a bare call object opening a line. Fenced and bare objects count only with a string
    ``name`` and an ``arguments`` or ``parameters`` key (and a name from ``tool_names`` when given),
    else they are answer text; a broken one that starts like such a call becomes a BadToolCall.
    Inside tags any name counts, so the graph can tell the model which tools exist. Identical calls
    are kept once. A ``<tool_call>`` quoted as inline code (after a backtick) is prose about the
    format, and think regions left in ``text`` are skipped. Linear in the text size.
    """
    calls, bad, rest = _scan(text, tool_names, skip_think=True)
    return TextToolCalls(calls, bad, rest.strip())


def _scan(
    text: str, tool_names: Collection[str] | None, *, skip_think: bool
) -> tuple[list[ToolCall], list[BadToolCall], str]:
    """:func:`parse_text_tool_calls` without the final strip (a stream joins the rest to what it showed)."""
    found: list[tuple[int, int, list[ToolCall | BadToolCall]]] = []
    pos, close, opener = 0, text.find(_CLOSE), text.find(_OPEN)
    if skip_think and close >= 0 and (opener < 0 or close < opener):
        pos = close + len(_CLOSE)  # a lone </think>: everything before it was thinking
    while match := _TOKEN.search(text, pos):
        mark, start = match.group().lstrip(" \t"), match.start()
        if mark == _OPEN and skip_think:
            close = text.find(_CLOSE, match.end())
            pos = len(text) if close < 0 else close + len(_CLOSE)
        elif mark in (_OPEN, _CLOSE):
            pos = match.end()
        elif mark == _CALL_OPEN and text[start - 1 : start] == "`":
            pos = match.end()  # `<tool_call>` quoted as inline code is prose about the format
        elif mark == _CALL_OPEN and (tagged := _TAGGED.match(text, start)):
            found.append((start, tagged.end(), [_tagged_call(tagged.group(1).strip())]))
            pos = tagged.end()
        elif mark == "```":
            fence = _FENCED.match(text, start)
            pos = fence.end() if fence else match.end()
            if fence and fence.group(1).lower() in ("", "json") and (results := _fenced(fence, tool_names)):
                found.append((start, pos, results))
        else:  # a line opening with "{"
            start = match.end() - 1
            try:
                value, pos = parse_prefix(text, start)
            except JSONRepairError as exc:
                pos = max(exc.pos, match.end())
                if _CALL_LIKE.match(text, start):
                    after = _TOKEN.search(text, pos)
                    end = after.start() if after else len(text)
                    if broken := _call_like(text[start:end], str(exc), tool_names):
                        found.append((start, end, [broken]))
                        pos = end
                continue
            if results := _call_results(value, text[start:pos], tool_names):
                found.append((start, pos, results))
    calls: list[ToolCall] = []
    bad: list[BadToolCall] = []
    seen: set[str] = set()
    rest, pos = [], 0
    for start, end, results in found:
        rest.append(text[pos:start])
        pos = end
        for result in results:
            key = json.dumps(
                [result.name, result.args] if isinstance(result, ToolCall) else [result.raw],
                sort_keys=True,
                default=str,
            )
            if key not in seen:
                seen.add(key)
                (calls if isinstance(result, ToolCall) else bad).append(result)  # type: ignore[arg-type]
    rest.append(text[pos:])
    return calls, bad, "".join(rest)


def _tagged_call(body: str) -> ToolCall | BadToolCall:
    """Read the inside of one ``<tool_call>`` block: JSON (repaired if unambiguous) or XML."""
    if body.startswith("<function="):
        return _xml_call(body)
    if not body:
        return BadToolCall(raw=body, error='empty <tool_call> block: write {"name": ..., "arguments": {...}}')
    try:
        value = repair_json(body)
    except ValueError as exc:
        name = m.group(1) if (m := _CALL_LIKE.match(body)) else None
        return BadToolCall(raw=body, error=f"invalid JSON in <tool_call>: {exc}", name=name)
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("function"), dict):
        value = value["function"]  # an OpenAI-shaped call written as text
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        return BadToolCall(raw=body, error='a <tool_call> must hold {"name": "<tool>", "arguments": {...}}')
    return _call_results(value, body, None, tagged=True)[0]


def _xml_call(body: str) -> ToolCall | BadToolCall:
    """Read Qwen3-Coder's ``<function=NAME><parameter=KEY>VALUE</parameter></function>`` form."""
    match = _XML_FUNCTION.match(body)
    name = match.group(1).strip() if match else ""
    if match is None or not name:
        return BadToolCall(raw=body, error="expected <function=NAME> inside <tool_call>")
    args: dict[str, Any] = {}
    for param in _XML_PARAMETER.finditer(match.group(2)):
        value = param.group(2).removeprefix("\n").removesuffix("\n")
        try:
            args[param.group(1).strip()] = json.loads(value)
        except ValueError:
            args[param.group(1).strip()] = value
    return ToolCall(name, args, new_call_id())


def _fenced(fence: re.Match[str], tool_names: Collection[str] | None) -> list[ToolCall | BadToolCall]:
    """Calls held by a ```json block, or ``[]`` when the block is ordinary content."""
    body = fence.group(2).strip()
    if body.startswith(_CALL_OPEN):
        return [_tagged_call(m.group(1).strip()) for m in _TAGGED.finditer(body)]
    try:
        value = repair_json(body)
    except ValueError as exc:
        bad = _call_like(body, str(exc), tool_names)
        return [bad] if bad else []
    return _call_results(value, body, tool_names)


def _call_like(raw: str, error: str, tool_names: Collection[str] | None) -> BadToolCall | None:
    """A broken untagged object that opens like a call (to a known tool), as a BadToolCall."""
    match = _CALL_LIKE.match(raw)
    if match is None or (tool_names is not None and match.group(1) not in tool_names):
        return None
    return BadToolCall(raw=raw.strip(), error=f"invalid JSON in tool call: {error}", name=match.group(1))


def _call_results(
    value: Any, raw: str, tool_names: Collection[str] | None, *, tagged: bool = False
) -> list[ToolCall | BadToolCall]:
    """Calls from a parsed object or list of objects; ``[]`` unless every item is call-shaped."""
    items = value if isinstance(value, list) and not tagged else [value]
    results: list[ToolCall | BadToolCall] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(name := item.get("name"), str):
            return []
        key = "arguments" if "arguments" in item else "parameters" if "parameters" in item else None
        if not tagged and (key is None or (tool_names is not None and name not in tool_names)):
            return []
        try:
            results.append(ToolCall(name, parse_arguments(item.get(key) if key else None), new_call_id()))
        except ValueError as exc:
            error = f"invalid arguments for tool {name!r}: {exc}"
            results.append(BadToolCall(raw=raw, error=error, name=name))
    return results


def structured_tool_calls(
    raw_calls: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[ToolCall], list[BadToolCall]]:
    """Read a complete ``tool_calls`` list from Ollama native or OpenAI-compatible output.

    Ollama native gives ``arguments`` as an object (``index`` inside ``function``, no ``type``);
    OpenAI-compatible servers give a JSON string. A missing id gets :func:`new_call_id`. Calls are
    kept as the server sent them (no dedupe: the server parsed them, repeats may be intended).
    """
    calls: list[ToolCall] = []
    bad: list[BadToolCall] = []
    for raw in raw_calls or ():
        result = _structured_call(raw)
        (calls if isinstance(result, ToolCall) else bad).append(result)  # type: ignore[arg-type]
    return calls, bad


def _structured_call(raw: Mapping[str, Any]) -> ToolCall | BadToolCall:
    function = raw.get("function")
    fn: Mapping[str, Any] = function if isinstance(function, Mapping) else raw
    raw_id = raw.get("id")
    call_id = raw_id if isinstance(raw_id, str) and raw_id else new_call_id()
    name, args = fn.get("name"), fn.get("arguments")
    raw_text = args if isinstance(args, str) else json.dumps(args, default=str)
    if not isinstance(name, str) or not name:
        return BadToolCall(raw=raw_text, error="tool call without a function name", id=call_id)
    try:
        return ToolCall(name, parse_arguments(args), call_id)
    except ValueError as exc:
        return BadToolCall(
            raw=raw_text, error=f"invalid arguments for tool {name!r}: {exc}", name=name, id=call_id
        )


@dataclass
class _PartialCall:
    index: int | None
    id: str | None = None
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    whole: Mapping[str, Any] | None = None


class StreamedToolCalls:
    """Joins OpenAI-style streamed tool-call deltas by ``index``.

    vLLM and llama.cpp send ``id``/``name`` first and then argument fragments under the same
    ``index``; Ollama ``/v1`` sends each call whole. A delta whose ``id`` differs from the one
    already held at its index starts a new call (a server numbering every whole call 0 stays
    readable); a delta without ``index`` joins the call with its ``id`` or starts a new one.
    """

    def __init__(self) -> None:
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}

    def feed(self, deltas: Sequence[Mapping[str, Any]] | None) -> None:
        """Add one chunk's ``tool_calls`` deltas."""
        for delta in deltas or ():
            function = delta.get("function")
            fn: Mapping[str, Any] = function if isinstance(function, Mapping) else {}
            index = delta.get("index", fn.get("index"))
            index = index if isinstance(index, int) else None
            call_id = delta.get("id") if isinstance(delta.get("id"), str) and delta.get("id") else None
            call = self._by_index.get(index) if index is not None else None
            if call is not None and call_id and call.id and call_id != call.id:
                call = None
            if call is None and index is None and call_id:
                call = next((c for c in self._calls if c.id == call_id), None)
            if call is None:
                call = _PartialCall(index)
                self._calls.append(call)
                if index is not None:
                    self._by_index[index] = call
            call.id = call.id or call_id
            if isinstance(name := fn.get("name"), str) and not call.name:
                call.name = name
            arguments = fn.get("arguments")
            if isinstance(arguments, str):
                call.fragments.append(arguments)
            elif isinstance(arguments, Mapping):
                call.whole = arguments

    def finish(self) -> tuple[list[ToolCall], list[BadToolCall]]:
        """Parse the joined calls (arguments repaired where unambiguous), in ``index`` order."""
        ordered = sorted(self._calls, key=lambda c: (c.index is None, c.index or 0))
        for call in ordered:
            call.id = call.id or new_call_id()  # stable if finish() is called again
        return structured_tool_calls(
            [
                {"id": c.id, "function": {"name": c.name, "arguments": c.whole or "".join(c.fragments)}}
                for c in ordered
            ]
        )


class ContentStream:
    """Incremental splitter for streamed ``content``: think tags and text-form tool calls.

    Tags split across chunks are held until they are complete. Each section (thinking, answer) is
    trimmed at its edges as :func:`split_think` trims: leading blanks are dropped and trailing
    blanks are held until more text follows, so the joined pieces equal the non-streamed split.

    With ``expect_thinking`` (the template may pre-insert ``<think>``), text that does not open
    with ``<think>`` is held until ``</think>`` (it was thinking) or the end (it was the answer).
    Without it, text is shown at once, and a ``</think>`` without an opener still turns the text
    before it into thinking only while nothing of the answer has been shown; later it is plain text.

    With ``detect_tool_calls``, from a ``<tool_call>`` or a line-opening ```json fence anywhere in
    the answer, or from an answer that opens with ``{`` or a fence, everything is held until
    :meth:`finish`, which reads the calls and shows the rest as text (a ``<tool_call>`` quoted in
    backticks does not trigger this). Thinking is never searched.
    """

    def __init__(self, *, expect_thinking: bool = False, detect_tool_calls: bool = True) -> None:
        self._expect = expect_thinking
        self._detect = detect_tool_calls
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
            calls, bad, rest = _scan(self._buf, tool_names, skip_think=False)
            self._emit("text", rest)
        self._buf = ""
        out, self._out = self._out, []
        return out, TextToolCalls(calls, bad, "".join(self._answer))

    def _advance(self, *, final: bool) -> None:
        """Move the buffer through the states as far as the text seen so far allows."""
        while True:
            if self._mode == "start":
                self._buf = head = self._buf.lstrip()  # leading blanks are dropped anyway
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
        if not self._started["text"]:
            self._buf = self._buf.lstrip()  # leading blanks are dropped anyway
        buf = self._buf
        if self._detect:
            if not self._started["text"] and buf.startswith(("{", "```")):
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
        if kind == "text":
            self._answer.append(body)
        if self._out and self._out[-1].kind == kind:
            self._out[-1] = Piece(kind, self._out[-1].text + body)
        else:
            self._out.append(Piece(kind, body))


def _find_trigger(text: str, marker: str, before: str) -> int:
    """Index of ``marker`` in ``text``, skipping a ``<tool_call>`` quoted as inline code."""
    at = text.find(marker)
    while at >= 0 and marker == _CALL_OPEN and (text[at - 1] if at else before) == "`":
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

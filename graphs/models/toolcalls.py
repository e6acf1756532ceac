"""Tool calls in every Qwen dialect: structured, streamed in fragments, or written as text.

Structured calls come from servers that parsed them (arguments as an object on Ollama native, as a
JSON string on OpenAI-compatible servers, or as fragments joined by ``index`` when streamed). When
a server did not parse them, calls are read from the answer text: ``<tool_call>{json}</tool_call>``,
bare ``{"name": ..., "arguments": ...}`` objects that start a line, ```json blocks, and Qwen3-Coder's
XML form. Think regions are never searched. JSON damage is repaired only where unambiguous; every
other failure becomes a :class:`BadToolCall` whose ``error`` is written for the model.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphs.models.jsonrepair import JSONRepairError, parse_prefix
from graphs.models.jsonrepair import repair_json as _repair_json
from graphs.models.xmlcalls import FUNCTION_OPEN, match_function, typed_arguments

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN = "<tool_call>"
_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_FENCED = re.compile(r"```[ \t]*([\w+.-]*)[^\n`]*\n(.*?)(?:```|\Z)", re.S)
_TOKEN = re.compile(r"<think>|</think>|<tool_call>|<function=|```|^[ \t]*[{\[]", re.M)
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


def new_call_id() -> str:
    """A fresh ``call_<24 hex>`` id for tool calls whose server gave none."""
    return "call_" + secrets.token_hex(12)


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
    blocks; a bare call object, or a bare list of them, opening a line. Fenced and bare objects
    count only with a string ``name`` and an ``arguments`` or ``parameters`` key (and a name from
    ``tool_names`` when given, unless the object is exactly ``{"name": <identifier>, "arguments":
    ...}``, a clear call attempt), else they are answer text; a broken one that starts like such a
    call becomes a BadToolCall. Inside tags any name counts, so the graph can tell the model which
    tools exist. Identical calls are kept once. A ``<tool_call>`` quoted as inline code (after a
    backtick) is prose about the format, and think regions left in ``text`` are skipped. Linear in
    the text size.
    """
    calls, bad, rest = scan_calls(text, tool_names, skip_think=True)
    return TextToolCalls(calls, bad, rest.strip())


def scan_calls(
    text: str, tool_names: Collection[str] | None, *, skip_think: bool
) -> tuple[list[ToolCall], list[BadToolCall], str]:
    """:func:`parse_text_tool_calls` without the final strip; ``skip_think=False`` when the caller
    (the streaming splitter) already removed thinking, so a lone ``</think>`` stays answer text.
    """
    found: list[tuple[int, int, list[ToolCall | BadToolCall]]] = []
    pos, close, opener = 0, text.find(THINK_CLOSE), text.find(THINK_OPEN)
    if skip_think and close >= 0 and (opener < 0 or close < opener):
        pos = close + len(THINK_CLOSE)  # a lone </think>: everything before it was thinking
    while match := _TOKEN.search(text, pos):
        mark, start = match.group().lstrip(" \t"), match.start()
        if mark == THINK_OPEN and skip_think:
            close = text.find(THINK_CLOSE, match.end())
            pos = len(text) if close < 0 else close + len(THINK_CLOSE)
        elif mark in (THINK_OPEN, THINK_CLOSE):
            pos = match.end()
        elif mark == CALL_OPEN and text[start - 1 : start] == "`":
            pos = match.end()  # `<tool_call>` quoted as inline code is prose about the format
        elif mark == CALL_OPEN and (tagged := _TAGGED.match(text, start)):
            found.append((start, tagged.end(), [_tagged_call(tagged.group(1).strip(), tool_names)]))
            pos = tagged.end()
        elif mark == FUNCTION_OPEN:  # the bare XML form, without <tool_call>
            pos = _bare_xml(text, start, tool_names, found) or match.end()
        elif mark == "```":
            fence = _FENCED.match(text, start)
            pos = fence.end() if fence else match.end()
            if fence and fence.group(1).lower() in ("", "json") and (results := _fenced(fence, tool_names)):
                found.append((start, pos, results))
        else:  # a line opening with "{" or "["
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


def _tagged_call(body: str, tool_names: Collection[str] | None = None) -> ToolCall | BadToolCall:
    """Read the inside of one ``<tool_call>`` block: JSON (repaired if unambiguous) or XML."""
    if body.startswith(FUNCTION_OPEN):
        xml = _xml_call(body, 0, tool_names)
        return xml[0] if xml is not None else BadToolCall(body, "expected <function=NAME> inside <tool_call>")
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


def _bare_xml(
    text: str, start: int, tool_names: Collection[str] | None, found: list[tuple[int, int, list[Any]]]
) -> int | None:
    """Record a bare ``<function=…>`` call at ``start`` (unless quoted as inline code); its end."""
    xml = _xml_call(text, start, tool_names)
    if xml is None:
        return None
    if text[start - 1 : start] != "`":
        found.append((start, xml[1], [xml[0]]))
    return xml[1]


def _xml_call(
    text: str, start: int, tool_names: Collection[str] | None
) -> tuple[ToolCall | BadToolCall, int] | None:
    """The XML call at ``start`` and where it ends (``None``: no ``<function=…>`` there)."""
    found = match_function(text, start)
    if found is None:
        return None
    name, raw, end = found
    if not name:
        return BadToolCall(text[start:end], "expected <function=NAME> inside <tool_call>"), end
    schemas = tool_names if isinstance(tool_names, Mapping) else None
    return ToolCall(name, typed_arguments(name, raw, schemas), new_call_id()), end


def _fenced(fence: re.Match[str], tool_names: Collection[str] | None) -> list[ToolCall | BadToolCall]:
    """Calls held by a ```json block, or ``[]`` when the block is ordinary content."""
    body = fence.group(2).strip()
    if body.startswith(CALL_OPEN):
        return [_tagged_call(m.group(1).strip(), tool_names) for m in _TAGGED.finditer(body)]
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
        # An object of exactly {"name", "arguments"} with an identifier name is a call attempt even
        # when the name is unknown (small models call operations as tools): the graph then answers
        # with the real tools. Anything looser with an unknown name stays answer text.
        exact = set(item) == {"name", "arguments"} and name.isidentifier()
        if not tagged and (key is None or (tool_names is not None and name not in tool_names and not exact)):
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
    whole: Any = None  # arguments sent whole (an object), or a fragment of the wrong type (kept to report)


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
            elif arguments is not None and call.whole is None:  # an object; or a wrong type, reported
                call.whole = arguments

    def finish(self) -> tuple[list[ToolCall], list[BadToolCall]]:
        """Parse the joined calls (arguments repaired where unambiguous), in ``index`` order."""
        ordered = sorted(self._calls, key=lambda c: (c.index is None, c.index or 0))
        for call in ordered:
            call.id = call.id or new_call_id()  # stable if finish() is called again
        return structured_tool_calls(
            [
                {
                    "id": c.id,
                    "function": {
                        "name": c.name,
                        "arguments": c.whole if c.whole is not None else "".join(c.fragments),
                    },
                }
                for c in ordered
            ]
        )


def fit_to_tools(
    calls: Sequence[ToolCall], tools: Collection[str], *, check_names: bool = True
) -> tuple[list[ToolCall], list[BadToolCall]]:
    """Split text-form calls into those that fit the offered tools and those that do not.

    ``tools`` are the offered tool names, or a mapping of each name to its ``parameters`` JSON
    schema (as the transports pass it). A call to a tool that is not offered (with
    ``check_names``), one missing a required argument, or one passing an argument its schema does
    not list (unless the schema allows more; an empty ``properties`` lists none) cannot run as
    written, so it is not a call: it becomes a :class:`BadToolCall` whose error tells the model what
    to fix. Small models otherwise "call" a function that merely sounds related to the question, or
    one they made up. These are the rules of BFCL's AST checker (missing required, unexpected
    parameter, wrong function name), so a call BFCL accepts always fits
    (``tests/eval/test_fit_agrees_with_bfcl.py``).
    """
    schemas: Mapping[str, Any] = tools if isinstance(tools, Mapping) else dict.fromkeys(tools)
    good: list[ToolCall] = []
    bad: list[BadToolCall] = []
    for call in calls:
        problem = _misfit(call, schemas, check_names)
        if problem is None:
            good.append(call)
        else:
            raw = json.dumps({"name": call.name, "arguments": call.args}, ensure_ascii=False, default=str)
            bad.append(BadToolCall(raw=raw, error=problem, name=call.name, id=call.id))
    return good, bad


def _misfit(call: ToolCall, schemas: Mapping[str, Any], check_names: bool) -> str | None:
    if call.name not in schemas:
        if not check_names or not schemas:
            return None
        return f"there is no tool named {call.name!r}; the tools are: {', '.join(sorted(schemas))}"
    parameters = schemas[call.name]
    if not isinstance(parameters, Mapping):
        return None
    required = [r for r in parameters.get("required") or () if isinstance(r, str)]
    missing = [r for r in required if r not in call.args]
    if missing:
        needs = ", ".join(missing)
        return f"tool {call.name!r} needs the argument(s) {needs}: take their values from the request"
    properties = parameters.get("properties")
    if isinstance(properties, Mapping) and parameters.get("additionalProperties") is not True:
        # an empty ``properties`` is a tool without arguments (BFCL: any argument is unexpected)
        unknown = [a for a in call.args if a not in properties]
        if unknown:
            takes = f"its arguments are: {', '.join(properties)}" if properties else "it takes no arguments"
            return f"tool {call.name!r} takes no argument(s) {', '.join(unknown)}; {takes}"
    return None

"""Constrained answers on the in-process engine: forced tool calls, JSON grammars, thinking first.

What a request asks and how the local transport does it:

- ``tool_choice="none"``: the tools are not rendered into the prompt (past calls still are).
- ``tool_choice="required"``: the answer is prefilled with ``<tool_call>\\n{"name": "`` (the model
  picks the tool); with ``tool_name`` set, with ``<tool_call>\\n{"name": "<tool>", "arguments": ``,
  and a grammar from the tool's parameter schema makes the model write exactly an arguments object
  (recorded on Qwen2.5-Coder-1.5B without it: asked to call ``magic_function`` after "Hello!", it
  wrote a bare ``100}``). Generation stops when the call's JSON object closes (:class:`JSONEnd`), or
  when the grammar is complete. Measured on Qwen2.5-Coder-1.5B: prefilling only
  ``<tool_call>\\n{`` splits the model's own ``{"`` token and it stops at once, while the longer
  prefill gave a call every time.
- ``response_format``: a llama.cpp grammar built from the JSON schema (``sampling["json_schema"]``,
  turned into ``llama_cpp.LlamaGrammar.from_json_schema`` by the engine), so the answer is valid
  JSON of that shape; ``json_object`` allows any JSON object.
- A thinking model (Qwen3) with thinking not off thinks first, unconstrained
  (:class:`ThinkPhase`: the prompt continues ``<think>\\n`` until the model writes ``</think>``,
  within ``thinking_budget`` if one is set); the constraint applies to the answer only, which a
  second completion writes after the finished thinking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphs.models.budget import THINK_CLOSE, THINK_OPEN, ThinkingMeter, continuation_prompt
from graphs.models.structured import format_schema
from graphs.models.transports.base import ChatRequest
from graphs.models.transports.engine import Engine, Piece

FORCED_CALL_PREFILL = '<tool_call>\n{"name": "'
CALL_OPEN = "<tool_call>\n"


@dataclass(frozen=True)
class Constraint:
    """What constrains one local answer: a forced-call prefill, a JSON schema, thinking first."""

    prefill: str = ""
    schema: dict[str, Any] | None = None
    think_first: bool = False

    @property
    def active(self) -> bool:
        """Whether the answer is constrained at all."""
        return bool(self.prefill) or self.schema is not None


def constraint_for(request: ChatRequest, *, can_think: bool) -> Constraint:
    """The constraint ``request`` asks for on a model that can (or cannot) think."""
    if request.prefill is not None:  # the caller continues its own text: nothing else applies
        return Constraint()
    prefill = ""
    schema = None
    if request.tools and request.tool_choice == "required":
        prefill = FORCED_CALL_PREFILL
        if request.tool_name:
            prefill = f'{CALL_OPEN}{{"name": {json.dumps(request.tool_name)}, "arguments": '
            schema = arguments_schema(request.tools, request.tool_name)
    else:
        schema = format_schema(request.response_format)
    thinks = can_think and request.think is not False
    return Constraint(
        prefill=prefill, schema=schema, think_first=thinks and (bool(prefill) or schema is not None)
    )


def arguments_schema(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The JSON schema of one tool's arguments (an empty object for a tool without parameters)."""
    function = next(t["function"] for t in tools if t["function"]["name"] == name)
    parameters = function.get("parameters") or {}
    if not parameters.get("properties"):
        return {"type": "object", "properties": {}, "additionalProperties": False}
    return dict(parameters)


def visible_tools(request: ChatRequest) -> list[dict[str, Any]]:
    """The tools rendered into the prompt: none for ``tool_choice="none"``."""
    return [] if request.tool_choice == "none" else list(request.tools)


class ThinkPhase:
    """Lets the model think before a constrained answer: iterate for the thinking's text pieces.

    The pieces start with ``<think>\\n`` and, when the thinking ended (the model closed it, or the
    budget cut it), end with ``</think>``; :attr:`answer_prompt` is then the prompt the constrained
    answer continues. When the model stopped without closing its thinking, :attr:`finish_reason`
    says why and there is no answer to write.
    """

    def __init__(self, engine: Engine, prompt: str, sampling: dict[str, Any], budget: int | None) -> None:
        self.engine, self.prompt, self.sampling = engine, prompt, sampling
        self.meter = ThinkingMeter(budget, start_inside=True) if budget is not None else None
        self.thinking = ""
        self.closed = False
        self.budget_hit = False
        self.finish_reason: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __iter__(self) -> Iterator[str]:
        yield f"{THINK_OPEN}\n"
        pieces = self.engine.complete(f"{self.prompt}{THINK_OPEN}\n", self.sampling)
        held = ""
        for piece in pieces:
            self._count(piece)
            text = held + piece.text
            end = text.find(THINK_CLOSE)
            if end >= 0:
                self.thinking += text[:end]
                self.closed = True
                yield text[:end]
                break
            keep = _tag_prefix(text, THINK_CLOSE)
            shown, held = text[: len(text) - keep], text[len(text) - keep :]
            self.thinking += shown
            if shown:
                yield shown
            if self.meter is not None and not piece.finish_reason and self.meter.feed(piece.text):
                self.closed = self.budget_hit = True
                self.thinking += held
                if held:
                    yield held
                break
            if piece.finish_reason:
                self.finish_reason = piece.finish_reason
                self.thinking += held
                if held:
                    yield held
                return
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
        if self.closed:
            yield f"\n{THINK_CLOSE}\n\n"

    def _count(self, piece: Piece) -> None:
        self.completion_tokens += 1
        self.prompt_tokens = max(self.prompt_tokens, piece.prompt_tokens)

    @property
    def answer_prompt(self) -> str:
        """The prompt with the finished thinking (and the early-stop sentence when the budget cut it)."""
        if self.budget_hit:
            return continuation_prompt(self.prompt, self.thinking)
        return f"{self.prompt}{THINK_OPEN}\n{self.thinking.strip()}\n{THINK_CLOSE}\n\n"


def _tag_prefix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class JSONEnd:
    """Finds where a JSON object ends in streamed text (strings and escapes respected)."""

    def __init__(self, start: str = "") -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.feed(start)

    def feed(self, text: str) -> int | None:
        """Scan ``text``; return the index just after the closing brace, if it is in ``text``."""
        for i, ch in enumerate(text):
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch in '"\u201d':
                    self.in_string = False
            elif ch in '"\u201c':
                self.in_string = True
            elif ch in "{[":
                self.depth += 1
            elif ch in "}]":
                self.depth -= 1
                if self.depth == 0:
                    return i + 1
        return None

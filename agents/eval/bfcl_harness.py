"""The leaderboard harness's reading: what a user without qwengraph's dialect layer gets.

- On an HTTP server it is the tool calls the *server* parsed (``tool_calls`` in the response), as a
  plain ``ChatOpenAI``/LangGraph user would see them; no second model call is needed.
- On the in-process engine there is no server parser, so it is BFCL's own harness for Qwen
  function-calling models (``QwenFCHandler``): its prompt (the Qwen tools block with BFCL's raw
  function docs, ``json.dumps`` with ASCII escapes), a raw completion stopped only at the end of
  the turn, and its parser: the regex ``<tool_call>\\n(.*?)\\n</tool_call>`` with ``json.loads``
  on each match (unparseable matches dropped), then ``{name: arguments}`` per call; an item
  without ``name`` or ``arguments`` makes the whole output undecodable.

These are re-implementations of BFCL's documented prompt and parser format (its harness module
needs the provider SDKs to import), checked byte for byte in ``tests/eval/test_bfcl_harness.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agents.eval.bfcl_checker import Call

BFCL_TEMPERATURE = 0.001
"""BFCL's default sampling temperature."""

_TOOL_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.S)
_TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)


def qwen_fc_prompt(messages: Sequence[dict[str, Any]], functions: Sequence[dict[str, Any]]) -> str:
    """BFCL's Qwen function-calling prompt for a first turn (no assistant or tool messages yet)."""
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else None
    parts = []
    if functions:
        parts.append("<|im_start|>system\n" + (f"{system}\n\n" if system is not None else "") + _TOOLS_HEADER)
        parts.extend("\n" + json.dumps(doc) for doc in functions)
        parts.append(_TOOLS_FOOTER)
    elif system is not None:
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    last_query = _last_query(messages)
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role == "user" or (role == "system" and index != 0):
            parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        elif role == "assistant":
            parts.append(
                _assistant(
                    str(content or ""), after_query=index > last_query, last=index == len(messages) - 1
                )
            )
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _last_query(messages: Sequence[dict[str, Any]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        content = messages[index].get("content")
        wrapped = (
            isinstance(content, str)
            and content.startswith("<tool_response>")
            and content.endswith("</tool_response>")
        )
        if messages[index].get("role") == "user" and isinstance(content, str) and not wrapped:
            return index
    return len(messages) - 1


def _assistant(content: str, *, after_query: bool, last: bool) -> str:
    """A past assistant message as BFCL renders it (its thinking kept only after the last query)."""
    reasoning = ""
    if "</think>" in content:
        before, *_, after = content.split("</think>")
        reasoning, content = before.rstrip("\n").split("<think>")[-1].lstrip("\n"), after.lstrip("\n")
    if after_query and (last or reasoning):
        body = f"<think>\n{reasoning.strip(chr(10))}\n</think>\n\n{content.lstrip(chr(10))}"
    else:
        body = content
    return f"<|im_start|>assistant\n{body}<|im_end|>\n"


def answer_part(completion: str) -> str:
    """The completion after any ``</think>``, as BFCL keeps it for decoding."""
    if "</think>" not in completion:
        return completion
    return completion.rsplit("</think>", maxsplit=1)[-1].lstrip("\n")


def decode_tool_call_tags(completion: str) -> list[Call] | None:
    """BFCL's Qwen decoder: the calls in ``<tool_call>`` blocks, or ``None`` when undecodable."""
    found = []
    for body in _TOOL_CALL.findall(answer_part(completion)):
        try:
            found.append(json.loads(body))
        except ValueError:
            continue
    if not all(isinstance(item, dict) for item in found):
        return None
    calls: list[Call] = []
    for item in found:
        if "name" not in item or not isinstance(item.get("arguments"), dict):
            return None
        calls.append({item["name"]: dict(item["arguments"])})
    return calls


def decoded_calls(calls: Sequence[Any]) -> list[Call]:
    """Tool calls (``{"name", "args"}`` mappings or objects with ``.name``/``.args``) decoded for BFCL."""
    out: list[Call] = []
    for call in calls:
        if isinstance(call, dict):
            out.append({str(call["name"]): dict(call.get("args") or {})})
        else:
            out.append({str(call.name): dict(call.args)})
    return out

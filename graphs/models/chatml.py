"""Render a conversation as the prompt text Qwen's own chat templates produce.

The in-process ``local`` transport talks to llama.cpp with raw completions, so it needs the exact
prompt the model was trained on. :func:`render_chatml` reproduces, byte for byte, what Hugging Face
``apply_chat_template`` makes of the official templates (``tojson`` there is ``json.dumps`` with
``ensure_ascii=False`` and insertion order kept):

- ``qwen2.5``: the Qwen2.5-Instruct / Qwen2.5-Coder-Instruct template. It always has a system turn
  (Qwen's default one when none is given), tools are listed inside it, past tool calls are
  ``<tool_call>`` JSON lines in the assistant turn, and tool results are ``<tool_response>``
  blocks in a user turn (consecutive results share one turn). The official Qwen2.5-Coder-1.5B
  template shows the call format with doubled braces (``{{"name": …}}``, a quirk of that file);
  we show single braces, as Qwen2.5-Instruct and Qwen2.5-Coder-0.5B do.
- ``qwen3``: the Qwen3 template. No default system turn; assistant turns after the last real user
  query keep their ``<think>`` block (the last one always gets one, empty if need be); earlier
  thinking is dropped. ``think=False`` appends the empty ``<think>\\n\\n</think>\\n\\n`` after the
  generation prompt, which is what ``enable_thinking=False`` does.
- ``qwen3.5``: the Qwen3.5 / Qwen3.6 template (XML tool calls, thinking opened in the generation
  prompt, ``preserve_thinking``), in :mod:`graphs.models.chatml35`.

Messages are neutral dicts: ``role`` (system/user/assistant/tool) and ``content`` (str); assistant
messages may carry ``tool_calls: [{"id", "name", "args"}]`` and, for qwen3, ``reasoning_content``;
tool messages carry ``tool_call_id`` and ``name`` (not shown to the model: the templates do not
render them). Tools are OpenAI function schemas ``{"type": "function", "function": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from graphs.models.chatml35 import render_qwen35

Family = Literal["qwen2.5", "qwen3", "qwen3.5"]
FAMILIES: tuple[Family, ...] = ("qwen2.5", "qwen3", "qwen3.5")
"""The template families rendered here, each checked byte for byte against the official template."""
Message = Mapping[str, Any]

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
EMPTY_THINK = "<think>\n\n</think>\n\n"

_TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_FOOTER = (  # public: graphs.models.tool_guide replaces it for small local models
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
_ROLES = frozenset({"system", "user", "assistant", "tool"})


def render_chatml(
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    think: bool | None = None,
    family: Family = "qwen2.5",
    preserve_thinking: bool = False,
) -> str:
    """Render ``messages`` (and ``tools``) as the official Qwen chat template of ``family`` would.

    Args:
        messages: neutral message dicts (see the module docstring).
        tools: OpenAI function schemas; ``None`` or empty means no tools block.
        add_generation_prompt: end with an open assistant turn for the model to complete.
        think: qwen3 only: ``False`` pre-fills an empty thinking block (no-think mode); ``True``
            and ``None`` leave thinking to the model. Ignored for qwen2.5, which has no thinking.
        family: which template to reproduce.
        preserve_thinking: qwen3.5 only: render the thinking of every past assistant message
            (Qwen3.6's ``preserve_thinking``), not only of the current turn's.

    Raises:
        ValueError: an unknown role or family (and, for qwen3.5, what its template refuses).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown chat template family {family!r}")
    if family == "qwen3.5":
        return render_qwen35(
            messages,
            tools,
            add_generation_prompt=add_generation_prompt,
            think=think,
            preserve_thinking=preserve_thinking,
        )
    for message in messages:
        if message.get("role") not in _ROLES:
            raise ValueError(f"unknown message role {message.get('role')!r}")
    parts = [_system_turn(messages, tools or (), family)]
    last_query = _last_query_index(messages)
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "system":
            if index > 0:
                parts.append(_turn("system", _text(message)))
        elif role == "user":
            parts.append(_turn("user", _text(message)))
        elif role == "assistant":
            if family == "qwen2.5":
                parts.append(_assistant_qwen25(message))
            else:
                is_last = index == len(messages) - 1
                parts.append(_assistant_qwen3(message, keep_think=index > last_query, is_last=is_last))
        else:
            parts.append(_tool_result(messages, index))
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
        if family == "qwen3" and think is False:
            parts.append(EMPTY_THINK)
    return "".join(parts)


def _dumps(value: Any) -> str:
    """JSON as Hugging Face's ``tojson`` writes it: default separators, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False)


def _text(message: Message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _turn(role: str, content: str) -> str:
    return f"{IM_START}{role}\n{content}{IM_END}\n"


def _system_turn(messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], family: Family) -> str:
    """The leading system turn: the caller's system message, the tools block, or both."""
    given = _text(messages[0]) if messages and messages[0]["role"] == "system" else None
    if family == "qwen2.5":
        system = QWEN25_DEFAULT_SYSTEM if given is None else given
        if not tools:
            return _turn("system", system)
        prefix = system + "\n\n"
    else:
        if not tools:
            return "" if given is None else _turn("system", given)
        prefix = "" if given is None else given + "\n\n"
    listing = "".join("\n" + _dumps(dict(tool)) for tool in tools)
    return f"{IM_START}system\n{prefix}{_TOOLS_HEADER}{listing}{TOOLS_FOOTER}{IM_END}\n"


def _call_parts(call: Mapping[str, Any]) -> tuple[str, Any]:
    args = call["args"] if "args" in call else call.get("arguments", {})
    return str(call["name"]), args


def _assistant_qwen25(message: Message) -> str:
    content = _text(message)
    calls = message.get("tool_calls") or ()
    if not calls:
        return _turn("assistant", content)
    out = [f"{IM_START}assistant"]
    if content:
        out.append("\n" + content)
    for call in calls:
        name, args = _call_parts(call)
        # Qwen2.5's template passes arguments through tojson even when they are already a string.
        out.append(f'\n<tool_call>\n{{"name": "{name}", "arguments": {_dumps(args)}}}\n</tool_call>')
    out.append(f"{IM_END}\n")
    return "".join(out)


def _last_query_index(messages: Sequence[Message]) -> int:
    """Index of the last user message that is a real query, not a wrapped tool response."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = message.get("content")
        if message["role"] == "user" and isinstance(content, str):
            wrapped = content.startswith("<tool_response>") and content.endswith("</tool_response>")
            if not wrapped:
                return index
    return len(messages) - 1


def _split_thinking(message: Message) -> tuple[str, str]:
    """Return ``(reasoning, answer)``: explicit ``reasoning_content`` or inline ``<think>`` text."""
    content = _text(message)
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str):
        return reasoning, content
    if "</think>" in content:
        before, _, _ = content.partition("</think>")
        reasoning = before.rstrip("\n").split("<think>")[-1].lstrip("\n")
        return reasoning, content.split("</think>")[-1].lstrip("\n")
    return "", content


def _assistant_qwen3(message: Message, *, keep_think: bool, is_last: bool) -> str:
    reasoning, content = _split_thinking(message)
    if keep_think and (is_last or reasoning):
        thinking, answer = reasoning.strip("\n"), content.lstrip("\n")
        out = [f"{IM_START}assistant\n<think>\n{thinking}\n</think>\n\n{answer}"]
    else:
        out = [f"{IM_START}assistant\n{content}"]
    for position, call in enumerate(message.get("tool_calls") or ()):
        if position > 0 or content:
            out.append("\n")
        name, args = _call_parts(call)
        rendered = args if isinstance(args, str) else _dumps(args)
        out.append(f'<tool_call>\n{{"name": "{name}", "arguments": {rendered}}}\n</tool_call>')
    out.append(f"{IM_END}\n")
    return "".join(out)


def _tool_result(messages: Sequence[Message], index: int) -> str:
    """One tool result; consecutive results share a single user turn."""
    opens = index == 0 or messages[index - 1]["role"] != "tool"
    closes = index == len(messages) - 1 or messages[index + 1]["role"] != "tool"
    head = f"{IM_START}user" if opens else ""
    tail = f"{IM_END}\n" if closes else ""
    return f"{head}\n<tool_response>\n{_text(messages[index])}\n</tool_response>{tail}"

"""The Qwen3.5 / Qwen3.6 chat template, reproduced byte for byte (text messages).

What differs from Qwen3 (:mod:`graphs.models.chatml`), all facts of the official template:

- tools are listed as JSON under "# Tools / You have access to the following functions", with the
  XML call format spelled out; the system prompt comes *after* the tools block;
- every message's text is trimmed; a system message anywhere but first, and a conversation with
  no user query, are errors (the template raises);
- past tool calls are written as ``<tool_call>\\n<function=NAME>\\n<parameter=KEY>\\nVALUE\\n
  </parameter>\\n</function>\\n</tool_call>``; objects and arrays as JSON, everything else with
  Python's ``str`` (so ``True``, ``None``), as Jinja's ``string`` filter does;
- every assistant message after the last user query gets a ``<think>`` block (empty when it has no
  thinking), and with ``preserve_thinking`` (Qwen3.6+) every assistant message does;
- the generation prompt opens thinking (``<think>\\n``); ``enable_thinking=False`` closes it empty;
- consecutive tool results share one user turn, which is opened only after a non-tool message.

Images are not rendered: the in-process transport refuses them before rendering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
_TOOLS_HEADER = "# Tools\n\nYou have access to the following functions:\n\n<tools>"
_TOOLS_FOOTER = (
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\n"
    "multiple lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> block must be "
    "nested within <tool_call></tool_call> XML tags\n- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE the "
    "function call, but NOT after\n- If there is no function call available, answer the question like "
    "normal with your current knowledge and do not tell the user about function calls\n</IMPORTANT>"
)
Message = Mapping[str, Any]


def render_qwen35(
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    think: bool | None = None,
    preserve_thinking: bool = False,
) -> str:
    """Render neutral messages as the Qwen3.5/3.6 template does (see the module docstring).

    Raises:
        ValueError: no messages, no user query, a system message after the first, or an unknown role.
    """
    if not messages:
        raise ValueError("No messages provided.")
    parts = [_system_turn(messages, tools or ())]
    last_query = _last_query_index(messages)
    for index, message in enumerate(messages):
        role = message.get("role")
        content = _text(message).strip()
        if role == "system":
            if index:
                raise ValueError("System message must be at the beginning.")
        elif role == "user":
            parts.append(f"{IM_START}user\n{content}{IM_END}\n")
        elif role == "assistant":
            parts.append(_assistant(message, content, keep=preserve_thinking or index > last_query))
        elif role == "tool":
            parts.append(_tool(messages, index, content))
        else:
            raise ValueError("Unexpected message role.")
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
        parts.append("<think>\n\n</think>\n\n" if think is False else "<think>\n")
    return "".join(parts)


def _text(message: Message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _system_turn(messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> str:
    system = _text(messages[0]).strip() if messages[0].get("role") == "system" else None
    if not tools:
        return "" if system is None else f"{IM_START}system\n{system}{IM_END}\n"
    listing = "".join("\n" + json.dumps(dict(tool), ensure_ascii=False) for tool in tools)
    tail = f"\n\n{system}" if system else ""
    return f"{IM_START}system\n{_TOOLS_HEADER}{listing}{_TOOLS_FOOTER}{tail}{IM_END}\n"


def _last_query_index(messages: Sequence[Message]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user":
            text = _text(message).strip()
            if not (text.startswith("<tool_response>") and text.endswith("</tool_response>")):
                return index
    raise ValueError("No user query found in messages.")


def _assistant(message: Message, content: str, *, keep: bool) -> str:
    reasoning = message.get("reasoning_content")
    if not isinstance(reasoning, str):
        reasoning = ""
        if "</think>" in content:
            reasoning = (
                content.split("</think>", maxsplit=1)[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
            )
            content = content.rsplit("</think>", maxsplit=1)[-1].lstrip("\n")
    reasoning = reasoning.strip()
    if keep:
        out = [f"{IM_START}assistant\n<think>\n{reasoning}\n</think>\n\n{content}"]
    else:
        out = [f"{IM_START}assistant\n{content}"]
    for position, call in enumerate(message.get("tool_calls") or ()):
        name = str(call["name"])
        if position == 0:
            out.append(
                f"\n\n<tool_call>\n<function={name}>\n"
                if content.strip()
                else f"<tool_call>\n<function={name}>\n"
            )
        else:
            out.append(f"\n<tool_call>\n<function={name}>\n")
        args = call["args"] if "args" in call else call.get("arguments", {})
        for key, value in (args or {}).items():
            out.append(f"<parameter={key}>\n{parameter_text(value)}\n</parameter>\n")
        out.append("</function>\n</tool_call>")
    out.append(f"{IM_END}\n")
    return "".join(out)


def parameter_text(value: Any) -> str:
    """One argument as the template writes it: JSON for objects and arrays, else Python's ``str``."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else str(value)


def _tool(messages: Sequence[Message], index: int, content: str) -> str:
    opens = index > 0 and messages[index - 1].get("role") != "tool"
    last = index == len(messages) - 1
    closes = last or messages[index + 1].get("role") != "tool"
    head = f"{IM_START}user" if opens else ""
    return f"{head}\n<tool_response>\n{content}\n</tool_response>" + (f"{IM_END}\n" if closes else "")

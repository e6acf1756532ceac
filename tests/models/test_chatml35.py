"""render_chatml(family="qwen3.5") must match the Qwen3.5 and Qwen3.6 chat templates byte for byte.

References (tests/fixtures/chat_templates, sources in SOURCES.md): the Qwen3.5-35B-A3B GGUF's own
template and Unsloth's Qwen3.6-35B-A3B GGUF template (the official Qwen3.6 template plus a
developer-role fix that does not touch the messages rendered here). Rendered the way Hugging Face
``apply_chat_template`` does: sandboxed Jinja, trim_blocks/lstrip_blocks, loop controls, ``tojson``
as ``json.dumps(ensure_ascii=False)``, and ``raise_exception`` raising.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from graphs.models.chatml import render_chatml
from graphs.models.chatml35 import parameter_text

Msg = dict[str, Any]
TEMPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "chat_templates"
QWEN35, QWEN36 = "qwen3.5-35b-a3b.jinja", "qwen3.6-35b-a3b-unsloth.jinja"


class TemplateError(Exception):
    pass


def _raise(message: str) -> None:
    raise TemplateError(message)


def _hf(message: Msg) -> Msg:
    out = dict(message)
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
            for c in message["tool_calls"]
        ]
    return out


def official(
    template_file: str,
    messages: list[Msg],
    tools: list[Msg] | None = None,
    *,
    add_generation_prompt: bool = True,
    **kwargs: Any,
) -> str:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda v, **kw: json.dumps(v, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = _raise
    template = env.from_string((TEMPLATES / template_file).read_text(encoding="utf-8"))
    if tools:
        kwargs["tools"] = tools
    return template.render(
        messages=[_hf(m) for m in messages], add_generation_prompt=add_generation_prompt, **kwargs
    )


CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression exactly (\u00d7 and \u00f7 allowed).",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the notes.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        },
    },
}
TOOLS = [CALCULATOR, SEARCH]

PLAIN: list[Msg] = [{"role": "user", "content": "  Hello! Who are you?\n"}]
WITH_SYSTEM: list[Msg] = [
    {"role": "system", "content": "You are a terse math tutor.\n"},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
]
AGENT_TURN: list[Msg] = [
    {"role": "system", "content": "Use tools."},
    {"role": "user", "content": "Earlier question"},
    {"role": "assistant", "content": "Earlier answer", "reasoning_content": "old thoughts"},
    {"role": "user", "content": "What is 17 \u00d7 23, and find notes on it (3 at most)?"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "\nI need the calculator first.\n",
        "tool_calls": [{"id": "1", "name": "calculator", "args": {"expression": "17*23"}}],
    },
    {"role": "tool", "content": "391", "tool_call_id": "1", "name": "calculator"},
    {
        "role": "assistant",
        "content": "Now the notes.",
        "reasoning_content": "391. Search next.",
        "tool_calls": [
            {"id": "2", "name": "search", "args": {"query": "391", "limit": 3}},
            {"id": "3", "name": "search", "args": {"query": "17", "limit": None, "exact": True}},
        ],
    },
    {"role": "tool", "content": "[]", "tool_call_id": "2", "name": "search"},
    {"role": "tool", "content": "[1]", "tool_call_id": "3", "name": "search"},
]
STRUCTURED_ARGS: list[Msg] = [
    {"role": "user", "content": "go"},
    {
        "role": "assistant",
        "content": "<think>\ninline thinking\n</think>\n\nCalling.",
        "tool_calls": [
            {
                "id": "1",
                "name": "search",
                "args": {"query": {"text": "x", "tags": ["a", "\u00e9"]}, "n": 1.5},
            },
            {"id": "2", "name": "search", "args": {"query": ["p", "q"], "flag": False}},
        ],
    },
    {"role": "tool", "content": "ok", "tool_call_id": "1", "name": "search"},
    {"role": "tool", "content": "ok", "tool_call_id": "2", "name": "search"},
    {"role": "assistant", "content": "Done."},
]

CASES: dict[str, tuple[list[Msg], list[Msg] | None]] = {
    "plain": (PLAIN, None),
    "with_system": (WITH_SYSTEM, None),
    "tools_no_system": (PLAIN, TOOLS),
    "tools_with_system": (WITH_SYSTEM, TOOLS),
    "agent_turn": (AGENT_TURN, TOOLS),
    "structured_args": (STRUCTURED_ARGS, TOOLS),
}


@pytest.mark.parametrize("template", [QWEN35, QWEN36])
@pytest.mark.parametrize("think", [True, False, None])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_official_qwen35_and_qwen36_templates(template: str, think: bool | None, case: str) -> None:
    messages, tools = CASES[case]
    kwargs = {} if think is None else {"enable_thinking": think}
    expected = official(template, messages, tools, **kwargs)
    assert render_chatml(messages, tools, family="qwen3.5", think=think) == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_preserve_thinking_matches_qwen36(case: str) -> None:
    messages, tools = CASES[case]
    expected = official(QWEN36, messages, tools, preserve_thinking=True)
    assert render_chatml(messages, tools, family="qwen3.5", preserve_thinking=True) == expected


@pytest.mark.parametrize("case", ["with_system", "agent_turn", "structured_args"])
def test_without_generation_prompt(case: str) -> None:
    messages, tools = CASES[case]
    expected = official(QWEN35, messages, tools, add_generation_prompt=False)
    got = render_chatml(messages, tools, family="qwen3.5", add_generation_prompt=False)
    assert got == expected


def test_agent_turn_literal_pieces() -> None:
    """Hand-checked pieces: this turn's thinking is rendered, the earlier turn's is not."""
    got = render_chatml(AGENT_TURN, TOOLS, family="qwen3.5")
    assert "old thoughts" not in got
    assert "<|im_start|>assistant\nEarlier answer<|im_end|>\n" in got
    assert (
        "<|im_start|>assistant\n<think>\nI need the calculator first.\n</think>\n\n"
        "<tool_call>\n<function=calculator>\n<parameter=expression>\n17*23\n</parameter>\n"
        "</function>\n</tool_call><|im_end|>\n"
    ) in got
    assert "<parameter=limit>\n3\n</parameter>" in got
    assert "<parameter=limit>\nNone\n</parameter>\n<parameter=exact>\nTrue\n</parameter>" in got
    assert got.endswith(
        "<|im_start|>user\n<tool_response>\n[]\n</tool_response>\n<tool_response>\n[1]\n</tool_response>"
        "<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
    with_preserve = render_chatml(AGENT_TURN, TOOLS, family="qwen3.5", preserve_thinking=True)
    assert "<|im_start|>assistant\n<think>\nold thoughts\n</think>\n\nEarlier answer" in with_preserve


def test_template_refusals_are_mirrored() -> None:
    for messages in (
        [{"role": "assistant", "content": "no user"}],
        [{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}],
    ):
        with pytest.raises(TemplateError) as official_error:
            official(QWEN35, messages)
        with pytest.raises(ValueError, match=str(official_error.value)):
            render_chatml(messages, None, family="qwen3.5")


def test_parameter_text() -> None:
    assert parameter_text("x") == "x"
    assert parameter_text(3) == "3"
    assert parameter_text(True) == "True"
    assert parameter_text({"a": "\u00e9"}) == '{"a": "\u00e9"}'
    assert parameter_text([1, 2]) == "[1, 2]"

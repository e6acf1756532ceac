"""render_chatml must match Qwen's official chat templates byte for byte.

The reference output comes from rendering the official templates (tests/fixtures/chat_templates,
Apache-2.0, sources in SOURCES.md there) the way Hugging Face ``apply_chat_template`` does: a
sandboxed Jinja environment with trim_blocks/lstrip_blocks and ``tojson`` = ``json.dumps`` with
``ensure_ascii=False``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from graphs.models.chatml import render_chatml

Msg = dict[str, Any]
TEMPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "chat_templates"
TEMPLATE_FILES = {"qwen2.5": "qwen2.5-coder-0.5b-instruct.jinja", "qwen3": "qwen3.jinja"}


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys)


def _hf_message(message: dict[str, Any]) -> dict[str, Any]:
    """Our neutral message as the OpenAI-style dict Hugging Face templates receive."""
    out = dict(message)
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
            for c in message["tool_calls"]
        ]
    return out


def official(
    template_file: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    think: bool | None = None,
) -> str:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    template = env.from_string((TEMPLATES / template_file).read_text(encoding="utf-8"))
    kwargs: dict[str, Any] = {}
    if think is not None:
        kwargs["enable_thinking"] = think
    if tools:
        kwargs["tools"] = tools
    return template.render(
        messages=[_hf_message(m) for m in messages], add_generation_prompt=add_generation_prompt, **kwargs
    )


CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression exactly (\u00d7 and \u00f7 allowed).",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 2^10 + 15%"}},
            "required": ["expression"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "Current time.",
        "parameters": {"type": "object", "properties": {}},
    },
}
TOOLS: list[Msg] = [CALCULATOR, CLOCK]

PLAIN: list[Msg] = [{"role": "user", "content": "Hello! Who are you?"}]
PLAIN_WITH_SYSTEM: list[Msg] = [
    {"role": "system", "content": "You are a terse math tutor."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3 — in words, please?"},
]
ROUND_TRIP: list[Msg] = [
    {"role": "system", "content": "Use tools for arithmetic."},
    {"role": "user", "content": "What is 17 \u00d7 23?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "call_1", "name": "calculator", "args": {"expression": "17*23"}}],
    },
    {"role": "tool", "content": "391", "tool_call_id": "call_1", "name": "calculator"},
    {"role": "assistant", "content": "17 \u00d7 23 = 391."},
    {"role": "user", "content": "Thanks. Now double it."},
]
MULTI_RESULTS: list[Msg] = [
    {"role": "user", "content": "Compute 2^10 and tell me the time."},
    {
        "role": "assistant",
        "content": "Let me check both.",
        "tool_calls": [
            {"id": "a", "name": "calculator", "args": {"expression": "2^10"}},
            {"id": "b", "name": "now", "args": {}},
        ],
    },
    {"role": "tool", "content": "1024", "tool_call_id": "a", "name": "calculator"},
    {"role": "tool", "content": '{"time": "12:00"}', "tool_call_id": "b", "name": "now"},
]
THINKING_HISTORY: list[Msg] = [
    {"role": "user", "content": "First question"},
    {"role": "assistant", "content": "<think>\nold reasoning\n</think>\n\nFirst answer"},
    {"role": "user", "content": "Second question, use the calculator"},
    {
        "role": "assistant",
        "content": "<think>\nI should call it.\n</think>\n\n",
        "tool_calls": [{"id": "c", "name": "calculator", "args": {"expression": "1+1"}}],
    },
    {"role": "tool", "content": "2", "tool_call_id": "c", "name": "calculator"},
    {"role": "assistant", "content": "It is 2.", "reasoning_content": "The tool said 2."},
]
MIDDLE_SYSTEM: list[Msg] = [
    {"role": "user", "content": "hi"},
    {"role": "system", "content": "Be brief from now on."},
    {"role": "user", "content": "explain monads"},
]

CASES: dict[str, tuple[list[Msg], list[Msg] | None]] = {
    "plain": (PLAIN, None),
    "plain_with_system": (PLAIN_WITH_SYSTEM, None),
    "tools_no_system": (PLAIN, TOOLS),
    "tools_with_system": (PLAIN_WITH_SYSTEM, TOOLS),
    "tool_round_trip": (ROUND_TRIP, TOOLS),
    "multiple_tool_results": (MULTI_RESULTS, TOOLS),
    "thinking_history": (THINKING_HISTORY, TOOLS),
    "middle_system": (MIDDLE_SYSTEM, None),
}


@pytest.mark.parametrize("family", ["qwen2.5", "qwen3"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_official_template(family: str, case: str) -> None:
    messages, tools = CASES[case]
    expected = official(TEMPLATE_FILES[family], messages, tools)
    assert render_chatml(messages, tools, family=family) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("family", ["qwen2.5", "qwen3"])
@pytest.mark.parametrize("case", ["plain_with_system", "tool_round_trip", "multiple_tool_results"])
def test_without_generation_prompt(family: str, case: str) -> None:
    messages, tools = CASES[case]
    expected = official(TEMPLATE_FILES[family], messages, tools, add_generation_prompt=False)
    got = render_chatml(messages, tools, family=family, add_generation_prompt=False)  # type: ignore[arg-type]
    assert got == expected


@pytest.mark.parametrize("think", [True, False, None])
@pytest.mark.parametrize("case", ["plain", "tool_round_trip", "thinking_history"])
def test_qwen3_think_switch(think: bool | None, case: str) -> None:
    messages, tools = CASES[case]
    expected = official("qwen3.jinja", messages, tools, think=think)
    assert render_chatml(messages, tools, family="qwen3", think=think) == expected
    assert expected.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") is (think is False)


def test_qwen3_last_turn_gets_empty_think_block() -> None:
    messages = [*PLAIN, {"role": "assistant", "content": "I am Qwen."}]
    got = render_chatml(messages, None, family="qwen3", add_generation_prompt=False)
    assert got == official("qwen3.jinja", messages, add_generation_prompt=False)
    assert got.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nI am Qwen.<|im_end|>\n")


def test_qwen25_plain_chat_literal() -> None:
    """A hand-checked literal, independent of the template machinery."""
    assert render_chatml(PLAIN, None) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello! Who are you?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_tool_round_trip_literal_pieces() -> None:
    got = render_chatml(MULTI_RESULTS, TOOLS)
    assert got.startswith(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
        "\n\n# Tools\n\n"
    )
    assert "\n<tools>\n" + json.dumps(CALCULATOR, ensure_ascii=False) + "\n" in got
    assert "\u00d7" in got  # non-ASCII kept, as Hugging Face's tojson does
    assert (
        "<|im_start|>assistant\nLet me check both."
        '\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "2^10"}}\n</tool_call>'
        '\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call><|im_end|>\n'
    ) in got
    assert got.endswith(
        "<|im_start|>user\n<tool_response>\n1024\n</tool_response>"
        '\n<tool_response>\n{"time": "12:00"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n'
    )


def test_qwen25_coder_1_5b_template_differs_only_in_doubled_braces() -> None:
    """The 1.5B file's single quirk: the call hint reads {{"name": …}}; we render single braces."""
    quirky = official("qwen2.5-coder-1.5b-instruct.jinja", ROUND_TRIP, TOOLS)
    ours = render_chatml(ROUND_TRIP, TOOLS)
    hint = '{"name": <function-name>, "arguments": <args-json-object>}'
    assert quirky == ours.replace(hint, "{" + hint + "}")
    assert official("qwen2.5-coder-1.5b-instruct.jinja", PLAIN) == render_chatml(PLAIN, None)


def test_qwen25_ignores_think() -> None:
    assert render_chatml(PLAIN, None, think=False) == render_chatml(PLAIN, None)


def test_rejects_unknown_role_and_family() -> None:
    with pytest.raises(ValueError, match="role"):
        render_chatml([{"role": "developer", "content": "x"}], None)
    with pytest.raises(ValueError, match="family"):
        render_chatml(PLAIN, None, family="qwen4")  # type: ignore[arg-type]

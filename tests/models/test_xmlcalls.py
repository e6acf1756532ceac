"""The <function=…><parameter=…> tool-call form of Qwen3-Coder and Qwen3.5+, from real captures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from graphs.models.qwen import ContentStream, parse_text_tool_calls
from graphs.models.transports.assemble import DeltaAssembler, tool_schemas
from graphs.models.xmlcalls import typed_arguments

Wire = Callable[[str], dict[str, Any]]


def schemas(recording: dict[str, Any]) -> dict[str, Any]:
    return tool_schemas(recording["tools"])


def test_naked_qwen3_coder_call_with_a_stray_closer_runs(wire: Wire) -> None:
    """omlx#844: Qwen3-Coder-30B-A3B wrote a bare <function=Bash> call and a stray </tool_call>."""
    recording = wire("omlx_qwen3-coder-30b-a3b_naked-xml-call_pr844.json")
    found = parse_text_tool_calls(recording["response"]["raw_text"], schemas(recording))
    assert [(c.name, c.args) for c in found.calls] == [
        ("Bash", {"command": "echo $ANTHROPIC_BASE_URL && echo $ANTHROPIC_DEFAULT_SONNET_MODEL"})
    ]
    assert found.text == "I'll check the model information to confirm I'm running on the local oMLX server."
    assert "</tool_call>" not in found.text and found.bad == []


@pytest.mark.parametrize(
    "name",
    [
        "ollama-parser_qwen3.5-merge_raw_xml-call-inside-thinking_capture.json",
        "vllm_qwen3.5-35b-a3b-fp8_xml-call-inside-think_issue39056.json",
    ],
)
def test_calls_written_inside_qwen35_thinking_are_not_run(wire: Wire, name: str) -> None:
    """Two real Qwen3.5 outputs with a complete XML call before </think> (or with no </think>)."""
    recording = wire(name)
    raw = recording["response"]["raw_text"]
    found = parse_text_tool_calls(raw, schemas(recording))
    assert found.calls == [] and found.bad == []
    stream = ContentStream(expect_thinking=True)
    pieces = [p for chunk in (raw[i : i + 7] for i in range(0, len(raw), 7)) for p in stream.feed(chunk)]
    last, calls = stream.finish(schemas(recording))
    pieces += last
    assert calls.calls == [] and calls.text == ""
    assert "<function=" in "".join(p.text for p in pieces if p.kind == "thinking")


def test_documented_qwen35_form_typed_by_the_schema() -> None:
    """The shape Ollama's qwen3.5 parser tests pin (documented wire format, not a recording)."""
    tools = {
        "get_weather": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
        }
    }
    text = (
        "<tool_call><function=get_weather><parameter=location>\nSan Francisco\n</parameter>"
        "<parameter=days>\n3\n</parameter></function></tool_call>"
    )
    found = parse_text_tool_calls(text, tools)
    assert [(c.name, c.args) for c in found.calls] == [
        ("get_weather", {"location": "San Francisco", "days": 3})
    ]


def test_values_keep_their_declared_types() -> None:
    spec = {
        "f": {
            "properties": {
                "code": {"type": "string"},
                "n": {"type": "integer"},
                "x": {"type": "number"},
                "ok": {"type": "boolean"},
                "tags": {"type": "array"},
                "opts": {"type": "object"},
                "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "bad": {"type": "integer"},
            }
        }
    }
    raw = {
        "code": "007",
        "n": " 42 ",
        "x": "2.5",
        "ok": "True",
        "tags": '["a", "b"]',
        "opts": '{"deep": 1}',
        "maybe": "null",
        "bad": "many",
        "undeclared": "[1, 2]",
    }
    assert typed_arguments("f", raw, spec) == {
        "code": "007",
        "n": 42,
        "x": 2.5,
        "ok": True,
        "tags": ["a", "b"],
        "opts": {"deep": 1},
        "maybe": None,
        "bad": "many",  # kept as text: the tool's own validation says what is wrong
        "undeclared": [1, 2],
    }
    assert typed_arguments("unknown", {"a": "007", "b": "3"}, spec) == {"a": "007", "b": 3}


def test_multiline_values_and_several_calls() -> None:
    text = (
        "Writing both files.\n<tool_call>\n<function=write>\n<parameter=path>\na.py\n</parameter>\n"
        "<parameter=body>\ndef f():\n    return 1\n</parameter>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=write>\n<parameter=path>\nb.py\n</parameter>\n<parameter=body>\n\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    found = parse_text_tool_calls(text, {"write": {"properties": {"path": {"type": "string"}}}})
    assert [c.args for c in found.calls] == [
        {"path": "a.py", "body": "def f():\n    return 1"},
        {"path": "b.py", "body": ""},
    ]
    assert found.text == "Writing both files."


def test_truncated_and_unclosed_calls() -> None:
    cut = "<function=bash>\n<parameter=command>\nls -la"
    found = parse_text_tool_calls(cut, ["bash"])
    assert [(c.name, c.args) for c in found.calls] == [("bash", {"command": "ls -la"})]
    nameless = parse_text_tool_calls("<tool_call>\n<function=>\n</function>\n</tool_call>", None)
    assert nameless.calls == [] and "expected <function=NAME>" in nameless.bad[0].error


def test_quoted_form_in_prose_is_not_a_call() -> None:
    text = "Qwen3-Coder writes `<function=name>` blocks; see the docs."
    assert parse_text_tool_calls(text, ["name"]).calls == []


def test_streamed_bare_call_is_held_and_read_at_the_end() -> None:
    assembler = DeltaAssembler(
        think=True,
        tool_names=tool_schemas(
            [
                {
                    "type": "function",
                    "function": {"name": "calc", "parameters": {"properties": {"n": {"type": "integer"}}}},
                }
            ]
        ),
    )
    shown = ""
    for chunk in [
        "Let me compute.\n<fun",
        "ction=calc>\n<param",
        "eter=n>\n4",
        "2\n</parameter>\n</function>",
    ]:
        delta = assembler.feed(content=chunk)
        shown += delta.text if delta else ""
    closing = assembler.finish("stop")
    assert "<fun" not in shown + closing.text
    assert [(c.name, c.args) for c in closing.tool_calls] == [("calc", {"n": 42})]

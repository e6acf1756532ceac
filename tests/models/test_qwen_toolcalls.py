"""Tool calls in every dialect: structured lists, streamed deltas, text forms, and JSON repair.

Recorded responses come from ``tests/fixtures/wire`` (see its README for sources and licences); the
streamed-delta exchanges are built from vLLM's, llama.cpp's and Ollama's documented formats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from graphs.models.qwen import (
    BadToolCall,
    StreamedToolCalls,
    ToolCall,
    new_call_id,
    parse_arguments,
    parse_text_tool_calls,
    repair_json,
    structured_tool_calls,
)

Wire = Callable[[str], dict[str, Any]]
CALL_ID = re.compile(r"call_[0-9a-f]{24}")
MB = 1_000_000


NoHang = Callable[[], AbstractContextManager[None]]


def named(calls: list[ToolCall]) -> list[tuple[str, dict[str, Any]]]:
    """Calls without their generated ids, for exact comparison."""
    for call in calls:
        assert CALL_ID.fullmatch(call.id), call.id
    return [(call.name, call.args) for call in calls]


def test_new_call_id() -> None:
    ids = {new_call_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(CALL_ID.fullmatch(i) for i in ids)


# --- repair_json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param('{"a": 1}', {"a": 1}, id="valid"),
        pytest.param('{"a": 1,}', {"a": 1}, id="trailing-comma-object"),
        pytest.param('{"a": [1, 2,],}', {"a": [1, 2]}, id="trailing-commas-nested"),
        pytest.param("{'a': 'b'}", {"a": "b"}, id="single-quotes"),
        pytest.param("{'q': 'say \"hi\"', 'r': \"it's\"}", {"q": 'say "hi"', "r": "it's"}, id="mixed-quotes"),
        pytest.param("{'a': 'it\\'s'}", {"a": "it's"}, id="escaped-single-quote"),
        pytest.param(
            "{'t': True, 'f': False, 'n': None}", {"t": True, "f": False, "n": None}, id="python-literals"
        ),
        pytest.param('{"expression": "2+2"', {"expression": "2+2"}, id="unclosed-brace"),
        pytest.param('{"a": {"b": [1, {"c": 2', {"a": {"b": [1, {"c": 2}]}}, id="unclosed-nested"),
        pytest.param('{"a": 1,', {"a": 1}, id="unclosed-after-comma"),
        pytest.param('  \n{"a": 1}\n ', {"a": 1}, id="surrounding-blanks"),
        pytest.param('```json\n{"a": 1,}\n```', {"a": 1}, id="json-fence"),
        pytest.param('```\n{"a": 1}\n```', {"a": 1}, id="bare-fence"),
        pytest.param('```json\n{"a": 1}', {"a": 1}, id="unclosed-fence"),
        pytest.param('{"code": "x = 1\nprint(x)"}', {"code": "x = 1\nprint(x)"}, id="raw-newline-in-string"),
        pytest.param('{"e": "\\ud83d\\ude00 \\n"}', {"e": "\U0001f600 \n"}, id="unicode-escapes"),
        pytest.param('{"x": 1e5, "y": -0.5, "z": 0}', {"x": 100000.0, "y": -0.5, "z": 0}, id="numbers"),
        pytest.param("[1, 2", [1, 2], id="unclosed-array"),
        pytest.param('"just a string"', "just a string", id="scalar"),
    ],
)
def test_repair_json_repairs(raw: str, expected: Any) -> None:
    assert repair_json(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            '{"a": 1 "b": 2}', "expected ',' or '}' after value at line 1 column 9", id="missing-comma"
        ),
        pytest.param(
            '{"a": 1,\n "b": 2\n "c": 3}',
            "expected ',' or '}' after value at line 3 column 2",
            id="multiline",
        ),
        pytest.param(
            '{"a": [1, 2}', "expected ',' or ']' after value at line 1 column 12", id="wrong-closer"
        ),
        pytest.param('{"a" 1}', "expected ':' after key at line 1 column 6", id="missing-colon"),
        pytest.param('{"a"', "expected ':' after key at end of input", id="truncated-after-key"),
        pytest.param('{"a": ', "expected a value at end of input", id="truncated-before-value"),
        pytest.param('{"a": }', "expected a value at line 1 column 7, found '}'", id="missing-value"),
        pytest.param('{"a": tru}', "expected a value at line 1 column 7, found 'tru'", id="bad-literal"),
        pytest.param(
            "{'b': undefined}", "expected a value at line 1 column 7, found 'undefined'", id="undefined"
        ),
        pytest.param("{a: 1}", "expected a quoted key at line 1 column 2", id="unquoted-key"),
        pytest.param(
            '{"a": "x}', "unterminated string starting at line 1 column 7", id="unterminated-string"
        ),
        pytest.param(
            '{"p": "C:\\dir"}', "invalid escape '\\\\d' in string at line 1 column 10", id="bad-escape"
        ),
        pytest.param(
            '{"a": "\\u12"}', "invalid \\u escape in string at line 1 column 8", id="bad-unicode-escape"
        ),
        pytest.param(
            '{"a": 1}}', "unexpected text after the JSON value at line 1 column 9: '}'", id="extra-brace"
        ),
        pytest.param(
            '{"a": 1}\n{"a": 2}',
            "unexpected text after the JSON value at line 2 column 1: '{\"a\": 2}'",
            id="two-objects",
        ),
        pytest.param("", "expected a JSON value, got empty text", id="empty"),
        pytest.param("```json\n```", "expected a JSON value, got empty text", id="empty-fence"),
        pytest.param('{"n": ' + "9" * 5000 + "}", "number too long at line 1 column 7", id="huge-number"),
    ],
)
def test_repair_json_refuses_ambiguous_damage(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        repair_json(raw)


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        pytest.param("[" * MB, "nesting deeper than 512 levels at line 1 column 513", id="brackets"),
        pytest.param(
            '{"a": "' + "x" * MB, "unterminated string starting at line 1 column 7", id="open-string"
        ),
        pytest.param("{'" * (MB // 2), "expected ':' after key at line 1 column 5", id="quote-starts"),
        pytest.param('"' + "\\" * MB, "unterminated string starting at line 1 column 1", id="backslashes"),
        pytest.param('{"a": [' + "1," * (MB // 2), None, id="long-trailing-comma-array"),
        pytest.param("{'s': '" + "\\'" * (MB // 2) + "'}", None, id="many-escapes"),
    ],
)
def test_repair_json_hostile_megabyte(raw: str, check: str | None, no_hang: NoHang) -> None:
    with no_hang():
        if check is None:
            value = repair_json(raw)
            assert isinstance(value, dict)
            assert len(json.dumps(value)) > MB // 2
        else:
            with pytest.raises(ValueError, match=f"^{re.escape(check)}$"):
                repair_json(raw)


# --- parse_arguments -------------------------------------------------------------------------------


def test_parse_arguments_object_is_copied() -> None:
    raw = {"location": "Paris", "days": [1, 2]}
    args = parse_arguments(raw)
    assert args == raw
    args["days"].append(3)
    assert raw["days"] == [1, 2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, {}),
        ("", {}),
        ("  \n", {}),
        ('{"expression": "2+2"}', {"expression": "2+2"}),
        ("{'expression': '2+2',}", {"expression": "2+2"}),
        ('{"expression": "2+2"', {"expression": "2+2"}),
        ('"{\\"a\\": 1}"', {"a": 1}),
        ("{}", {}),
    ],
)
def test_parse_arguments(raw: str | None, expected: dict[str, Any]) -> None:
    assert parse_arguments(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", 'tool arguments must be a JSON object like {"key": value}, got an array'),
        ('"2+2"', 'tool arguments must be a JSON object like {"key": value}, got a string'),
        ("42", 'tool arguments must be a JSON object like {"key": value}, got a number'),
        ("null", 'tool arguments must be a JSON object like {"key": value}, got null'),
        ("true", 'tool arguments must be a JSON object like {"key": value}, got a boolean'),
        ('{"a": 1 "b": 2}', "expected ',' or '}' after value at line 1 column 9"),
    ],
)
def test_parse_arguments_errors(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_arguments(raw)


# --- structured tool_calls -------------------------------------------------------------------------


def test_ollama_native_tool_call_recording(wire: Wire) -> None:
    message = wire("ollama-chat_qwen3-32b_nonstream_tool-call_thinking_abridged.json")["response"]["json"][
        "message"
    ]
    calls, bad = structured_tool_calls(message["tool_calls"])
    assert calls == [ToolCall(name="get_weather", args={"location": "Paris"}, id="call_d1imwj4g")]
    assert bad == []
    assert parse_text_tool_calls(message["content"]).calls == []


def test_openai_tool_call_recording(wire: Wire) -> None:
    recording = wire("openrouter_qwen3-30b-a3b-instruct-2507_nonstream_tool-call.json")
    message = recording["response"]["json"]["choices"][0]["message"]
    calls, bad = structured_tool_calls(message["tool_calls"])
    assert calls == [
        ToolCall(
            name="final_result",
            args={"address": {"city": "London", "street": "12 Baker Street"}, "name": "Ada Lovelace"},
            id="chatcmpl-tool-a253f574b49dd571",
        )
    ]
    assert bad == []
    assert message["content"] is None


def test_structured_calls_missing_id_and_bad_arguments() -> None:
    calls, bad = structured_tool_calls(
        [
            {"function": {"index": 0, "name": "calc", "arguments": {"expression": "2+2"}}},
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "calc", "arguments": '{"a": 1 "b": 2}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "calc", "arguments": "[1]"}},
            {"id": "call_3", "type": "function", "function": {"arguments": "{}"}},
            {"id": "call_4", "type": "function", "function": {"name": "calc", "arguments": "{'x': 1,}"}},
        ]
    )
    assert named(calls[:1]) == [("calc", {"expression": "2+2"})]
    assert calls[1] == ToolCall(name="calc", args={"x": 1}, id="call_4")
    assert bad == [
        BadToolCall(
            raw='{"a": 1 "b": 2}',
            error="invalid arguments for tool 'calc': expected ',' or '}' after value at line 1 column 9",
            name="calc",
            id="call_1",
        ),
        BadToolCall(
            raw="[1]",
            error="invalid arguments for tool 'calc': tool arguments must be a JSON object like "
            '{"key": value}, got an array',
            name="calc",
            id="call_2",
        ),
        BadToolCall(raw="{}", error="tool call without a function name", name=None, id="call_3"),
    ]


def test_structured_calls_none_and_empty() -> None:
    assert structured_tool_calls(None) == ([], [])
    assert structured_tool_calls([]) == ([], [])


# --- streamed tool-call deltas ---------------------------------------------------------------------


def _fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_vllm_argument_fragments_joined_by_index() -> None:
    """vLLM: id/type/name first, then ``arguments`` in small fragments; two calls, interleaved."""
    first = '{"city": "Paris", "unit": "celsius"}'
    second = '{"expression": "(3 + 4) * 12"}'
    stream = StreamedToolCalls()
    stream.feed(
        [{"index": 0, "id": "chatcmpl-tool-aa", "type": "function", "function": {"name": "get_weather"}}]
    )
    stream.feed(
        [{"index": 1, "id": "chatcmpl-tool-bb", "type": "function", "function": {"name": "calculator"}}]
    )
    for a, b in zip(_fragments(first, 3), _fragments(second, 2), strict=False):
        stream.feed([{"index": 1, "function": {"arguments": b}}, {"index": 0, "function": {"arguments": a}}])
    for b in _fragments(second, 2)[len(_fragments(first, 3)) :]:
        stream.feed([{"index": 1, "function": {"arguments": b}}])
    stream.feed(None)
    stream.feed([])
    assert stream.finish() == (
        [
            ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, "chatcmpl-tool-aa"),
            ToolCall("calculator", {"expression": "(3 + 4) * 12"}, "chatcmpl-tool-bb"),
        ],
        [],
    )


def test_llama_cpp_first_delta_has_empty_arguments() -> None:
    stream = StreamedToolCalls()
    stream.feed([{"index": 0, "id": "x1", "type": "function", "function": {"name": "calc", "arguments": ""}}])
    for piece in _fragments('{"expression": "2^10"}', 1):
        stream.feed([{"index": 0, "function": {"arguments": piece}}])
    assert stream.finish() == ([ToolCall("calc", {"expression": "2^10"}, "x1")], [])


def test_ollama_v1_whole_calls_in_one_delta() -> None:
    stream = StreamedToolCalls()
    stream.feed(
        [
            {
                "id": "call_a",
                "index": 0,
                "type": "function",
                "function": {"name": "f", "arguments": '{"x": 1}'},
            },
            {"id": "call_b", "index": 1, "type": "function", "function": {"name": "g", "arguments": "{}"}},
        ]
    )
    assert stream.finish() == ([ToolCall("f", {"x": 1}, "call_a"), ToolCall("g", {}, "call_b")], [])


def test_whole_calls_sharing_an_index_stay_apart() -> None:
    stream = StreamedToolCalls()
    stream.feed([{"id": "call_a", "index": 0, "function": {"name": "f", "arguments": '{"x": 1}'}}])
    stream.feed([{"id": "call_b", "index": 0, "function": {"name": "f", "arguments": '{"x": 2}'}}])
    assert stream.finish() == ([ToolCall("f", {"x": 1}, "call_a"), ToolCall("f", {"x": 2}, "call_b")], [])


def test_streamed_calls_without_index_or_id() -> None:
    stream = StreamedToolCalls()
    stream.feed([{"id": "c1", "function": {"name": "f", "arguments": '{"a":'}}])
    stream.feed([{"id": "c1", "function": {"arguments": " 1}"}}])
    stream.feed([{"function": {"index": 7, "name": "native", "arguments": {"b": 2}}}])
    calls, bad = stream.finish()
    assert calls[0] == ToolCall("native", {"b": 2}, calls[0].id)
    assert CALL_ID.fullmatch(calls[0].id)
    assert calls[1] == ToolCall("f", {"a": 1}, "c1")
    assert bad == []


def test_streamed_call_with_broken_arguments() -> None:
    stream = StreamedToolCalls()
    stream.feed([{"index": 0, "id": "c1", "type": "function", "function": {"name": "calc", "arguments": ""}}])
    stream.feed([{"index": 0, "function": {"arguments": '{"expression": '}}])
    stream.feed([{"index": 0, "function": {"arguments": '"2+2" "x"}'}}])
    stream.feed([{"index": 1, "function": {"arguments": "{}"}}])
    calls, bad = stream.finish()
    assert calls == []
    assert bad == [
        BadToolCall(
            raw='{"expression": "2+2" "x"}',
            error="invalid arguments for tool 'calc': expected ',' or '}' after value at line 1 column 22",
            name="calc",
            id="c1",
        ),
        BadToolCall(raw="{}", error="tool call without a function name", id=bad[1].id),
    ]
    assert CALL_ID.fullmatch(bad[1].id or "")
    assert stream.finish() == (calls, bad)  # finishing again gives the same calls and ids


def test_streamed_truncated_arguments_are_closed() -> None:
    stream = StreamedToolCalls()
    stream.feed([{"index": 0, "id": "c1", "function": {"name": "calc", "arguments": '{"expression": "1+1"'}}])
    assert stream.finish() == ([ToolCall("calc", {"expression": "1+1"}, "c1")], [])


# --- tool calls written as text ------------------------------------------------------------------

CALC = '{"name": "calculator", "arguments": {"expression": "2+2"}}'
# Call-shaped but with an extra key: with an unknown tool name this stays answer text.
UNKNOWN_LOOSE = '{"name": "calculator", "arguments": {"expression": "2+2"}, "id": 1}'


@pytest.mark.parametrize(
    ("text", "tool_names", "calls", "rest"),
    [
        pytest.param(
            f"<tool_call>\n{CALC}\n</tool_call>", None, [("calculator", {"expression": "2+2"})], "", id="tag"
        ),
        pytest.param(
            f"Let me compute.\n<tool_call>\n{CALC}\n</tool_call>\nDone.",
            None,
            [("calculator", {"expression": "2+2"})],
            "Let me compute.\n\nDone.",
            id="tag-in-prose",
        ),
        pytest.param(
            '<tool_call>{"name": "a", "arguments": {}}</tool_call>'
            '<tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>',
            None,
            [("a", {}), ("b", {"x": 1})],
            "",
            id="two-tags",
        ),
        pytest.param(
            f"<tool_call>\n{CALC}", None, [("calculator", {"expression": "2+2"})], "", id="unclosed-last"
        ),
        pytest.param(
            '<tool_call>{"name": "a", "arguments": {}}\n'
            '<tool_call>{"name": "b", "arguments": {}}</tool_call>',
            None,
            [("a", {}), ("b", {})],
            "",
            id="unclosed-before-next-tag",
        ),
        pytest.param(
            "<tool_call>\n{'name': 'calculator', 'arguments': {'expression': '2+2',},}\n</tool_call>",
            None,
            [("calculator", {"expression": "2+2"})],
            "",
            id="tag-python-style-repaired",
        ),
        pytest.param(
            '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}\n</tool_call>',
            None,
            [("calculator", {"expression": "2+2"})],
            "",
            id="tag-unclosed-brace-repaired",
        ),
        pytest.param(
            '<tool_call>{"name": "invented_tool", "arguments": {}}</tool_call>',
            ["calculator"],
            [("invented_tool", {})],
            "",
            id="tag-name-not-checked",
        ),
        pytest.param(
            '<tool_call>{"name": "get_time"}</tool_call>',
            None,
            [("get_time", {})],
            "",
            id="tag-without-arguments",
        ),
        pytest.param(
            '<tool_call>{"type": "function", '
            '"function": {"name": "f", "arguments": "{\\"x\\": 1}"}}</tool_call>',
            None,
            [("f", {"x": 1})],
            "",
            id="tag-openai-shape",
        ),
        pytest.param(CALC, None, [("calculator", {"expression": "2+2"})], "", id="bare"),
        pytest.param(
            f"I will use the calculator.\n{CALC}\nThe result follows.",
            ["calculator"],
            [("calculator", {"expression": "2+2"})],
            "I will use the calculator.\n\nThe result follows.",
            id="bare-line-in-prose",
        ),
        pytest.param(
            '{"name": "calculator", "parameters": {"expression": "2+2"}}',
            None,
            [("calculator", {"expression": "2+2"})],
            "",
            id="bare-parameters-key",
        ),
        pytest.param(
            '{"name": "calculator", "arguments": "{\\"expression\\": \\"2+2\\"}"}',
            None,
            [("calculator", {"expression": "2+2"})],
            "",
            id="bare-string-arguments",
        ),
        pytest.param(
            "{'name': 'calculator', 'arguments': {'expression': '2+2'}}",
            ["calculator"],
            [("calculator", {"expression": "2+2"})],
            "",
            id="bare-python-style",
        ),
        pytest.param(
            f"```json\n{CALC}\n```", ["calculator"], [("calculator", {"expression": "2+2"})], "", id="fence"
        ),
        pytest.param(
            f"Calling it:\n```\n{CALC}\n```\nok",
            None,
            [("calculator", {"expression": "2+2"})],
            "Calling it:\n\nok",
            id="unlabelled-fence",
        ),
        pytest.param(
            '```json\n[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"y": 2}}]\n```',
            None,
            [("a", {}), ("b", {"y": 2})],
            "",
            id="fence-list",
        ),
        pytest.param(
            f"```json\n<tool_call>\n{CALC}\n</tool_call>\n```",
            None,
            [("calculator", {"expression": "2+2"})],
            "",
            id="tag-inside-fence",
        ),
        pytest.param(
            "<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n<parameter=days>\n3\n"
            '</parameter>\n<parameter=units>\n{"temp": "C"}\n</parameter>\n</function>\n</tool_call>',
            None,
            [("get_weather", {"location": "Paris", "days": 3, "units": {"temp": "C"}})],
            "",
            id="qwen3-coder-xml",
        ),
        pytest.param(
            "\n<tool_call>\n<function=run_code>\n<parameter=code>\n"
            "for i in range(3):\n    print(i)\n\n</parameter>",
            None,
            [("run_code", {"code": "for i in range(3):\n    print(i)\n"})],
            "",
            id="qwen3-coder-xml-leak-truncated",
        ),
    ],
)
def test_text_tool_calls(
    text: str, tool_names: list[str] | None, calls: list[tuple[str, dict[str, Any]]], rest: str
) -> None:
    found = parse_text_tool_calls(text, tool_names)
    assert named(found.calls) == calls
    assert found.bad == []
    assert found.text == rest


@pytest.mark.parametrize(
    ("text", "tool_names"),
    [
        pytest.param('{"city": "Paris", "country": "France"}', None, id="json-answer"),
        pytest.param('{"name": "Ada", "age": 36}', None, id="name-without-arguments"),
        pytest.param(UNKNOWN_LOOSE, ["search"], id="unknown-tool-bare-extra-key"),
        pytest.param(f"```json\n{UNKNOWN_LOOSE}\n```", ["search"], id="unknown-tool-fence-extra-key"),
        pytest.param('{"name": "two words", "arguments": {}}', ["search"], id="unknown-non-identifier"),
        pytest.param('```json\n[{"name": "a", "arguments": {}}, {"x": 1}]\n```', None, id="fence-list-mixed"),
        pytest.param(f"```python\n{CALC}\n```", None, id="python-fence"),
        pytest.param(f"Inline {CALC} mid-line", None, id="mid-line-object"),
        pytest.param('{"name": 3, "arguments": {}}', None, id="name-not-a-string"),
        pytest.param(
            "Use `<tool_call>` tags? No: ``` is a fence and { is a brace.", None, id="prose-with-markers"
        ),
        pytest.param("", None, id="empty"),
    ],
)
def test_text_that_is_not_a_tool_call(text: str, tool_names: list[str] | None) -> None:
    found = parse_text_tool_calls(text, tool_names)
    assert found.calls == []
    assert found.bad == []
    assert found.text == text.strip()


@pytest.mark.parametrize(
    ("text", "tool_names", "bad", "rest"),
    [
        pytest.param(
            '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}}\n</tool_call>',
            None,
            BadToolCall(
                raw='{"name": "calculator", "arguments": {"expression": "2+2"}}}',
                error="invalid JSON in <tool_call>: "
                "unexpected text after the JSON value at line 1 column 59: '}'",
                name="calculator",
            ),
            "",
            id="tag-extra-brace",
        ),
        pytest.param(
            'Sure.\n<tool_call>{"name": "calculator" "arguments": {}}</tool_call>',
            None,
            BadToolCall(
                raw='{"name": "calculator" "arguments": {}}',
                error="invalid JSON in <tool_call>: expected ',' or '}' after value at line 1 column 23",
            ),
            "Sure.",
            id="tag-missing-comma",
        ),
        pytest.param(
            "<tool_call></tool_call>",
            None,
            BadToolCall(raw="", error='empty <tool_call> block: write {"name": ..., "arguments": {...}}'),
            "",
            id="tag-empty",
        ),
        pytest.param(
            '<tool_call>["calculator", "2+2"]</tool_call>',
            None,
            BadToolCall(
                raw='["calculator", "2+2"]',
                error='a <tool_call> must hold {"name": "<tool>", "arguments": {...}}',
            ),
            "",
            id="tag-not-an-object",
        ),
        pytest.param(
            '<tool_call>{"name": "calculator", "arguments": [1]}</tool_call>',
            None,
            BadToolCall(
                raw='{"name": "calculator", "arguments": [1]}',
                error="invalid arguments for tool 'calculator': tool arguments must be a JSON object like "
                '{"key": value}, got an array',
                name="calculator",
            ),
            "",
            id="tag-arguments-not-object",
        ),
        pytest.param(
            "<tool_call>\n<function=>\n</function></tool_call>",
            None,
            BadToolCall(raw="<function=>\n</function>", error="expected <function=NAME> inside <tool_call>"),
            "",
            id="xml-without-name",
        ),
        pytest.param(
            '```json\n{"name": "calculator", "arguments": {"expression": "2+2"}}}\n```',
            ["calculator"],
            BadToolCall(
                raw='{"name": "calculator", "arguments": {"expression": "2+2"}}}',
                error="invalid JSON in tool call: "
                "unexpected text after the JSON value at line 1 column 59: '}'",
                name="calculator",
            ),
            "",
            id="fence-extra-brace",
        ),
        pytest.param(
            'Computing:\n{"name": "calculator", "arguments": {"expression": "2+2" "x"}}',
            ["calculator"],
            BadToolCall(
                raw='{"name": "calculator", "arguments": {"expression": "2+2" "x"}}',
                error="invalid JSON in tool call: expected ',' or '}' after value at line 1 column 58",
                name="calculator",
            ),
            "Computing:",
            id="bare-broken",
        ),
    ],
)
def test_broken_text_tool_calls(text: str, tool_names: list[str] | None, bad: BadToolCall, rest: str) -> None:
    found = parse_text_tool_calls(text, tool_names)
    assert found.calls == []
    assert found.bad == [bad]
    assert found.text == rest


def test_broken_bare_object_for_unknown_tool_is_text() -> None:
    text = '{"name": "weather", "arguments": {"city": "Paris" "x"}}'
    assert parse_text_tool_calls(text, ["calculator"]).text == text


def test_tool_call_inside_thinking_is_not_returned() -> None:
    text = (
        "<think>\nI could write <tool_call>\n" + CALC + "\n</tool_call> but the answer is known.\n"
        "```json\n" + CALC + "\n```\n</think>\n\nThe answer is 4."
    )
    found = parse_text_tool_calls(text)
    assert found.calls == []
    assert found.bad == []
    assert found.text == text
    lone = (
        f"I might call\n{CALC}\n</think>\n\n<tool_call>\n" + '{"name": "real", "arguments": {}}</tool_call>'
    )
    assert named(parse_text_tool_calls(lone).calls) == [("real", {})]


def test_repeated_calls_are_kept_once() -> None:
    """Small models repeat a call: identical name and arguments count once, the first is kept."""
    again = '{"name": "calculator", "arguments": {"expression": "2+2"}}'
    reordered = '{"arguments": {"expression": "2+2"}, "name": "calculator"}'
    text = (
        f"<tool_call>{CALC}</tool_call>\n<tool_call>{again}</tool_call>\n{reordered}\n"
        f"```json\n{CALC}\n```\n<tool_call>"
        + '{"name": "calculator", "arguments": {"expression": "3+3"}}</tool_call>'
    )
    found = parse_text_tool_calls(text)
    assert named(found.calls) == [
        ("calculator", {"expression": "2+2"}),
        ("calculator", {"expression": "3+3"}),
    ]
    assert found.text == ""
    broken = "<tool_call>{oops}</tool_call>" * 3
    assert len(parse_text_tool_calls(broken).bad) == 1


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{\n" * (MB // 2), id="line-braces"),
        pytest.param('{"name": "x", "arguments": [\n' * (MB // 30), id="nested-call-lines"),
        pytest.param('{"name": "a", "arguments": {\n' * (MB // 30), id="broken-call-lines"),
        pytest.param("<tool_call>" * (MB // 11), id="tags"),
        pytest.param('<tool_call>{"name": "a", "arguments": {"x": "' + "y" * MB, id="huge-open-tag"),
        pytest.param("```json\n" * (MB // 8), id="fences"),
        pytest.param("`" * MB, id="backticks"),
        pytest.param("<think>" * (MB // 7), id="think-tags"),
        pytest.param('{"name": "a", "arguments": {}}\n' * (MB // 32), id="repeated-calls"),
        pytest.param('{"name": "calc", "arguments": {"x": "' + "y" * MB + '"}}', id="huge-valid-call"),
    ],
)
def test_text_tool_calls_hostile_megabyte(text: str, no_hang: NoHang) -> None:
    with no_hang():
        found = parse_text_tool_calls(text)
    assert len(found.calls) <= 1
    assert len(found.bad) <= 2


def test_typographic_quotes_as_delimiters_are_repaired() -> None:
    """Seen from Qwen2.5-Coder-1.5B on llama.cpp after a forced-call prefill."""
    raw = (
        "{\u201cname\u201d: \u201ccalculator\u201d, \u201carguments\u201d: "
        '{"expression\u201d: \u201c(2020*1.15)^4\u201d}}'
    )
    assert repair_json(raw) == {"name": "calculator", "arguments": {"expression": "(2020*1.15)^4"}}
    found = parse_text_tool_calls(f"<tool_call>\n{raw}\n</tool_call>")
    assert [(c.name, c.args) for c in found.calls] == [("calculator", {"expression": "(2020*1.15)^4"})]


def test_typographic_quotes_inside_strings_stay_text() -> None:
    assert repair_json('{"quote": "he said \u201chi\u201d",}') == {"quote": "he said \u201chi\u201d"}


@pytest.mark.parametrize("text", [CALC, f"```json\n{CALC}\n```", f"Let me compute:\n{CALC}"])
def test_exact_call_object_with_an_unknown_name_is_still_a_call(text: str) -> None:
    """Seen from Qwen2.5-Coder-1.5B: it calls an operation as a tool ("differentiate" for symbolic).

    Returned as a call, so the graph can answer with the real tools instead of showing raw JSON.
    """
    found = parse_text_tool_calls(text, ["search"])
    assert [c.name for c in found.calls] == ["calculator"]
    assert found.text == ("Let me compute:" if text.startswith("Let") else "")

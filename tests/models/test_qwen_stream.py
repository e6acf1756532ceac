"""Streaming: every chunk through ``field_thinking`` + ``ContentStream`` / ``StreamedToolCalls``.

The joined stream must equal the non-streamed reading of the same text, and no thinking may leak into
the answer. Real streams come from ``tests/fixtures/wire`` (see its README for sources and licences);
the others are built from vLLM's, llama.cpp's and Ollama's documented wire formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest

from graphs.models.qwen import (
    BadToolCall,
    ContentStream,
    Piece,
    StreamedToolCalls,
    ToolCall,
    field_thinking,
    parse_text_tool_calls,
    split_think,
    structured_tool_calls,
)

Wire = Callable[[str], dict[str, Any]]

CALC = '{"name": "calculator", "arguments": {"expression": "2+2"}}'


@dataclass
class Streamed:
    """What a client shows for one streamed response."""

    thinking: str = ""
    text: str = ""
    pieces: list[Piece] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    bad: list[BadToolCall] = field(default_factory=list)
    text_calls: list[ToolCall] = field(default_factory=list)


def sse_deltas(events: Iterable[str]) -> list[dict[str, Any]]:
    """The ``choices[0].delta`` of each ``data:`` event (``[DONE]`` skipped)."""
    deltas = []
    for event in events:
        payload = event.removeprefix("data: ")
        if payload != "[DONE]":
            deltas.append(json.loads(payload)["choices"][0]["delta"])
    return deltas


def sse(deltas: Iterable[Mapping[str, Any]], *, model: str = "Qwen/Qwen3-8B") -> list[str]:
    """Wire-format SSE events for ``deltas`` (vLLM's chunk shape), ending with ``[DONE]``."""
    events = []
    for delta in deltas:
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1750000000,
            "model": model,
            "choices": [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": None}],
        }
        events.append("data: " + json.dumps(chunk, separators=(",", ":")))
    return [*events, "data: [DONE]"]


def run(
    deltas: Iterable[Mapping[str, Any]],
    *,
    content_key: str = "content",
    expect_thinking: bool = False,
    tool_names: list[str] | None = None,
) -> Streamed:
    """Feed each delta the way a transport does; join what would be shown."""
    content = ContentStream(expect_thinking=expect_thinking, detect_tool_calls=True)
    streamed_calls = StreamedToolCalls()
    out = Streamed()
    for delta in deltas:
        out.thinking += field_thinking(delta)
        out.pieces += content.feed(delta.get(content_key) or "")
        streamed_calls.feed(delta.get("tool_calls"))
    pieces, text_calls = content.finish(tool_names)
    out.pieces += pieces
    out.calls, out.bad = streamed_calls.finish()
    out.text_calls = text_calls.calls
    out.thinking += "".join(p.text for p in out.pieces if p.kind == "thinking")
    out.text = "".join(p.text for p in out.pieces if p.kind == "text")
    assert text_calls.text == out.text
    assert all(p.text for p in out.pieces), "no empty pieces"
    return out


def chunked(text: str, size: int) -> list[dict[str, Any]]:
    return [{"content": text[i : i + size]} for i in range(0, len(text), size)]


def named(calls: list[ToolCall]) -> list[tuple[str, dict[str, Any]]]:
    return [(call.name, call.args) for call in calls]


# --- real recorded streams ------------------------------------------------------------------------


def test_ollama_native_stream_thinking_only(wire: Wire) -> None:
    lines = wire("ollama-chat_qwen3-32b_stream_thinking_excerpt.json")["response"]["ndjson_lines"]
    chunks = [json.loads(line) for line in lines]
    out = run(chunk["message"] for chunk in chunks)
    assert out.thinking == "Okay,"
    assert out.text == ""
    assert out.pieces == []
    assert chunks[-1]["done_reason"] == "length"


@pytest.mark.parametrize(("key", "thinking"), [("sse_events", "Okay"), ("additional_excerpt", "Okay, the")])
def test_ollama_v1_stream_reasoning(wire: Wire, key: str, thinking: str) -> None:
    events = wire("ollama-v1_qwen3-32b_stream_reasoning_excerpt.json")["response"][key]
    out = run(sse_deltas(events))
    assert out.thinking == thinking
    assert out.text == ""


def test_vllm_doc_reasoning_stream(wire: Wire) -> None:
    events = wire("vllm_deepseek-r1-distill-qwen-1.5b_stream_reasoning-delta_doc.json")["response"][
        "sse_events"
    ]
    assert run(sse_deltas(events)).thinking == "is"


OLLAMA_RABBIT_ANSWERS = [
    "A rabbit is a small, agile mammal with long ears and a fluffy coat, often found in grasslands and "
    "fields, known for its quick movements and natural camouflage. Its large eyes and alert nature help it "
    "thrive in diverse environments.",
    "A rabbit is a small, agile mammal with fluffy ears, a short tail, and a sleek body, known for its "
    "rapid hopping and cautious nature. It often hides in burrows or underbrush, relying on its keen senses "
    "to avoid predators.",
]


def _generate_streams(wire: Wire) -> list[list[dict[str, Any]]]:
    """The recording holds two ``/api/generate`` streams back to back; split them at ``done``."""
    lines = wire("ollama-generate_qwen3-1.7b_stream_inline-think.json")["response"]["ndjson_lines"]
    streams: list[list[dict[str, Any]]] = [[]]
    for line in lines:
        chunk = json.loads(line)  # JSON first: the wire escapes the tags as \u003cthink\u003e
        streams[-1].append(chunk)
        if chunk["done"]:
            streams.append([])
    return streams[:-1]


@pytest.mark.parametrize("expect_thinking", [False, True])
@pytest.mark.parametrize("which", [0, 1])
def test_ollama_generate_inline_think_stream(wire: Wire, which: int, expect_thinking: bool) -> None:
    raw_lines = wire("ollama-generate_qwen3-1.7b_stream_inline-think.json")["response"]["ndjson_lines"]
    assert '"response":"\\u003cthink\\u003e"' in raw_lines[0]  # tags are escaped on the wire
    chunks = _generate_streams(wire)[which]
    responses = [chunk["response"] for chunk in chunks]
    # Expected thinking, read from the chunk structure alone: the tags arrive as whole chunks.
    opened, closed = responses.index("<think>"), responses.index("</think>")
    expected_thinking = "".join(responses[opened + 1 : closed]).strip()
    assert expected_thinking.startswith(
        "Okay, the user wants me to describe a rabbit in two short sentences."
    )
    assert len(expected_thinking) == (656, 1054)[which]

    out = run(chunks, content_key="response", expect_thinking=expect_thinking)
    assert out.thinking == expected_thinking
    assert out.text == OLLAMA_RABBIT_ANSWERS[which]
    assert "think>" not in out.text and "the user wants" not in out.text  # no thinking leaks
    assert "A rabbit is" not in out.thinking
    assert (out.thinking, out.text) == split_think("".join(responses))
    kinds = [p.kind for p in out.pieces]
    assert kinds == ["thinking"] * kinds.count("thinking") + ["text"] * kinds.count("text")
    assert kinds.count("thinking") > 100  # shown as it streams, one piece per token, not held back

    rechunked = run(chunked("".join(responses), 1), expect_thinking=expect_thinking)
    assert (rechunked.thinking, rechunked.text) == (out.thinking, out.text)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 1000])
def test_groq_inline_think_streamed(wire: Wire, size: int) -> None:
    content = wire("groq_qwen3-32b_nonstream_inline-think.json")["response"]["json"]["choices"][0]["message"]
    out = run(chunked(content["content"], size), expect_thinking=True)
    assert (out.thinking, out.text) == split_think(content["content"])
    assert out.text == "4"


def test_ollama_v1_json_answer_is_not_a_tool_call(wire: Wire) -> None:
    """A structured-output answer opens with ``{``: held as a possible call, then shown as text."""
    message = wire("ollama-v1_qwen3-0.6b_nonstream_reasoning_json-schema.json")["response"]["json"][
        "choices"
    ][0]
    out = run(chunked(message["message"]["content"], 4), tool_names=["get_weather"])
    assert out.text == '{ "city": "Paris", "country": "France" }'
    assert out.text_calls == []
    assert out.pieces == [Piece("text", '{ "city": "Paris", "country": "France" }')]


def test_ollama_native_tool_call_recording_as_one_chunk(wire: Wire) -> None:
    message = wire("ollama-chat_qwen3-32b_nonstream_tool-call_thinking_abridged.json")["response"]["json"][
        "message"
    ]
    out = run([message])
    assert out.thinking == message["thinking"]
    assert out.calls == [ToolCall("get_weather", {"location": "Paris"}, "call_d1imwj4g")]
    assert out.text == ""


# --- exchanges built from documented wire formats -------------------------------------------------

VLLM_THINKING = "The user wants the weather in Paris.\n\nI should call get_weather with city Paris."


def _fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_vllm_stream_reasoning_then_tool_call_fragments() -> None:
    """vLLM (reasoning parser qwen3, tool parser hermes): reasoning deltas, then argument fragments."""
    arguments = '{"city": "Paris", "days": 2}'
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"reasoning": piece} for piece in _fragments(VLLM_THINKING, 4)]
    deltas.append(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "chatcmpl-tool-9f2",
                    "type": "function",
                    "function": {"name": "get_weather"},
                }
            ]
        }
    )
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in _fragments(arguments, 3)]
    deltas.append({"content": None})
    out = run(sse_deltas(sse(deltas)), tool_names=["get_weather"])
    assert out.thinking == VLLM_THINKING
    assert out.text == ""
    assert out.calls == [ToolCall("get_weather", {"city": "Paris", "days": 2}, "chatcmpl-tool-9f2")]
    assert out.bad == []


def test_vllm_0_11_sends_both_reasoning_fields() -> None:
    deltas: list[dict[str, Any]] = [
        {"reasoning": p, "reasoning_content": p} for p in _fragments(VLLM_THINKING, 5)
    ]
    deltas += [
        {"content": p, "reasoning": None, "reasoning_content": None} for p in _fragments("It is sunny.", 3)
    ]
    out = run(sse_deltas(sse(deltas)))
    assert out.thinking == VLLM_THINKING
    assert out.text == "It is sunny."


def test_vllm_thinking_off_tool_call_arrives_as_content() -> None:
    """vLLM, streaming, ``enable_thinking=false``: ``<tool_call>`` text in content, ``tool_calls: []``."""
    tokens = [
        "<tool_call>",
        "\n",
        '{"',
        "name",
        '":',
        ' "',
        "calculator",
        '",',
        ' "',
        "arguments",
        '":',
        " {",
        '"',
    ]
    tokens += ["expression", '":', ' "', "2", "+", "2", '"}}', "\n", "</tool_call>"]
    deltas = [{"content": token, "tool_calls": []} for token in tokens]
    out = run(sse_deltas(sse(deltas)), tool_names=["calculator"])
    assert named(out.text_calls) == [("calculator", {"expression": "2+2"})]
    assert out.calls == []
    assert out.text == ""
    assert out.pieces == []


def test_llama_cpp_qwen3_coder_xml_leak_before_tool_call_deltas() -> None:
    """llama.cpp + Qwen3-Coder: the start of the XML call leaks into content, then proper deltas follow."""
    leak = [
        "\n",
        "<tool_call>",
        "\n",
        "<function=",
        "get_weather",
        ">",
        "\n",
        "<parameter=",
        "city",
        ">",
        "\n",
    ]
    deltas: list[dict[str, Any]] = [{"content": piece} for piece in leak]
    deltas.append(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "Xq1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    )
    deltas += [
        {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in ['{"city', '": "Par', 'is"}']
    ]
    out = run(sse_deltas(sse(deltas, model="qwen3-coder")), tool_names=["get_weather"])
    assert out.text == ""  # the leaked XML never shows as answer
    assert out.calls == [ToolCall("get_weather", {"city": "Paris"}, "Xq1")]
    assert named(out.text_calls) == [("get_weather", {"city": ""})]  # the truncated leak, for the record


def test_ollama_native_stream_tool_call_whole_in_one_chunk() -> None:
    lines = [
        {
            "model": "qwen3:8b",
            "message": {"role": "assistant", "content": "", "thinking": "Need "},
            "done": False,
        },
        {
            "model": "qwen3:8b",
            "message": {"role": "assistant", "content": "", "thinking": "weather."},
            "done": False,
        },
        {
            "model": "qwen3:8b",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_k2",
                        "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
                    }
                ],
            },
            "done": False,
        },
        {
            "model": "qwen3:8b",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
        },
    ]
    chunks = [json.loads(json.dumps(line)) for line in lines]
    out = run(chunk["message"] for chunk in chunks)
    assert out.thinking == "Need weather."
    assert out.calls == [ToolCall("get_weather", {"city": "Paris"}, "call_k2")]
    per_chunk = [structured_tool_calls(chunk["message"].get("tool_calls")) for chunk in chunks]
    assert [calls for calls, _ in per_chunk if calls] == [
        [ToolCall("get_weather", {"city": "Paris"}, "call_k2")]
    ]


def test_ollama_v1_stream_tool_call_whole_in_one_delta() -> None:
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": "", "reasoning": "Weather tool."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_x9",
                    "index": 0,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "assistant", "content": ""},
    ]
    out = run(sse_deltas(sse(deltas, model="qwen3:8b")))
    assert out.thinking == "Weather tool."
    assert out.calls == [ToolCall("get_weather", {"city": "Paris"}, "call_x9")]
    assert out.text == ""


def test_small_model_bare_json_call_streamed() -> None:
    """Qwen2.5-Coder on llama.cpp: no tags, a bare JSON object as the whole answer."""
    out = run(chunked(CALC, 3), tool_names=["calculator"])
    assert named(out.text_calls) == [("calculator", {"expression": "2+2"})]
    assert out.text == ""


# --- ContentStream behaviour ----------------------------------------------------------------------

EVERYTHING = (
    '<think>\nplan: use <b>calc</b>, maybe <tool_call>{"x"}</tool_call>\n</think>\n\nLet me check.\n'
    f"<tool_call>\n{CALC}\n</tool_call>"
)


@pytest.mark.parametrize("expect_thinking", [False, True])
@pytest.mark.parametrize("cut", range(len(EVERYTHING) + 1))
def test_every_split_position(cut: int, expect_thinking: bool) -> None:
    out = run([{"content": EVERYTHING[:cut]}, {"content": EVERYTHING[cut:]}], expect_thinking=expect_thinking)
    assert out.thinking == 'plan: use <b>calc</b>, maybe <tool_call>{"x"}</tool_call>'
    assert out.text == "Let me check."
    assert named(out.text_calls) == [("calculator", {"expression": "2+2"})]


PRE_INSERTED = "plan first\n</think>\n\nThe answer is 4."


@pytest.mark.parametrize("cut", range(len(PRE_INSERTED) + 1))
def test_every_split_position_pre_inserted_think(cut: int) -> None:
    out = run([{"content": PRE_INSERTED[:cut]}, {"content": PRE_INSERTED[cut:]}], expect_thinking=True)
    assert (out.thinking, out.text) == ("plan first", "The answer is 4.")


@pytest.mark.parametrize("expect_thinking", [False, True])
@pytest.mark.parametrize(
    "content",
    [
        "<think>\nx\n</think>\n\ny",
        "<think>\n\n</think>\n\n4",
        "<think>length stop",
        "plain answer",
        "  \n padded \n ",
        "<thinking>is not a tag</thinking>",
        "<",
        "",
        '{"city": "Paris"}',
        "```python\nprint(1)\n```\nDone.",
        "a <toolbox> b `<tool_call>` c",
        "Here:\n```json\n" + CALC + "\n```\nSent.",
        "<think>a</think>b\n<tool_call>\n" + CALC,
        "```json\n" + CALC + "\n```",
        "```\n" + CALC + "\n```\nthen text",
        '{"draft": 1} first</think>\n\nThen the answer.',
    ],
)
def test_per_character_stream_equals_non_streamed(content: str, expect_thinking: bool) -> None:
    out = run(chunked(content, 1), expect_thinking=expect_thinking, tool_names=["calculator"])
    thinking, answer = split_think(content)
    found = parse_text_tool_calls(answer, ["calculator"])
    assert (out.thinking, out.text) == (thinking, found.text)
    assert named(out.text_calls) == named(found.calls)


def test_expect_thinking_holds_text_until_close() -> None:
    stream = ContentStream(expect_thinking=True)
    assert stream.feed("Okay, the user") == []
    assert stream.feed(" asks.\n</th") == []
    assert stream.feed("ink>\n\nFour") == [
        Piece("thinking", "Okay, the user asks."),
        Piece("text", "Four"),
    ]
    assert stream.feed(".") == [Piece("text", ".")]
    assert stream.finish()[0] == []


def test_expect_thinking_without_close_is_answer() -> None:
    stream = ContentStream(expect_thinking=True)
    assert stream.feed("Just ") == []
    assert stream.feed("an answer") == []
    pieces, found = stream.finish()
    assert pieces == [Piece("text", "Just an answer")]
    assert found.text == "Just an answer"


def test_lone_close_without_expect_thinking() -> None:
    """Without ``expect_thinking`` text shows at once; a later ``</think>`` only counts if none showed."""
    stream = ContentStream()
    assert stream.feed("plan</think>answer") == [Piece("thinking", "plan"), Piece("text", "answer")]
    late = ContentStream()
    assert late.feed("pl") == [Piece("text", "pl")]
    assert late.feed("an</think>answer") == [Piece("text", "an</think>answer")]
    split = ContentStream()
    assert split.feed("plan</th") == [Piece("text", "plan")]  # shown before the tag completes
    assert split.feed("ink>x") == [Piece("text", "</think>x")]
    blank = ContentStream()
    assert blank.feed("\n\n") == []
    assert blank.feed("</thi") == []
    assert blank.feed("nk>\n\nx") == [Piece("text", "x")]


def test_lone_close_after_held_json_start() -> None:
    stream = ContentStream()
    assert stream.feed('{"draft": 1} first') == []  # held: it might be a tool call
    assert stream.feed("</think>\n\nanswer") == [
        Piece("thinking", '{"draft": 1} first'),
        Piece("text", "answer"),
    ]


def test_empty_think_block_vanishes() -> None:
    stream = ContentStream()
    pieces = stream.feed("<think>") + stream.feed("\n\n") + stream.feed("</think>") + stream.feed("\n\nHi")
    assert pieces == [Piece("text", "Hi")]
    assert stream.finish()[0] == []


def test_pieces_coalesce_within_one_feed() -> None:
    stream = ContentStream()
    assert stream.feed("<think>a b</think>c d") == [Piece("thinking", "a b"), Piece("text", "c d")]


def test_blanks_inside_sections_are_kept_and_edges_trimmed() -> None:
    stream = ContentStream()
    assert stream.feed("<think>\n") == []
    assert stream.feed("a") == [Piece("thinking", "a")]
    assert stream.feed("\n\n") == []
    assert stream.feed("b\n") == [Piece("thinking", "\n\nb")]
    assert stream.feed("</think>\n\n") == []
    assert stream.feed("x ") == [Piece("text", "x")]
    assert stream.feed(" y") == [Piece("text", "  y")]
    assert stream.finish()[0] == []


def test_text_before_tool_call_is_shown_and_call_held() -> None:
    stream = ContentStream()
    assert stream.feed("Let me check. <tool") == [Piece("text", "Let me check.")]
    assert stream.feed("_call>\n" + CALC[:10]) == []
    assert stream.feed(CALC[10:] + "\n</tool_call>") == []
    pieces, found = stream.finish(["calculator"])
    assert pieces == []
    assert named(found.calls) == [("calculator", {"expression": "2+2"})]
    assert found.text == "Let me check."


def test_partial_tag_that_is_not_a_tag_is_released() -> None:
    stream = ContentStream()
    assert stream.feed("a <tool") == [Piece("text", "a")]
    assert stream.feed("box> b") == [Piece("text", " <toolbox> b")]


def test_json_answer_is_held_then_shown() -> None:
    """An answer opening with ``{`` might be a call; when it is not, finish() shows it."""
    stream = ContentStream()
    assert stream.feed('{"city": ') == []
    assert stream.feed('"Paris"}') == []
    pieces, found = stream.finish(["calculator"])
    assert pieces == [Piece("text", '{"city": "Paris"}')]
    assert found.calls == []


def test_unknown_tool_in_loose_bare_json_is_answer_text() -> None:
    loose = CALC[:-1] + ', "id": 1}'
    stream = ContentStream()
    assert stream.feed(loose) == []
    pieces, found = stream.finish(["search"])
    assert pieces == [Piece("text", loose)]
    assert found.calls == []


def test_exact_call_object_with_unknown_tool_is_a_call() -> None:
    stream = ContentStream()
    assert stream.feed(CALC) == []
    pieces, found = stream.finish(["search"])
    assert pieces == []
    assert [c.name for c in found.calls] == ["calculator"]


def test_tool_call_inside_thinking_is_never_parsed() -> None:
    stream = ContentStream()
    pieces = stream.feed(f"<think>I could emit <tool_call>{CALC}</tool_call>\n") + stream.feed(
        "</think>Four."
    )
    more, found = stream.finish(["calculator"])
    assert pieces + more == [
        Piece("thinking", f"I could emit <tool_call>{CALC}</tool_call>"),
        Piece("text", "Four."),
    ]
    assert found.calls == []


def test_detection_off_shows_tool_call_text() -> None:
    stream = ContentStream(detect_tool_calls=False)
    assert stream.feed(f"<tool_call>{CALC}</tool_call>") == [Piece("text", f"<tool_call>{CALC}</tool_call>")]
    assert stream.finish(["calculator"])[1].calls == []


def test_broken_tagged_call_is_reported() -> None:
    stream = ContentStream()
    stream.feed('Sure.\n<tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}}</tool_call>')
    pieces, found = stream.finish(["calculator"])
    assert pieces == []
    assert found.calls == []
    assert [(bad.name, bad.error) for bad in found.bad] == [
        (
            "calculator",
            "invalid JSON in <tool_call>: unexpected text after the JSON value at line 1 column 59: '}'",
        )
    ]
    assert found.text == "Sure."


def test_finish_text_is_whole_answer() -> None:
    stream = ContentStream()
    stream.feed("<think>t</think>The answer")
    stream.feed(" is 4.\n<tool_call>\n" + CALC + "\n</tool_call>\nBye.")
    pieces, found = stream.finish(["calculator"])
    assert pieces == [Piece("text", "\n\nBye.")]
    assert found.text == "The answer is 4.\n\nBye."
    assert named(found.calls) == [("calculator", {"expression": "2+2"})]


def test_stream_of_half_a_megabyte_in_small_chunks(
    no_hang: Callable[[], AbstractContextManager[None]],
) -> None:
    """Held text (pending thinking, held tool calls) is not rescanned on every chunk."""
    body = "word " * 100_000
    with no_hang():
        for content, expect in [(body + "</think>ok", True), ("{" + body, False), ("<think>" + body, False)]:
            stream = ContentStream(expect_thinking=expect)
            shown = [piece for i in range(0, len(content), 3) for piece in stream.feed(content[i : i + 3])]
            shown += stream.finish()[0]
            assert "".join(p.text for p in shown) == "".join(split_think(content))


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_bare_call_after_a_preamble_line_is_held_back_and_parsed(chunk: int) -> None:
    """Seen from Qwen2.5-Coder-1.5B on llama.cpp: a sentence, a newline, then the call as bare JSON."""
    call = '{"name": "calculator", "arguments": {"expression": "17*23"}}'
    text = "Here's the calculation using the calculator tool:\n" + call
    stream = ContentStream(detect_tool_calls=True)
    pieces = [p for i in range(0, len(text), chunk) for p in stream.feed(text[i : i + chunk])]
    rest, found = stream.finish(["calculator"])
    shown = "".join(p.text for p in pieces + rest if p.kind == "text")
    assert shown == "Here's the calculation using the calculator tool:"
    assert [(c.name, c.args) for c in found.calls] == [("calculator", {"expression": "17*23"})]


def test_a_json_answer_on_its_own_line_is_released_as_text() -> None:
    text = 'The config is:\n{"retries": 3}'
    stream = ContentStream(detect_tool_calls=True)
    pieces = stream.feed(text)
    rest, found = stream.finish(["calculator"])
    assert "".join(p.text for p in pieces + rest) == text
    assert found.calls == []

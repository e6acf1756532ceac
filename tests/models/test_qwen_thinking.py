"""Thinking in every dialect (inline tags, dedicated fields) and the request-side controls.

Recorded responses come from ``tests/fixtures/wire`` (see its README for sources and licences).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from graphs.models.qwen import field_thinking, history_content, sampling_defaults, soft_switch, split_think

Wire = Callable[[str], dict[str, Any]]

GROQ_INLINE_THINKING = (
    "Okay, let's see... The user is asking for the sum of 2 and 2. Hmm, this seems straightforward. "
    "First, I should confirm that the numbers are in decimal, not binary or another base. Since the "
    'question uses the standard digits and the "+" symbol, I assume it\'s decimal. The problem is basic '
    "arithmetic. So, 2 plus 2 is 4. Wait, is there any trick here? Sometimes questions like this can be "
    "rhetorical or test if you're paying attention. But the user just wants the number, so I should give "
    "the correct answer without any extra text. Let me double-check. 2 added to 2 equals 4. Yeah, that's "
    'right. The user specified to reply with just the number, so I\'ll make sure to output "4" without '
    "any explanation."
)


def _message(recording: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = recording["response"]["json"]["choices"][0]["message"]
    return message


# --- split_think: inline tags -------------------------------------------------------------------


@pytest.mark.parametrize("expect_thinking", [False, True])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("<think>x</think>y", ("x", "y"), id="tags"),
        pytest.param("<think>\nplan\n</think>\n\nanswer\n", ("plan", "answer"), id="tags-blank-lines"),
        pytest.param("  \n<think>a</think>b", ("a", "b"), id="blank-before-open"),
        pytest.param("plan</think>\n\nanswer", ("plan", "answer"), id="pre-inserted-open"),
        pytest.param("<think>\n\n</think>\n\nanswer", ("", "answer"), id="empty-no-think-block"),
        pytest.param("<think>\n\n</think>", ("", ""), id="empty-block-only"),
        pytest.param("<think>still going", ("still going", ""), id="length-stop-while-thinking"),
        pytest.param("<think>", ("", ""), id="open-tag-only"),
        pytest.param("just an answer", ("", "just an answer"), id="no-tags"),
        pytest.param("  padded answer \n", ("", "padded answer"), id="no-tags-stripped"),
        pytest.param("", ("", ""), id="empty"),
        pytest.param("a</think>b</think>c", ("a", "b</think>c"), id="first-close-wins"),
        pytest.param(
            "<think>a</think>b <think>c</think>", ("a", "b <think>c</think>"), id="later-tags-are-text"
        ),
        pytest.param("x <think>y", ("", "x <think>y"), id="open-mid-text-is-text"),
    ],
)
def test_split_think(content: str, expected: tuple[str, str], expect_thinking: bool) -> None:
    assert split_think(content, expect_thinking=expect_thinking) == expected


def test_groq_inline_think_recording(wire: Wire) -> None:
    """Groq without reasoning_format returns raw ``<think>…</think>`` in ``content``."""
    message = _message(wire("groq_qwen3-32b_nonstream_inline-think.json"))
    assert field_thinking(message) == ""
    assert split_think(message["content"], expect_thinking=True) == (GROQ_INLINE_THINKING, "4")


def test_groq_no_think_recording(wire: Wire) -> None:
    message = _message(wire("groq_qwen3-32b_nonstream_no-think.json"))
    assert field_thinking(message) == ""
    assert split_think(message["content"]) == ("", "4")


def test_groq_parsed_reasoning_recording(wire: Wire) -> None:
    message = _message(wire("groq_qwen3-32b_nonstream_reasoning-parsed.json"))
    thinking = field_thinking(message)
    assert thinking.startswith(
        'Okay, let\'s see. The user is asking "What is 2+2?" and wants just the number'
    )
    assert thinking.endswith("I should just reply with the number as instructed.\n")  # not stripped
    assert thinking == message["reasoning"]
    assert split_think(message["content"]) == ("", "4")


def test_ollama_native_think_true_and_false(wire: Wire) -> None:
    bodies = wire("ollama-chat_qwen3-32b_nonstream_think-true-vs-false_abridged.json")["response"]["json"]
    on, off = bodies["think_true"]["message"], bodies["think_false"]["message"]
    assert field_thinking(on) == (
        "Okay, so I need to figure out what 15 multiplied by 7 is. Hmm, let's see. I remember that "
        "multiplication is just repeated addition, right? So 15 times 7 would be adding 15 seven times..."
    )
    assert split_think(on["content"]) == ("", "")  # length stop while thinking: no answer at all
    assert field_thinking(off) == ""
    assert split_think(off["content"]) == ("", "15 * 7 = 105.")


def test_ollama_native_thinks_by_default(wire: Wire) -> None:
    body = wire("ollama-chat_qwen3-32b_nonstream_thinking_default.json")["response"]["json"]
    assert field_thinking(body["message"]) == 'Okay, the user is asking "What is 2+2?" and wants the'
    assert split_think(body["message"]["content"], expect_thinking=True) == ("", "")
    assert body["done_reason"] == "length"


def test_ollama_generate_top_level_thinking(wire: Wire) -> None:
    """``/api/generate`` puts ``thinking`` beside ``response`` at the top level."""
    body = wire("ollama-generate_qwen3-32b_nonstream_thinking_default.json")["response"]["json"]
    assert field_thinking(body) == "Okay, so I need to figure"
    assert split_think(body["response"]) == ("", "")


def test_ollama_v1_reasoning_field(wire: Wire) -> None:
    message = _message(wire("ollama-v1_qwen3-32b_nonstream_reasoning.json"))
    assert field_thinking(message) == "Okay, the user asked me to say hello. This is a very simple and common"
    assert split_think(message["content"]) == ("", "")


def test_ollama_v1_reasoning_beside_json_answer(wire: Wire) -> None:
    message = _message(wire("ollama-v1_qwen3-0.6b_nonstream_reasoning_json-schema.json"))
    assert field_thinking(message).startswith("Okay, the user is asking for the capital of France.")
    assert field_thinking(message).endswith("Yep, I'm confident the answer is Paris.\n")
    assert split_think(message["content"]) == ("", '{ "city": "Paris", "country": "France" }')


def test_vllm_doc_reasoning_delta(wire: Wire) -> None:
    event = wire("vllm_deepseek-r1-distill-qwen-1.5b_stream_reasoning-delta_doc.json")["response"][
        "sse_events"
    ][0]
    delta = json.loads(event.removeprefix("data: "))["choices"][0]["delta"]
    assert field_thinking(delta) == "is"


# --- field_thinking: every dedicated field ------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param({"role": "assistant", "content": "", "thinking": "Okay"}, "Okay", id="ollama-native"),
        pytest.param({"content": "", "reasoning": " the"}, " the", id="ollama-v1-and-new-vllm"),
        pytest.param({"reasoning_content": "\n\n"}, "\n\n", id="old-vllm-blank-delta-kept"),
        pytest.param({"reasoning": "Hmm", "reasoning_content": "Hmm"}, "Hmm", id="vllm-0.11-both-read-once"),
        pytest.param({"reasoning_content": "old", "reasoning": None}, "old", id="null-reasoning-ignored"),
        pytest.param({"reasoning_content": "old", "reasoning": "new"}, "new", id="reasoning-preferred"),
        pytest.param({"content": "4", "reasoning": None, "refusal": None}, "", id="openrouter-nulls"),
        pytest.param({"content": "<think>x</think>y"}, "", id="inline-tags-are-not-a-field"),
        pytest.param({"reasoning": ""}, "", id="empty-string"),
        pytest.param({"thinking": 3}, "", id="not-a-string"),
        pytest.param({}, "", id="nothing"),
    ],
)
def test_field_thinking(message: dict[str, Any], expected: str) -> None:
    assert field_thinking(message) == expected


# --- request-side controls ----------------------------------------------------------------------


def test_sampling_defaults_follow_the_model_card() -> None:
    assert sampling_defaults(True) == {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    assert sampling_defaults(False) == {"temperature": 0.7, "top_p": 0.8, "top_k": 20}
    first = sampling_defaults(True)
    first["temperature"] = 0.0
    assert sampling_defaults(True)["temperature"] == 0.6  # a fresh dict each call


@pytest.mark.parametrize(
    ("text", "think", "expected"),
    [
        ("What is 2+2?", True, "What is 2+2? /think"),
        ("What is 2+2?", False, "What is 2+2? /no_think"),
        ("What is 2+2?\n\n", False, "What is 2+2? /no_think"),
        ("What is 2+2? /no_think", False, "What is 2+2? /no_think"),
        ("What is 2+2?\n/think", True, "What is 2+2?\n/think"),
        ("What is 2+2? /think", False, "What is 2+2? /no_think"),
        ("What is 2+2?\n/no_think  ", True, "What is 2+2? /think"),
        ("/think", False, "/no_think"),
        ("", True, "/think"),
        ("see path/think", True, "see path/think /think"),
        ("a /no_think b", True, "a /no_think b /think"),
    ],
)
def test_soft_switch(text: str, think: bool, expected: str) -> None:
    assert soft_switch(text, think) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<think>\nplan\n</think>\n\nThe answer is 4.", "The answer is 4."),
        ("plan</think>The answer is 4.", "The answer is 4."),
        ("The answer is 4.", "The answer is 4."),
        (
            [
                {"type": "reasoning", "reasoning": "plan"},
                {"type": "thinking", "thinking": "more plan"},
                {"type": "text", "text": "The answer "},
                "is ",
                {"type": "image_url", "image_url": {"url": "x"}},
                {"type": "text", "text": "4."},
            ],
            "The answer is 4.",
        ),
        ([{"type": "text", "text": "<think>old</think>\n\nkept"}], "kept"),
        ([], ""),
    ],
)
def test_history_content_drops_past_thinking(
    content: str | list[str | dict[str, Any]], expected: str
) -> None:
    assert history_content(content) == expected

"""Continuing a partial answer (prefill) and learning which stop string ended a reply."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from langchain_core.messages import HumanMessage

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.transports.base import ChatRequest
from graphs.models.transports.local import LocalTransport
from graphs.models.transports.openai import OpenAITransport
from tests.models.test_local import FakeEngine, model

QUESTION = [HumanMessage("What is 17*23?")]


def test_local_prefill_is_continued_and_the_reply_keeps_its_blanks() -> None:
    engine = FakeEngine(" 391 apples\n")
    reply = model(engine).invoke(QUESTION, prefill="17 * 23 =")
    assert engine.prompts[0].endswith("<|im_start|>assistant\n17 * 23 =")
    assert reply.text == " 391 apples\n", "a continuation joins onto the prefill: its blanks are content"
    plain = model(FakeEngine(" 391 apples\n")).invoke(QUESTION)
    assert plain.text == "391 apples", "without a prefill the answer is trimmed as before"


@pytest.mark.parametrize("stream", [False, True])
def test_local_stop_strings_are_cut_here_and_named(stream: bool) -> None:
    engine = FakeEngine("Then 17 * 23 \\approx 400 = wrong")
    chat = model(engine).model_copy(update={"disable_streaming": not stream})
    reply = chat.invoke(QUESTION, prefill="", stop=["=", "\\approx"])
    assert reply.text == "Then 17 * 23 "
    assert reply.response_metadata["stop_sequence"] == "\\approx"
    assert reply.response_metadata["finish_reason"] == "stop"
    assert "stop" not in engine.sampling[0], "llama.cpp would hide which stop string matched"


def test_local_stop_string_can_be_kept_at_the_end_of_the_text() -> None:
    engine = FakeEngine("Then 17 * 23 = 400")
    reply = model(engine).invoke(QUESTION, prefill="", stop=["="], include_stop=True)
    assert reply.text == "Then 17 * 23 =" and reply.response_metadata["stop_sequence"] == "="
    assert "include_stop_str_in_output" not in engine.sampling[0]


def test_local_reply_that_ends_on_its_own_has_no_stop_sequence() -> None:
    reply = model(FakeEngine("391")).invoke(QUESTION, stop=["="])
    assert reply.text == "391" and "stop_sequence" not in reply.response_metadata


def test_the_forced_tool_call_prefill_gives_way_to_an_explicit_prefill() -> None:
    tools = [{"type": "function", "function": {"name": "calculator", "description": "m", "parameters": {}}}]
    transport = LocalTransport("x", engine=FakeEngine())
    forced = ChatRequest(
        model="m", messages=[{"role": "user", "content": "hi"}], tools=tools, tool_choice="required"
    )
    assert transport.prompt(forced).endswith('<tool_call>\n{"name": "')
    forced.prefill = "Let me see"
    assert transport.prompt(forced).endswith("assistant\nLet me see")


def test_vllm_continues_the_final_assistant_message() -> None:
    transport = OpenAITransport("http://vllm.test")
    request = ChatRequest(model="Qwen/Qwen3-8B", messages=[{"role": "user", "content": "hi"}], prefill="x =")
    body = transport.payload(request)
    assert body["messages"][-1] == {"role": "assistant", "content": "x ="}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "continue_final_message" not in transport.payload(ChatRequest(model="m", messages=[]))


def _vllm_reply(stop_reason: object) -> dict[str, object]:
    return {
        "choices": [
            {
                "message": {"role": "assistant", "content": " 2 + 2 "},
                "finish_reason": "stop",
                "stop_reason": stop_reason,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3},
    }


@pytest.mark.parametrize(("reason", "expected"), [("=", "="), (151645, None), (None, None)])
def test_vllm_stop_reason_names_the_stop_string(reason: object, expected: str | None) -> None:
    chat = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url="http://vllm.test/v1", disable_streaming=True)
    with respx.mock(assert_all_called=True) as router:
        route = router.post("http://vllm.test/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=_vllm_reply(reason))
        )
        reply = chat.invoke(QUESTION, prefill="So", stop=["="], think=False, include_stop=True)
    sent = json.loads(route.calls[0].request.content)
    assert sent["stop"] == ["="] and sent["messages"][-1]["content"] == "So"
    assert sent["include_stop_str_in_output"] is True
    assert reply.text == " 2 + 2 "
    assert reply.response_metadata.get("stop_sequence") == expected


def test_vllm_streamed_stop_reason_is_kept() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"content": "2 + 2 "}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "="}]},
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    chat = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url="http://vllm.test/v1")
    with respx.mock(assert_all_called=True) as router:
        router.post("http://vllm.test/v1/chat/completions").mock(
            return_value=httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        chunks = list(chat.stream(QUESTION, prefill="", stop=["="], think=False))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.text == "2 + 2 " and merged.response_metadata["stop_sequence"] == "="


def test_ollama_says_it_cannot_continue_a_prefill() -> None:
    chat = ChatQwen(model="ollama:qwen3:8b", base_url="http://ollama.test")
    with pytest.raises(ConfigError, match=r"prefill.*local: model"):
        chat.invoke(QUESTION, prefill="x =")

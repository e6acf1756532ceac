"""ChatQwen against the loopback servers: sync/async, streamed or not, both server kinds."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from servers import OllamaServer, Turn, VLLMServer

from graphs.errors import ConfigError, ModelNotFound
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from tools import calculator

CALL = Turn(thinking="Use the tool.", tool_calls=[("calculator", {"expression": "2+2"})])
ANSWER = Turn(thinking="Easy.", content="It is 4.")


def model_for(server, **kwargs) -> ChatQwen:
    if isinstance(server, OllamaServer):
        return ChatQwen(model="ollama:qwen3:8b", base_url=server.url, **kwargs)
    return ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=server.base_url, **kwargs)


@pytest.fixture(params=["ollama", "vllm"])
def server(request):
    with OllamaServer([CALL, ANSWER]) if request.param == "ollama" else VLLMServer([CALL, ANSWER]) as s:
        yield s


def check_call(message: AIMessage) -> None:
    assert reasoning_text(message) == "Use the tool."
    assert message.text == ""
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("calculator", {"expression": "2+2"})]
    assert message.tool_calls[0]["id"]


def test_invoke_with_tools(server) -> None:
    model = model_for(server).bind_tools([calculator])
    first = model.invoke("What is 2+2?")
    check_call(first)
    assert first.usage_metadata and first.usage_metadata["input_tokens"] > 0
    assert first.response_metadata["finish_reason"] in {"stop", "tool_calls"}
    second = model.invoke(
        [HumanMessage("What is 2+2?"), first, ToolMessage("4", tool_call_id=first.tool_calls[0]["id"])]
    )
    assert second.text == "It is 4." and reasoning_text(second) == "Easy."


def test_stream_merges_into_the_same_message(server) -> None:
    model = model_for(server).bind_tools([calculator])
    chunks = list(model.stream("What is 2+2?"))
    assert len(chunks) > 2, "thinking should arrive in pieces"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    check_call(merged)
    answer = list(model.stream("next"))
    assert "".join(c.text for c in answer) == "It is 4."


async def test_async_invoke_and_stream(server) -> None:
    model = model_for(server).bind_tools([calculator])
    first = await model.ainvoke("What is 2+2?")
    check_call(first)
    texts = [c.text async for c in model.astream("again")]
    assert "".join(texts) == "It is 4."


def test_history_hygiene_and_system_prompt() -> None:
    """Earlier turns go back as answer text only; the current turn (after the last user message)
    keeps its own thinking, in the server's reasoning field and never in the content."""
    with VLLMServer([ANSWER]) as server:
        past = AIMessage(
            content=[{"type": "reasoning", "reasoning": "secret plan"}, {"type": "text", "text": "Hi!"}]
        )
        inline = AIMessage(content="<think>old thoughts</think>Sure.")
        model_for(server).invoke(
            [SystemMessage("Be brief."), HumanMessage("a"), past, HumanMessage("b"), inline]
        )
        sent = server.chat_requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in sent if m["role"] == "assistant"] == ["Hi!", "Sure."]
    assert "secret plan" not in json.dumps(sent)
    assert [m.get("reasoning") for m in sent if m["role"] == "assistant"] == [None, "old thoughts"]


def test_soft_switch_for_servers_without_template_kwargs() -> None:
    with VLLMServer([ANSWER]) as server:
        model_for(server, think=False, think_switch="soft_switch").invoke("hello")
        body = server.chat_requests[0]
    assert "chat_template_kwargs" not in body
    assert body["messages"][-1]["content"].endswith("/no_think")
    assert body["temperature"] == 0.7 and body["top_p"] == 0.8 and body["top_k"] == 20


def test_user_sampling_overrides_the_mode_defaults() -> None:
    with OllamaServer([ANSWER]) as server:
        model_for(server, temperature=0.1, max_tokens=64, seed=7).invoke("hello", think=True)
        body = server.chat_requests[0]
    assert body["options"] == {"temperature": 0.1, "top_p": 0.95, "top_k": 20, "num_predict": 64, "seed": 7}
    assert body["think"] is True


def test_text_form_tool_call_when_the_server_did_not_parse_it() -> None:
    raw = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call>'
    with VLLMServer([Turn(content=raw)]) as server:
        message = model_for(server).bind_tools([calculator]).invoke("6*7?")
    assert message.text == ""
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("calculator", {"expression": "6*7"})]


def test_unrepairable_tool_call_becomes_an_invalid_call_with_a_precise_error() -> None:
    raw = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7" "x"}}\n</tool_call>'
    with OllamaServer([Turn(content=raw)]) as server:
        message = model_for(server).bind_tools([calculator]).invoke("6*7?")
    assert message.tool_calls == []
    assert len(message.invalid_tool_calls) == 1
    assert message.invalid_tool_calls[0]["error"]
    assert (
        "line 1" in message.invalid_tool_calls[0]["error"]
        or "column" in message.invalid_tool_calls[0]["error"]
    )


def test_no_think_with_answer_in_reasoning_field_is_recovered() -> None:
    """vLLM's deepseek_r1 parser with thinking off puts the answer in reasoning_content."""
    with VLLMServer([Turn(thinking="The answer is 4.")], reasoning_style="reasoning_content") as server:
        message = model_for(server, think=False).invoke("2+2?")
    assert message.text == "The answer is 4."
    assert reasoning_text(message) == ""


def test_model_not_found_is_typed(ollama_server: OllamaServer) -> None:
    with pytest.raises(ModelNotFound) as caught:
        ChatQwen(model="ollama:nope:1b", base_url=ollama_server.url).invoke("hi")
    assert caught.value.model == "nope:1b" and "ollama pull nope:1b" in str(caught.value)


def test_a_tool_choice_naming_no_bound_tool_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"tool_choice 'weather'.*bound tools are calculator"):
        ChatQwen(model="ollama:x").bind_tools([calculator], tool_choice="weather")
    with pytest.raises(ConfigError, match="names no tool"):
        ChatQwen(model="ollama:x").bind_tools([calculator], tool_choice={"type": "function"})


def test_any_langchain_tool_schema_is_accepted() -> None:
    with OllamaServer([ANSWER]) as server:
        model_for(server).bind_tools(
            [{"type": "function", "function": {"name": "f", "parameters": {}}}]
        ).invoke("x")
        assert server.chat_requests[0]["tools"][0]["function"]["name"] == "f"


def test_messages_follow_langchain_conventions(server) -> None:
    """String content, thinking in reasoning_content and as a reasoning block; v1 output is blocks."""
    first = model_for(server).bind_tools([calculator]).invoke("What is 2+2?")
    assert first.content == "" and first.additional_kwargs["reasoning_content"] == "Use the tool."
    assert [b["type"] for b in first.content_blocks] == ["reasoning", "tool_call"]
    assert first.response_metadata["model_provider"] == "qwen"
    answer = model_for(server).invoke("next")
    assert answer.content == "It is 4." and answer.content.strip() == "It is 4."
    assert [(b["type"], b.get("reasoning") or b.get("text")) for b in answer.content_blocks] == [
        ("reasoning", "Easy."),
        ("text", "It is 4."),
    ]


def test_output_version_v1_gives_standard_blocks_as_content() -> None:
    with OllamaServer([ANSWER, ANSWER]) as server:
        model = model_for(server, output_version="v1")
        whole = model.invoke("hi")
        streamed = None
        for chunk in model.stream("hi"):
            streamed = chunk if streamed is None else streamed + chunk
    for message in (whole, streamed):
        assert isinstance(message.content, list)
        assert [b["type"] for b in message.content] == ["reasoning", "text"]
        assert message.content[1]["text"] == "It is 4."

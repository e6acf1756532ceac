"""An agent's own thinking goes back to it inside the turn, in each server's own field (issue 11).

A ReAct agent makes three tool calls in one turn on a loopback server; the requests the server
received show that calls two and three (and the final answer's request) carry the thinking of the
earlier calls *of this turn* in the field that server reads, and that the earlier turn's thinking is
never sent. The field names are the servers' documented wire formats: vLLM 0.17+ ``reasoning``
(0.20+ reads only that: QwenLM/qwen-code#4285), older vLLM ``reasoning_content``, Ollama's message
``thinking``, and SGLang / llama.cpp-style servers, which take no field, ``<think>`` inline in the
content as Qwen's templates split it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from servers import OllamaServer, Turn, VLLMServer

from graphs.models.chat import ChatQwen
from graphs.react import build_react

OLD_THOUGHT = "EARLIER-TURN reasoning that must not be sent back"
THOUGHTS = ["thought one: look up a", "thought two: now b", "thought three: finally c"]


@tool
def lookup(key: str) -> str:
    """Look up a value by key."""
    return {"a": "1", "b": "2", "c": "3"}[key]


def agent_script(body: dict[str, Any]) -> Turn:
    """Three calls in one turn, then the answer; which one depends on the tool results so far."""
    results = [m for m in body["messages"] if m.get("role") == "tool"]
    step = len(results)
    if step < 3:
        return Turn(thinking=THOUGHTS[step], tool_calls=[("lookup", {"key": "abc"[step]})])
    return Turn(thinking="all three known", content="a=1, b=2, c=3")


def run_agent(model: ChatQwen) -> dict[str, Any]:
    graph = build_react(model, [lookup], max_steps=6)
    history = [
        HumanMessage("What did we say before?"),
        AIMessage(
            content=[{"type": "reasoning", "reasoning": OLD_THOUGHT}, {"type": "text", "text": "Hello."}]
        ),
        HumanMessage("Look up a, b and c, one at a time."),
    ]
    return graph.invoke({"messages": history, "steps": 0})


def assistant_turns(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "assistant"]


def check_requests(requests: list[dict[str, Any]], own: Any) -> None:
    """``own(message)`` is the thinking a sent assistant message carries, or ``None``."""
    assert len(requests) == 4
    for index, request in enumerate(requests):
        sent = assistant_turns(request)
        assert OLD_THOUGHT not in json.dumps(request), f"request {index + 1} sent the earlier turn's thinking"
        assert own(sent[0]) is None and "Hello." in json.dumps(sent[0])
        assert [own(m) for m in sent[1:]] == THOUGHTS[:index]


@pytest.mark.parametrize("stream", [True, False])
def test_vllm_gets_this_turns_thinking_in_reasoning(stream: bool) -> None:
    with VLLMServer(agent_script, models=["Qwen/Qwen3-8B"]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=server.base_url, disable_streaming=not stream)
        final = run_agent(model)
        requests = server.chat_requests
    assert final["messages"][-1].text == "a=1, b=2, c=3"
    check_requests(requests, lambda m: m.get("reasoning"))
    for request in requests:
        assert request["chat_template_kwargs"] == {"enable_thinking": True}
        assert all("reasoning_content" not in m for m in request["messages"])
        assert all("<think>" not in str(m.get("content")) for m in request["messages"])


def test_older_vllm_gets_reasoning_content_when_asked() -> None:
    with VLLMServer(agent_script, reasoning_style="reasoning_content") as server:
        model = ChatQwen(
            model="openai:Qwen/Qwen3-8B", base_url=server.base_url, reasoning_field="reasoning_content"
        )
        run_agent(model)
        requests = server.chat_requests
    check_requests(requests, lambda m: m.get("reasoning_content"))
    assert all("reasoning" not in m for r in requests for m in r["messages"])


@pytest.mark.parametrize("stream", [True, False])
def test_ollama_gets_this_turns_thinking_in_thinking(stream: bool) -> None:
    with OllamaServer(agent_script, models=["qwen3:8b"]) as server:
        model = ChatQwen(model="ollama:qwen3:8b", base_url=server.url, disable_streaming=not stream)
        final = run_agent(model)
        requests = server.chat_requests
    assert final["messages"][-1].text == "a=1, b=2, c=3"
    check_requests(requests, lambda m: m.get("thinking"))
    assert all(r["think"] is True for r in requests)


def test_sglang_style_server_gets_this_turns_thinking_inline() -> None:
    """SGLang drops reasoning_content on input, so the thinking goes into the content, as
    ``<think>\\n…\\n</think>\\n\\n`` before the message's text (what Qwen's templates split)."""
    with VLLMServer(agent_script, reasoning_style="reasoning_content", models=["Qwen/Qwen3-32B"]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3-32B", base_url=server.base_url, reasoning_field="inline")
        run_agent(model)
        requests = server.chat_requests

    def inline(message: dict[str, Any]) -> str | None:
        content = message.get("content") or ""
        if not content.startswith("<think>\n"):
            return None
        thought, _, rest = content[len("<think>\n") :].partition("\n</think>\n\n")
        assert rest == "" and message["tool_calls"], "tool-call turns have no text after the thinking"
        return thought

    check_requests(requests, inline)
    assert all("reasoning" not in m and "reasoning_content" not in m for r in requests for m in r["messages"])


def test_preserve_thinking_sends_every_turns_thinking_to_qwen36() -> None:
    with VLLMServer(agent_script, models=["Qwen/Qwen3.6-27B"]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3.6-27B", base_url=server.base_url, preserve_thinking=True)
        run_agent(model)
        requests = server.chat_requests
    assert all(
        r["chat_template_kwargs"] == {"enable_thinking": True, "preserve_thinking": True} for r in requests
    )
    assert [m.get("reasoning") for m in assistant_turns(requests[-1])] == [OLD_THOUGHT, *THOUGHTS]

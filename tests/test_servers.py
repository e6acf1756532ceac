"""The loopback servers speak Ollama's and vLLM's wire formats, and the network guard holds."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from servers import (
    CALC_ANSWER,
    NetworkBlockedError,
    OllamaServer,
    Turn,
    VLLMServer,
    calculator_script,
)

USER = [{"role": "user", "content": "What is 17*23?"}]


def ndjson(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def sse(response: httpx.Response) -> list[str]:
    blocks = [b for b in response.text.split("\n\n") if b]
    assert all(b.startswith("data: ") for b in blocks), blocks
    return [b.removeprefix("data: ") for b in blocks]


# --------------------------------------------------------------------------- Ollama


def test_ollama_stream_thinking_then_tool_call_then_done(ollama_server: OllamaServer) -> None:
    r = httpx.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["transfer-encoding"] == "chunked"
    lines = ndjson(r)
    thinking = [ln for ln in lines if "thinking" in ln["message"]]
    assert len(thinking) > 3
    assert all(ln["message"]["content"] == "" and ln["done"] is False for ln in thinking)
    assert list(lines[0]) == ["model", "created_at", "message", "done"]
    calls = [ln for ln in lines if "tool_calls" in ln["message"]]
    assert len(calls) == 1
    (call,) = calls[0]["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert "type" not in call
    assert call["function"] == {"index": 0, "name": "calculator", "arguments": {"expression": "17*23"}}
    final = lines[-1]
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count"):
        assert isinstance(final[key], int)
    assert all(ln["done"] is False for ln in lines[:-1])


def test_ollama_non_stream_answer_after_tool(ollama_server: OllamaServer) -> None:
    messages = [*USER, {"role": "tool", "content": "391"}]
    body = {"model": "qwen3:8b", "messages": messages, "stream": False}
    r = httpx.post(f"{ollama_server.url}/api/chat", json=body)
    data = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert data["done"] is True
    assert data["message"]["content"] == CALC_ANSWER
    assert data["message"]["thinking"]
    assert "tool_calls" not in data["message"]
    assert ollama_server.chat_requests == [body]


def test_ollama_escapes_like_go(ollama_server: OllamaServer) -> None:
    ollama_server.script = [Turn(content="<think>x</think> & y")]
    r = httpx.post(
        f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER, "stream": False}
    )
    assert "\\u003cthink\\u003e" in r.text
    assert r.json()["message"]["content"] == "<think>x</think> & y"


def test_ollama_unknown_model_is_404_with_ollama_wording(ollama_server: OllamaServer) -> None:
    r = httpx.post(f"{ollama_server.url}/api/chat", json={"model": "qwen9:1b", "messages": USER})
    assert r.status_code == 404
    assert r.json() == {"error": 'model "qwen9:1b" not found, try pulling it first'}


def test_ollama_tags_version_show(ollama_server: OllamaServer) -> None:
    assert httpx.get(f"{ollama_server.url}/api/version").json() == {"version": "0.13.5"}
    tags = httpx.get(f"{ollama_server.url}/api/tags").json()
    assert [m["name"] for m in tags["models"]] == ["qwen3:8b", "qwen3:0.6b"]
    assert tags["models"][0]["details"]["family"] == "qwen3"
    show = httpx.post(f"{ollama_server.url}/api/show", json={"model": "qwen3:8b"}).json()
    assert "tools" in show["capabilities"]
    assert "thinking" in show["capabilities"]
    assert httpx.post(f"{ollama_server.url}/api/show", json={"model": "nope"}).status_code == 404


def test_script_list_and_exhaustion(ollama_server: OllamaServer) -> None:
    ollama_server.script = [Turn(content="one"), Turn(content="two")]
    url, body = f"{ollama_server.url}/api/chat", {"model": "qwen3:8b", "messages": USER, "stream": False}
    assert [httpx.post(url, json=body).json()["message"]["content"] for _ in range(2)] == ["one", "two"]
    r = httpx.post(url, json=body)
    assert r.status_code == 500
    assert "script exhausted" in r.json()["error"]


def test_length_override_and_content_pieces(ollama_server: OllamaServer) -> None:
    ollama_server.script = [Turn(thinking="a b", content="c d e", finish_reason="length")]
    lines = ndjson(httpx.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER}))
    assert "".join(ln["message"].get("thinking", "") for ln in lines) == "a b"
    assert "".join(ln["message"]["content"] for ln in lines) == "c d e"
    assert lines[-1]["done_reason"] == "length"


# --------------------------------------------------------------------------- vLLM


def test_vllm_stream_order_and_tool_fragments(vllm_server: VLLMServer) -> None:
    body = {
        "model": "Qwen/Qwen3-8B",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    r = httpx.post(f"{vllm_server.base_url}/chat/completions", json=body)
    assert r.headers["content-type"] == "text/event-stream"
    events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("reasoning", "") for d in deltas).startswith("The user wants 17 times 23")
    assert not any("reasoning_content" in d for d in deltas)
    tool_deltas = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    head, *rest = tool_deltas
    assert head["index"] == 0
    assert head["type"] == "function"
    assert head["id"].startswith("chatcmpl-tool-")
    assert head["function"] == {"name": "calculator"}
    assert len(rest) > 2
    assert all(set(t) == {"index", "function"} for t in rest)
    assert all(len(t["function"]["arguments"]) <= 5 for t in rest)
    assert json.loads("".join(t["function"]["arguments"] for t in rest)) == {"expression": "17*23"}
    finals = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finals[-1] == "tool_calls"
    assert set(finals[:-1]) == {None}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_vllm_stream_without_usage_and_answer(vllm_server: VLLMServer) -> None:
    messages = [*USER, {"role": "tool", "content": [{"type": "text", "text": "391"}], "tool_call_id": "x"}]
    r = httpx.post(
        f"{vllm_server.base_url}/chat/completions",
        json={"model": "Qwen/Qwen3-8B", "messages": messages, "stream": True},
    )
    chunks = [json.loads(e) for e in sse(r)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == CALC_ANSWER
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("style", ["reasoning_content", "both"])
def test_vllm_reasoning_styles(style: str) -> None:
    with VLLMServer([Turn(thinking="hmm ok", content="hi")], reasoning_style=style) as server:  # type: ignore[arg-type]
        body = {"model": "Qwen/Qwen3-8B", "messages": USER, "stream": True}
        chunks = [
            json.loads(e) for e in sse(httpx.post(f"{server.base_url}/chat/completions", json=body))[:-1]
        ]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    thinking = [d for d in deltas if "reasoning_content" in d]
    assert "".join(d["reasoning_content"] for d in thinking) == "hmm ok"
    if style == "both":
        assert all(d["reasoning"] == d["reasoning_content"] for d in thinking)
    else:
        assert not any("reasoning" in d for d in deltas)


def test_vllm_non_stream_tool_call(vllm_server: VLLMServer) -> None:
    r = httpx.post(
        f"{vllm_server.base_url}/chat/completions", json={"model": "Qwen/Qwen3-8B", "messages": USER}
    )
    data = r.json()
    assert data["object"] == "chat.completion"
    choice = data["choices"][0]
    message = choice["message"]
    assert message["content"] is None
    assert message["reasoning"].startswith("The user wants")
    (call,) = message["tool_calls"]
    assert call["type"] == "function"
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {"expression": "17*23"}
    assert choice["finish_reason"] == "tool_calls"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_vllm_unknown_model_and_models_list(vllm_server: VLLMServer) -> None:
    r = httpx.post(f"{vllm_server.base_url}/chat/completions", json={"model": "gpt-4", "messages": USER})
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "The model `gpt-4` does not exist.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }
    models = httpx.get(f"{vllm_server.base_url}/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["Qwen/Qwen3-8B"]


# --------------------------------------------------------------------------- calculator script


def test_calculator_script_needs_391_from_the_tool() -> None:
    first = calculator_script({"messages": USER})
    assert first.tool_calls == [("calculator", {"expression": "17*23"})]
    assert first.thinking
    wrong = calculator_script({"messages": [*USER, {"role": "tool", "content": "390"}]})
    assert "391" not in wrong.content
    assert not wrong.tool_calls
    right = calculator_script({"messages": [*USER, {"role": "tool", "content": "391"}]})
    assert right.content == CALC_ANSWER == "17 \u00d7 23 = 391."


# --------------------------------------------------------------------------- faults


def test_fail_next_then_recover(vllm_server: VLLMServer) -> None:
    vllm_server.fail_next(2, status=503)
    url, body = f"{vllm_server.base_url}/chat/completions", {"model": "Qwen/Qwen3-8B", "messages": USER}
    statuses = [httpx.post(url, json=body).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert len(vllm_server.chat_requests) == 3


def test_fail_next_ollama_500(ollama_server: OllamaServer) -> None:
    ollama_server.fail_next(1, status=500)
    r = httpx.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER})
    assert r.status_code == 500
    assert "error" in r.json()


def test_drop_next_closes_the_connection(ollama_server: OllamaServer) -> None:
    ollama_server.drop_next(1)
    with httpx.Client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER})
        ok = client.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER})
    assert ok.status_code == 200


def test_delay_causes_timeout(ollama_server: OllamaServer) -> None:
    ollama_server.delay = 0.5
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER}, timeout=0.1)


def test_chunk_delay_times_out_mid_stream(ollama_server: OllamaServer) -> None:
    ollama_server.chunk_delay = 0.3
    with (
        httpx.stream(
            "POST", f"{ollama_server.url}/api/chat", json={"model": "qwen3:8b", "messages": USER}, timeout=0.1
        ) as r,
        pytest.raises(httpx.ReadTimeout),
    ):
        r.read()


def test_stop_refuses_new_connections() -> None:
    server = OllamaServer().start()
    url = server.url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/version")


# --------------------------------------------------------------------------- network guard


def test_guard_blocks_non_loopback_immediately() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    with pytest.raises(NetworkBlockedError, match=r"10\.255\.255\.1:9"):
        sock.connect(("10.255.255.1", 9))
    sock.close()


def test_guard_blocks_name_lookups_and_httpx() -> None:
    with pytest.raises(NetworkBlockedError, match=r"example\.com"):
        socket.getaddrinfo("example.com", 80)
    with pytest.raises(NetworkBlockedError, match=r"10\.255\.255\.1"):
        httpx.get("http://10.255.255.1:9/", timeout=5)
    with pytest.raises(NetworkBlockedError, match=r"10\.255\.255\.1"):
        socket.create_connection(("10.255.255.1", 9), timeout=5)


async def test_guard_blocks_asyncio_connections() -> None:
    # anyio's happy-eyeballs connect wraps errors that are not OSError in an exception group
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises((NetworkBlockedError, BaseExceptionGroup)) as info:
            await client.get("http://10.255.255.1:9/")
    if isinstance(info.value, BaseExceptionGroup):
        assert info.group_contains(NetworkBlockedError, match=r"10\.255\.255\.1")
